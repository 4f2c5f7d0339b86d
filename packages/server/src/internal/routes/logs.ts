/** Log routes (spec §11): `/v1/log/error` and `/v1/log/audit` stream ND-JSON events until the client leaves. */
import type { ServerResponse } from 'node:http';
import type { Ctx, RouteSpec } from '../context.js';

/** ND-JSON event stream; resolves (200) when the client disconnects or the server closes. */
function logStream(ctx: Ctx, kind: 'audit' | 'error'): Promise<number> {
  const res = ctx.res as ServerResponse;
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  res.flushHeaders?.();
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(200);
    };
    res.once('close', finish);
    res.once('finish', finish);
    // A client that left before the handler ran (an in-process caller's aborted signal, a
    // connection closed while the request waited) sends no further 'close': without this
    // check the stream stayed subscribed and in flight until shutdown.
    if (res.destroyed || ctx.req.socket?.destroyed === true) {
      finish();
      return;
    }
    if (ctx.shared.closing) {
      res.end();
      return;
    }
    ctx.shared.logs.subscribe(kind, ctx.res);
  });
}

function errorLog(ctx: Ctx): Promise<number> {
  return logStream(ctx, 'error');
}

function auditLog(ctx: Ctx): Promise<number> {
  return logStream(ctx, 'audit');
}

/** The log routes, last in `/v1/api`. No timeout: a stream stays open as long as the client reads. */
export const LOG_ROUTES: readonly RouteSpec[] = [
  {
    id: 'log-error',
    key: '/v1/log/error',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 0,
    auth: 'policy',
    counted: false,
    streams: true,
    handler: errorLog,
  },
  {
    id: 'log-audit',
    key: '/v1/log/audit',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 0,
    auth: 'policy',
    counted: false,
    streams: true,
    handler: auditLog,
  },
];

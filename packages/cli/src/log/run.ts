// `kes log [--audit | --error] [--json]`: follows a log stream of the server until Ctrl-C.
import type { AuditEvent } from '@kes/client';
import { withClient } from '../client/connect.js';
import type { LogArgs } from '../commands/log.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { CliFailure } from '../internal/failure.js';
import { UsageError } from '../internal/usage-error.js';

const COLUMNS = { time: 8, status: 6, identity: 13, ip: 15 } as const;

/** The audit table's header. */
export function auditHeader(ctx: CliContext): string {
  return paint(
    ctx,
    'bold',
    `${'Time'.padEnd(COLUMNS.time)}  ${'Status'.padEnd(COLUMNS.status)}  ${'Identity'.padEnd(COLUMNS.identity)}  ${'IP'.padEnd(COLUMNS.ip)}  ${'API'.padEnd(32)}  Latency`,
  );
}

/** One audit event as a table row: local time, status (coloured), identity (shortened on a terminal), IP, path, latency. */
export function auditRow(ctx: CliContext, e: AuditEvent): string {
  const t = new Date(e.time);
  const time = Number.isNaN(t.getTime()) ? e.time : t.toTimeString().slice(0, 8);
  const code = e.response.code;
  const status = paint(ctx, code >= 500 ? 'red' : code >= 400 ? 'yellow' : 'green', String(code).padEnd(COLUMNS.status));
  const id = e.request.identity ?? '';
  const identity = ctx.stdoutIsTTY && id.length > COLUMNS.identity ? `${id.slice(0, COLUMNS.identity - 1)}…` : id;
  return `${time.padEnd(COLUMNS.time)}  ${status}  ${identity.padEnd(COLUMNS.identity)}  ${(e.request.ip ?? '').padEnd(COLUMNS.ip)}  ${e.request.path.padEnd(32)}  ${e.response.time}ms`;
}

/** Runs `kes log`. Ctrl-C ends it (exit code 0); the server closing the stream is a failure. */
export async function runLog(args: LogArgs, ctx: CliContext): Promise<void> {
  if (args.audit && args.error) throw new UsageError('--audit and --error cannot be combined: follow one log at a time');
  const kind = args.error ? 'error' : 'audit';
  const abort = new AbortController();
  const { signal } = abort;
  const offInt = ctx.onSignal('SIGINT', () => abort.abort());
  const offTerm = ctx.onSignal('SIGTERM', () => abort.abort());
  try {
    await withClient(args, ctx, (conn) =>
      conn.run(async (c) => {
        if (kind === 'audit') {
          const events = c.auditLog({ signal });
          if (!args.json && ctx.stdoutIsTTY) println(ctx.stdout, auditHeader(ctx));
          for await (const e of events) println(ctx.stdout, args.json ? JSON.stringify(e) : auditRow(ctx, e));
        } else {
          for await (const e of c.errorLog({ signal })) println(ctx.stdout, args.json ? JSON.stringify(e) : e.message);
        }
      }),
    );
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    offInt();
    offTerm();
  }
  if (!signal.aborted)
    throw new CliFailure(
      `the server closed the ${kind} log stream (it stopped or restarted): run 'kes log${kind === 'error' ? ' --error' : ''}' again to follow it`,
    );
}

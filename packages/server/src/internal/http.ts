/**
 * Low-level response writers and the capped body reader. Works with the HTTP/1.1
 * API, the HTTP/2 compatibility API and the in-process inject response alike:
 * only `writeHead`, `write`, `end`, `destroy` and the `close` event are used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { errorBody } from '@kes/core/wire';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** Writers take the union; the structural subset we use is identical across both APIs. */
type Res = ServerResponse;

const NOT_FOUND_BODY = '404 page not found\n';

/** Success reply: JSON text plus a newline (callers pass the JSON text without the newline). */
export function replyJson(res: AnyResponse, json: string): number {
  const body = `${json}\n`;
  (res as Res).writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  (res as Res).end(body);
  return 200;
}

/** Empty success reply: status only, `Content-Length: 0`, no `Content-Type`. */
export function replyEmpty(res: AnyResponse): number {
  (res as Res).writeHead(200, { 'Content-Length': '0' });
  (res as Res).end();
  return 200;
}

/** Error reply with the exact upstream bytes `{"message":"…"\n}`. */
export function replyError(res: AnyResponse, status: number, message: string, extra?: Record<string, string>): number {
  const body = errorBody(message);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  };
  if (extra) Object.assign(headers, extra);
  (res as Res).writeHead(status, headers);
  (res as Res).end(body);
  return status;
}

/** Go's default 404 for unknown paths (plain text, not JSON). */
export function replyNotFound(res: AnyResponse): number {
  (res as Res).writeHead(404, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': NOT_FOUND_BODY.length,
  });
  (res as Res).end(NOT_FOUND_BODY);
  return 404;
}

/** Go's plain 400 for an unparsable request target. */
export function replyBadRequest(res: AnyResponse): number {
  const body = '400 Bad Request';
  (res as Res).writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
  (res as Res).end(body);
  return 400;
}

/** Go's ServeMux answer to an asterisk-form target (`GET *`): 400, no body, the connection closed. */
export function replyAsteriskBadRequest(res: AnyResponse): number {
  const headers: Record<string, string> = { 'Content-Length': '0' };
  // HTTP/1 only: `Connection` is a forbidden header in HTTP/2.
  if (!('stream' in res)) headers.Connection = 'close';
  (res as Res).writeHead(400, headers);
  (res as Res).end();
  return 400;
}

/** 301 as `net/http.ServeMux` sends it (HTML body for GET/HEAD only). */
export function replyRedirect(res: AnyResponse, method: string, location: string): number {
  const headers: Record<string, string | number> = { Location: location };
  let body = '';
  if (method === 'GET' || method === 'HEAD') {
    headers['Content-Type'] = 'text/html; charset=utf-8';
    body = `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n`;
  }
  headers['Content-Length'] = Buffer.byteLength(body);
  (res as Res).writeHead(301, headers);
  (res as Res).end(method === 'HEAD' ? undefined : body);
  return 301;
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Marker for "the body cannot be a request" (its first byte already says so) or "the stream failed". */
export const BODY_REJECTED = Symbol('body-rejected');

/** JSON whitespace (Go: space, tab, LF, CR). */
function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Reads the request body as upstream's capped reader does (spec §2, §3.1): at most `limit`
 * bytes are kept. A longer body, declared or streamed, is cut at the limit and the rest is
 * not read (the connection then closes after the reply, see `closeIfBodyUnread`); Go's JSON
 * decoder reads only the first value, so a value that ends within the limit still decodes.
 *
 * `accepts`, when given, is asked about the first byte that is not JSON whitespace; `false`
 * ends the read at once with `BODY_REJECTED`. Threat: a client that declares a huge length
 * and trickles bytes no request can start with would otherwise hold the connection until
 * the limit or a timeout. A failing stream also resolves to `BODY_REJECTED`.
 */
export function readBody(req: AnyRequest, limit: number, accepts?: (firstByte: number) => boolean): Promise<Buffer | typeof BODY_REJECTED> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) === 0) return Promise.resolve(EMPTY);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let started = accepts === undefined;
    let done = false;
    // After `finish` the listeners stay attached (the request is done with; removing four
    // listeners per request is measurable) and ignore further events.
    const finish = (v: Buffer | typeof BODY_REJECTED): void => {
      if (done) return;
      done = true;
      resolve(v);
    };
    const join = (): Buffer => (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    const stop = (v: Buffer | typeof BODY_REJECTED): void => {
      // Drop the rest of the stream instead of holding it; the reply closes the connection.
      req.resume();
      finish(v);
    };
    const onData = (chunk: Buffer | string): void => {
      if (done) return;
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!started) {
        for (let i = 0; i < b.length; i++) {
          const c = b[i] as number;
          if (isJsonSpace(c)) continue;
          started = true;
          if (!(accepts as (c: number) => boolean)(c)) {
            stop(BODY_REJECTED);
            return;
          }
          break;
        }
      }
      const room = limit - total;
      if (b.length > room) {
        // Past the limit: the decoder sees the first `limit` bytes only.
        if (room > 0) chunks.push(b.subarray(0, room));
        total = limit;
        stop(join());
        return;
      }
      chunks.push(b);
      total += b.length;
    };
    const onEnd = (): void => finish(join());
    const onError = (): void => finish(BODY_REJECTED);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

const EMPTY = Buffer.alloc(0);

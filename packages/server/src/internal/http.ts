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

/** Marker for "the body exceeded the route limit or the stream failed". */
export const BODY_TOO_LARGE = Symbol('body-too-large');

/**
 * Reads the request body, never buffering more than `limit` bytes. Resolves to the
 * bytes, or to `BODY_TOO_LARGE` when the client sends more than `limit` (or the
 * stream errors) — callers turn that into the route's body-decode error, like the
 * capped reader upstream.
 */
export function readBody(req: AnyRequest, limit: number): Promise<Buffer | typeof BODY_TOO_LARGE> {
  // Declared length above the limit: fail fast, do not read at all.
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (n > limit) return Promise.resolve(BODY_TOO_LARGE);
    if (n === 0) return Promise.resolve(EMPTY);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    // After `finish` the listeners stay attached (the request is done with; removing four
    // listeners per request is measurable) and ignore further events.
    const finish = (v: Buffer | typeof BODY_TOO_LARGE): void => {
      if (done) return;
      done = true;
      resolve(v);
    };
    const onData = (chunk: Buffer | string): void => {
      if (done) return;
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += b.length;
      if (total > limit) {
        // Stop buffering; drop the rest of the stream instead of holding it.
        chunks.length = 0;
        req.resume();
        finish(BODY_TOO_LARGE);
        return;
      }
      chunks.push(b);
    };
    const onEnd = (): void => finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    const onError = (): void => finish(BODY_TOO_LARGE);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

const EMPTY = Buffer.alloc(0);

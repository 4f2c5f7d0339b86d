/** What the list routes (keys, policies, identities) share: the prefix of a pattern, JSON arrays of names. */
import type { ServerResponse } from 'node:http';
import { validatePattern } from '@kes/core';
import { goJsonString } from '@kes/core/wire';
import { replyJson } from '../http.js';
import type { AnyResponse } from '../http.js';

/**
 * Most names one key listing returns; `continue_at` then names the first one left out
 * (spec §4.7). Upstream pages at 1,024. Larger here because kms-go (MinIO) feeds
 * `continue_at` back as the next *prefix*, so a client sees at most one page plus the
 * names starting with `continue_at`: a larger page loses nothing below this many keys.
 * Bounded, so one request never builds an unbounded reply.
 */
export const KEY_LIST_PAGE_SIZE = 10_000;

/** Replies up to about this many bytes are sent in one piece with a Content-Length (as Go does for small bodies). */
const STREAM_CHUNK_BYTES = 64 * 1024;

/**
 * The list prefix of a listing pattern: `''`/`*` = all, trailing `*` stripped.
 * @throws ERR_KES_INVALID_PATTERN
 */
export function listPrefix(resource: string): string {
  validatePattern(resource);
  return resource.endsWith('*') ? resource.slice(0, -1) : resource;
}

/** Names as a JSON array with Go's string escaping. */
export function jsonNames(names: readonly string[]): string {
  let s = '[';
  for (let i = 0; i < names.length; i++) s += (i ? ',' : '') + goJsonString(names[i] as string);
  return `${s}]`;
}

/** Resolves once `res` can take more data (or is gone). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * `{"names":[…],"continue_at":"…"}` (`continue_at` omitted when empty). A reply larger than
 * one chunk is streamed (chunked, no Content-Length, like Go for large bodies) in pieces of
 * about 64 KB, waiting for the client to take each one.
 */
export async function replyNames(response: AnyResponse, names: readonly string[], continueAt: string): Promise<number> {
  const tail = continueAt === '' ? '}' : `,"continue_at":${goJsonString(continueAt)}}`;
  let chunk = '{"names":[';
  let i = 0;
  for (; i < names.length && chunk.length < STREAM_CHUNK_BYTES; i++) chunk += (i ? ',' : '') + goJsonString(names[i] as string);
  if (i === names.length) return replyJson(response, `${chunk}]${tail}`);

  const res = response as ServerResponse;
  let gone = false; // client disconnected or route timeout (the HTTP/2 response has no `destroyed`)
  res.once('close', () => {
    gone = true;
  });
  res.writeHead(200, { 'Content-Type': 'application/json' });
  for (;;) {
    if (gone) return 200;
    if (!res.write(chunk)) await drained(res);
    if (i === names.length) break;
    chunk = '';
    for (; i < names.length && chunk.length < STREAM_CHUNK_BYTES; i++) chunk += `,${goJsonString(names[i] as string)}`;
  }
  if (!gone) res.end(`]${tail}\n`);
  return 200;
}

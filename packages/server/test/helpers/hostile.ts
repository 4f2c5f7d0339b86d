// Generators of hostile requests (fast-check arbitraries) and the check that a reply is one
// the server documents. Shared by the in-process and the real-listener fuzz suites.
// Test-only code.
import fc from 'fast-check';
import { ERROR_CATALOGUE } from '@kes/core';
import type { KesErrorCode } from '@kes/core';
import { CLIENT_CODES } from '../../src/internal/client-errors.js';
import { API_ROUTE_KEYS } from '../../src/internal/routes/table.js';

/** One generated request, before it is sent in-process or written to a socket. */
export interface HostileRequest {
  readonly method: string;
  /** The request target as sent (may hold escapes, `..`, raw non-ASCII, a query). */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  /** A `Content-Length` that differs from the body's length (a lying client), or undefined. */
  readonly lyingLength: string | undefined;
}

/** 10 KB of name characters: the longest names the issue asks for. */
const LONG = 'a'.repeat(10_240);

/** Path segments that try to be path syntax, separators, or to look like a route name. */
const SEGMENT_TRICKS: readonly string[] = [
  '..',
  '.',
  '',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e.',
  '%2f',
  '%2F',
  '..%2f',
  '%2e%2e%2f',
  '%5c',
  '..%5c',
  '%00',
  '%',
  '%zz',
  '%e2%80%a8',
  '%c0%ae%c0%ae', // overlong UTF-8 for ".."
  '%c0%af', // overlong UTF-8 for "/"
  '%ef%bc%8f', // fullwidth solidus, escaped
  '%ff',
  '*',
  '%2a',
  ';',
  '%3b',
  '%3f',
  '%23',
  '%20',
  '\u2024\u2024', // one-dot leaders
  '\uff0e\uff0e', // fullwidth full stops
  '\u2215', // division slash
  '\uff0f', // fullwidth solidus
  '\u2044', // fraction slash
  'ｄelete', // fullwidth d
  'd\u0435lete', // Cyrillic e
  'DELETE',
  'Delete',
  'k',
  'my-key',
  'secret',
  LONG,
  `${LONG}%2f..`,
];

/** Route keys in case variants and without their slash. */
function routePrefix(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...API_ROUTE_KEYS) },
    { weight: 1, arbitrary: fc.constantFrom(...API_ROUTE_KEYS).map((k) => k.toUpperCase()) },
    { weight: 1, arbitrary: fc.constantFrom(...API_ROUTE_KEYS).map((k) => k.replace(/\/$/, '')) },
    { weight: 1, arbitrary: fc.constantFrom(...API_ROUTE_KEYS).map((k) => k.replaceAll('/', '//')) },
    { weight: 1, arbitrary: fc.constantFrom(...API_ROUTE_KEYS).map((k) => k.replace('/v1/', '/v1/./')) },
    { weight: 1, arbitrary: fc.constantFrom(...API_ROUTE_KEYS).map((k) => k.replaceAll('/', '%2f')) },
    { weight: 1, arbitrary: fc.constantFrom('/', '//', '', '*', '/v1', '/v2/key/create/', 'https://kes.example/v1/key/list/', '/.well-known/x') },
  );
}

/** A segment: a trick, a random string of any unicode, or random ASCII. */
const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SEGMENT_TRICKS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/) },
);

const separator = fc.constantFrom('/', '/', '/', '//', '%2f', '%2F', '\\', '/./', '/../');

/**
 * Request targets: a route key (or a look-alike) followed by segments with tricks between
 * them, an optional trailing slash and an optional query. `ascii` keeps the target printable
 * ASCII (escaping anything else), as a socket request line needs.
 */
export function pathArb(ascii: boolean): fc.Arbitrary<string> {
  return fc
    .tuple(
      routePrefix(),
      fc.array(fc.tuple(segment, separator), { maxLength: 4 }),
      fc.constantFrom('', '', '', '/', '//', '?', '?x=1', '?/v1/key/generate/k', '#frag', '%00', '/..'),
    )
    .map(([prefix, parts, tail]) => {
      let p = prefix;
      parts.forEach(([seg, sep], i) => {
        p += i === 0 ? seg : sep + seg;
      });
      p += tail;
      return ascii ? toRequestLine(p) : p;
    });
}

/** Escapes what cannot stand in an HTTP/1.1 request line (controls, space, non-ASCII). */
export function toRequestLine(target: string): string {
  return target.replace(/[^\x21-\x7e]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

export const METHODS: readonly string[] = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'get', 'Put'];

const methodArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...METHODS) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,12}$/) },
);

const FIELDS = ['plaintext', 'ciphertext', 'context', 'message', 'key', 'cipher', 'version', 'bytes', 'Plaintext', 'PLAINTEXT', 'plaın', '__proto__'];

/** Base64 that is not: bad characters, bad padding, URL alphabet, whitespace. */
const badBase64 = fc.constantFrom(
  '!!!!',
  'YQ',
  'YQ=',
  'YQ===',
  'Y Q==',
  'YQ==\n',
  '-_-_',
  'YQ==YQ==',
  '=',
  '====',
  'AAA',
  '\u00e9\u00e9==',
  'YQ%3D%3D',
);
const goodBase64 = fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b).toString('base64'));

/** Values of every JSON type, and byte fields in every wrong shape. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  goodBase64,
  badBase64,
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: -300, max: 300 }), { maxLength: 40 }),
  fc.array(fc.double(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

// Built once: large bodies are costly to generate, and their size is what matters.
const HUGE_B64 = Buffer.alloc(700_000, 7).toString('base64'); // ~933 KB: under the 1 MB limit, decodes
const OVER_B64 = 'A'.repeat(1_100_000); // over the limit: cut at 1 MB, never completes
const HUGE_BODIES: readonly string[] = [
  `{"plaintext":"${HUGE_B64}"}`,
  `{"plaintext":"${OVER_B64}"}`,
  `{"ciphertext":"${HUGE_B64}"}`,
  `{"message":"${HUGE_B64}","context":"${'!'.repeat(50_000)}"}`,
  `{"plaintext":${'['.repeat(5_000)}`,
  `{"key":"${HUGE_B64}","cipher":"AES256"}`,
  `${' '.repeat(1_000_001)}{}`,
];

/** Request bodies: valid-looking objects with wrong types, random JSON, broken text, huge bodies. */
export function bodyArb(extra: readonly string[] = []): fc.Arbitrary<string | undefined> {
  const object = fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 4 }).map((o) => JSON.stringify(o));
  // Weights: huge bodies (about 1 MB each, costly to serve) are about 1 in 70.
  return fc.oneof(
    { weight: 9, arbitrary: fc.constant(undefined) },
    { weight: 24, arbitrary: object },
    { weight: 6, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 6, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    // A valid object cut short, or followed by garbage.
    { weight: 6, arbitrary: fc.tuple(object, fc.nat()).map(([o, n]) => o.slice(0, n % (o.length + 1))) },
    { weight: 3, arbitrary: fc.tuple(object, fc.string({ maxLength: 8 })).map(([o, s]) => o + s) },
    // Duplicate and case-folded keys, escapes, a BOM, leading whitespace.
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '{"plaintext":"YQ==","plaintext":1}',
        '{"plaintext":"YQ==","PlainText":"!!"}',
        '{"plaintext":"\\u0059Q=="}',
        '{"plaintext":"\\ud800"}',
        '\ufeff{"plaintext":"YQ=="}',
        ' \t\r\n{"plaintext":"YQ=="}',
        'null',
        '{}',
        '{"context":{}}',
        '{"plaintext":"YQ=="}{"plaintext":"YQ=="}',
      ),
    },
    ...(extra.length > 0 ? [{ weight: 6, arbitrary: fc.constantFrom(...extra) }] : []),
    { weight: 1, arbitrary: fc.constantFrom(...HUGE_BODIES) },
  );
}

/** Extra headers: random, a huge one, many of them, odd transfer encodings. */
function headersArb(): fc.Arbitrary<Record<string, string>> {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant<Record<string, string>>({}) },
    { weight: 3, arbitrary: fc.dictionary(name, fc.stringMatching(/^[\x20-\x7e]{0,40}$/), { maxKeys: 5 }) },
    { weight: 1, arbitrary: fc.constant<Record<string, string>>({ 'X-Huge': 'h'.repeat(12_000) }) },
    { weight: 1, arbitrary: fc.constant(Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`X-Many-${i}`, String(i)]))) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Record<string, string>>(
        { 'Content-Type': 'text/plain' },
        { Expect: '100-continue' },
        { 'X-Tls-Client-Cert': '-----BEGIN%20CERTIFICATE-----' },
        { 'X-Forwarded-For': '1.2.3.4' },
        { 'X-Original-URL': '/v1/key/delete/k' },
        { Host: '' },
      ),
    },
  );
}

/** A lying `Content-Length`: smaller, larger, zero, negative, not a number. */
const lyingArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('0', '1', '5', '-1', 'abc', '999999999', '1e3', ' 12', '0x10') },
);

/** Whole requests for the in-process handler (`ascii: false`) or a socket (`ascii: true`). */
export function requestArb(options: { ascii: boolean; bodies?: readonly string[] }): fc.Arbitrary<HostileRequest> {
  return fc.record({
    method: methodArb,
    path: pathArb(options.ascii),
    headers: headersArb(),
    body: bodyArb(options.bodies),
    lyingLength: lyingArb,
  });
}

/** A JSON error reply's message, matched against the catalogue's client-visible 4xx messages. */
const DOCUMENTED_4XX: readonly { status: number; pattern: RegExp; code: KesErrorCode }[] = [...CLIENT_CODES].flatMap((code) => {
  const entry = ERROR_CATALOGUE[code] as { status: number; message: string | ((...a: string[]) => string) };
  if (entry.status >= 500) return [];
  const text = typeof entry.message === 'string' ? entry.message : entry.message('\u0001', '\u0001');
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('\u0001', '[\\s\\S]*');
  return [{ status: entry.status, pattern: new RegExp(`^${escaped}$`), code }];
});

/** The reply of a request, as either transport reports it. */
export interface Reply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/**
 * Why `reply` is not a documented answer to a client's mistake, or undefined if it is:
 * 2xx, a 301 redirect, Go's plain 400 and 404, a catalogued 4xx JSON error with the status
 * of its code, and (from Node's HTTP parser, real sockets only) 400, 408 and 431.
 */
export function undocumented(reply: Reply, options: { head?: boolean; transport?: boolean } = {}): string | undefined {
  const { status, body } = reply;
  if (status >= 200 && status < 300) return undefined;
  if (status === 301) return undefined;
  if (status >= 500) return `server error ${status}: ${body.slice(0, 200)}`;
  if (options.head) return status >= 400 && status < 500 ? undefined : `status ${status}`;
  if (status === 404 && body === '404 page not found\n') return undefined;
  if (status === 400 && (body === '400 Bad Request' || body === '')) return undefined;
  if (options.transport && (status === 400 || status === 408 || status === 431) && !reply.contentType?.startsWith('application/json')) {
    return undefined;
  }
  if (reply.contentType !== 'application/json') return `status ${status} with content type ${reply.contentType}: ${body.slice(0, 200)}`;
  let message: unknown;
  try {
    message = (JSON.parse(body) as { message?: unknown }).message;
  } catch {
    return `status ${status} with a body that is not JSON: ${body.slice(0, 200)}`;
  }
  if (typeof message !== 'string' || !body.endsWith('\n}')) return `status ${status}: not an error body: ${body.slice(0, 200)}`;
  const hit = DOCUMENTED_4XX.find((d) => d.pattern.test(message));
  if (hit === undefined) return `status ${status}: message not in the catalogue: ${message.slice(0, 200)}`;
  if (hit.status !== status) return `status ${status} for '${hit.code}' (catalogued as ${hit.status})`;
  return undefined;
}

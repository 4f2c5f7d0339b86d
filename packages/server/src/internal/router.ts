/**
 * The precomputed router (spec §1.1) over the route table (`routes/table.ts`), and
 * Go's path cleaning and unescaping as `net/http.ServeMux` applies them.
 *
 * Overrides from the `api:` config section are applied once when the state is
 * built, never per request; a lookup is one or two map hits.
 */
import { KesError } from '@kes/core';
import type { RouteOverride } from '../options.js';
import type { Route } from './context.js';
import { ROUTE_SPECS } from './routes/table.js';

const NOT_FOUND = Object.freeze({ kind: 'not-found' }) as RouteMatch;

/** Outcome of a route lookup. */
export type RouteMatch =
  | { readonly kind: 'route'; readonly route: Route; readonly resource: string }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'not-found' };

/** Exact and subtree route maps; lookups are O(1) map hits (no scanning). */
export interface Router {
  readonly routes: readonly Route[];
  /**
   * True if any `api:` entry has `skip_auth` (upstream: on any route, `/version` included,
   * it relaxes the handshake's certificate requirement).
   */
  readonly anySkipAuth: boolean;
  /**
   * Lookup of a cleaned, still *escaped* path, as Go's ServeMux matches: segment by segment,
   * each segment unescaped on its own, so `%2F` is part of a segment and never a separator.
   * The resource is the unescaped rest after the route key.
   */
  match(escapedPath: string): RouteMatch;
}

/**
 * Builds the router from the static table and the `api:` overrides.
 *
 * @throws ERR_KES_INVALID_ARGUMENT for a negative timeout override.
 */
export function createRouter(overrides: Readonly<Record<string, RouteOverride>> | undefined): Router {
  const routes: Route[] = [];
  const exact = new Map<string, Route>();
  const subtree = new Map<string, Route>();
  let anySkipAuth = false;
  for (const spec of ROUTE_SPECS) {
    // Own-property lookup only: a key like `__proto__` in the config must not resolve to Object.prototype.
    const o = overrides && Object.hasOwn(overrides, spec.key) ? overrides[spec.key] : undefined;
    let timeoutMs = spec.timeoutMs;
    let auth = spec.auth;
    if (o) {
      if (o.timeoutMs !== undefined) {
        if (!Number.isFinite(o.timeoutMs) || o.timeoutMs < 0) {
          throw new KesError('ERR_KES_INVALID_ARGUMENT', [`api: timeout of '${spec.key}' must not be negative`]);
        }
        if (o.timeoutMs > 0) timeoutMs = o.timeoutMs;
      }
      if (o.skipAuth === true) {
        // Any skip_auth entry relaxes the handshake, even on a route without authentication.
        anySkipAuth = true;
        if (auth === 'policy') auth = 'identify';
      }
    }
    const route: Route = {
      ...spec,
      timeoutMs,
      auth,
      acceptHeader: spec.method,
      apiEntry: `{"method":"${spec.method}","path":"${spec.key}","max_body":${spec.maxBody},"timeout":${Math.trunc(timeoutMs / 1000)}}`,
    };
    routes.push(route);
    if (spec.key.endsWith('/')) subtree.set(spec.key, route);
    else exact.set(spec.key, route);
  }

  /** Lookup of a path without escapes (the common case): one or two map hits. */
  const matchPlain = (path: string): RouteMatch => {
    const r = exact.get(path);
    if (r) return { kind: 'route', route: r, resource: '' };
    // Subtree routes have the shape /v1/<group>/<verb>/ (upstream's) or
    // /v1/<group>/<noun>/<verb>/ (the key-version routes): cut after the third segment,
    // then after the fourth.
    const i0 = path.indexOf('/', 1);
    if (i0 > 0) {
      const i1 = path.indexOf('/', i0 + 1);
      if (i1 > 0) {
        const i2 = path.indexOf('/', i1 + 1);
        if (i2 < 0) return subtree.has(`${path}/`) ? { kind: 'redirect', location: `${path}/` } : NOT_FOUND;
        const s = subtree.get(path.slice(0, i2 + 1));
        if (s) return { kind: 'route', route: s, resource: path.slice(i2 + 1) };
        const i3 = path.indexOf('/', i2 + 1);
        if (i3 < 0) return subtree.has(`${path}/`) ? { kind: 'redirect', location: `${path}/` } : NOT_FOUND;
        const s4 = subtree.get(path.slice(0, i3 + 1));
        if (s4) return { kind: 'route', route: s4, resource: path.slice(i3 + 1) };
      }
    }
    return NOT_FOUND;
  };

  return {
    routes,
    anySkipAuth,
    match(escapedPath: string): RouteMatch {
      if (!escapedPath.includes('%')) return matchPlain(escapedPath);
      // Go compares each segment unescaped on its own: a segment holding an escaped `/`
      // equals no literal route segment (`/v1/key%2Fdescribe/k` is a 404).
      const segments = escapedPath.split('/').map((seg) => (seg.includes('%') ? (unescapePath(seg) ?? seg) : seg));
      if (segments.every((seg) => !seg.includes('/'))) {
        const r = exact.get(segments.join('/'));
        if (r) return { kind: 'route', route: r, resource: '' };
      }
      // Three-segment keys first (upstream's routes), then four (the key-version routes).
      for (const depth of [4, 5]) {
        if (segments.length < depth || segments.slice(1, depth).some((seg) => seg.includes('/'))) return NOT_FOUND;
        const key = `${segments.slice(0, depth).join('/')}/`;
        if (segments.length === depth) {
          if (subtree.has(key)) return { kind: 'redirect', location: key };
          continue;
        }
        const s = subtree.get(key);
        // The resource is the unescaped rest (an escape never spans a `/`).
        if (s) return { kind: 'route', route: s, resource: segments.slice(depth).join('/') };
      }
      return NOT_FOUND;
    },
  };
}

/**
 * Go `path.Clean` for a URL path, keeping a trailing slash (what `net/http.ServeMux`
 * redirects to). Returns the input unchanged when it is already clean.
 */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = `/${p}`;
  if (!p.includes('//') && !p.includes('/.')) return p;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let cleaned = `/${out.join('/')}`;
  // ServeMux keeps the trailing slash of the original path.
  if (p.endsWith('/') && cleaned !== '/') cleaned += '/';
  return cleaned;
}

const MALFORMED_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/** `scheme://authority` of an absolute-form request target (RFC 9112 §3.2.2). */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/;

/**
 * The path and query of a request target. An absolute-form target (`GET https://h/v1/ready`,
 * as sent to proxies) is served by its path, as Go's `url.ParseRequestURI` reads it; the
 * origin form (`/v1/ready`) and `*` are returned as they are.
 */
export function requestPath(target: string): string {
  if (target.charCodeAt(0) === 0x2f /* / */) return target;
  const m = ABSOLUTE_FORM.exec(target);
  return m === null ? target : target.slice(m[0].length);
}

const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A path for logs and audit records: bytes that were not UTF-8 (lone surrogates) shown as U+FFFD. */
export function printable(path: string): string {
  return path.replace(LONE_SURROGATES, '\ufffd');
}

/**
 * Go `url.PathUnescape` for a request path: `undefined` for a malformed escape
 * (`%zz`, a trailing `%`). Escaped bytes that are not valid UTF-8 are never an error:
 * Go keeps the raw bytes, so each such byte becomes one lone surrogate (see
 * {@link goStringOfBytes}), which Go's JSON encoding (`goJsonString`) writes as `\ufffd`.
 */
export function unescapePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  if (MALFORMED_ESCAPE.test(raw)) return undefined;
  const parts: Buffer[] = [];
  let i = 0;
  while (i < raw.length) {
    const j = raw.indexOf('%', i);
    if (j < 0) {
      parts.push(Buffer.from(raw.slice(i), 'utf8'));
      break;
    }
    if (j > i) parts.push(Buffer.from(raw.slice(i, j), 'utf8'));
    const bytes: number[] = [];
    let k = j;
    while (raw.charCodeAt(k) === 0x25 /* % */) {
      bytes.push(Number.parseInt(raw.slice(k + 1, k + 3), 16));
      k += 3;
    }
    parts.push(Buffer.from(bytes));
    i = k;
  }
  return goStringOfBytes(Buffer.concat(parts));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as a Go string holds them: valid UTF-8 as text, and every byte `b` that Go's
 * `utf8.DecodeRune` cannot place in a valid sequence (it reads such a byte as one
 * `RuneError` of width 1) as the lone surrogate U+DC00+`b`. Unlike U+FFFD, that keeps
 * "invalid byte" (Go's JSON: `\ufffd`) apart from a real U+FFFD (Go's JSON: the character).
 */
export function goStringOfBytes(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Not UTF-8: decode by hand below.
  }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + (bytes[i] as number));
      i++;
    } else {
      out += strictUtf8.decode(bytes.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence at `i` (RFC 3629, as Go's `utf8.DecodeRune`), 0 if there is none. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && (b[i + k] as number) >= lo && (b[i + k] as number) <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf; // no surrogates
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf; // not above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** A `Location` value: the escaped path as sent, with anything outside visible ASCII percent-encoded. */
export function locationOf(escapedPath: string): string {
  return /^[\x21-\x7e]*$/.test(escapedPath)
    ? escapedPath
    : escapedPath.replace(/[^\x21-\x7e]+/g, (run) =>
        [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
      );
}

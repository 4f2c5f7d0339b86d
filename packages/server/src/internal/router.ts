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

/** Outcome of a route lookup. */
export type RouteMatch =
  | { readonly kind: 'route'; readonly route: Route; readonly resource: string }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'not-found' };

/** Exact and subtree route maps; lookups are O(1) map hits (no scanning). */
export interface Router {
  readonly routes: readonly Route[];
  /** True if any route was switched to identify-only by `skip_auth`. */
  readonly anySkipAuth: boolean;
  /** Lookup of a cleaned, unescaped path. */
  match(path: string): RouteMatch;
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
      if (o.skipAuth === true && auth === 'policy') {
        auth = 'identify';
        anySkipAuth = true;
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

  return {
    routes,
    anySkipAuth,
    match(path: string): RouteMatch {
      const r = exact.get(path);
      if (r) return { kind: 'route', route: r, resource: '' };
      // Every subtree route has the shape /v1/<group>/<verb>/ — cut after the third segment.
      if (path.startsWith('/v1/')) {
        const i1 = path.indexOf('/', 4);
        if (i1 > 0) {
          const i2 = path.indexOf('/', i1 + 1);
          if (i2 > 0) {
            const s = subtree.get(path.slice(0, i2 + 1));
            if (s) return { kind: 'route', route: s, resource: path.slice(i2 + 1) };
          } else if (subtree.has(`${path}/`)) {
            return { kind: 'redirect', location: `${path}/` };
          }
        }
      }
      return { kind: 'not-found' };
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

/**
 * Go `url.PathUnescape` for a request path: `undefined` for a malformed escape
 * (`%zz`, a trailing `%`). Escaped bytes that are not valid UTF-8 become U+FFFD
 * (Go keeps the raw bytes; its JSON encoder then writes U+FFFD), never an error.
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
  return Buffer.concat(parts).toString('utf8');
}

/** A `Location` value: the escaped path as sent, with anything outside visible ASCII percent-encoded. */
export function locationOf(escapedPath: string): string {
  return /^[\x21-\x7e]*$/.test(escapedPath)
    ? escapedPath
    : escapedPath.replace(/[^\x21-\x7e]+/g, (run) =>
        [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
      );
}

/** Endpoint parsing and health: which server a call goes to first, and which ones to avoid for a while. */
import { KesError } from '@kes/core';

/** One server, parsed once. */
export interface Endpoint {
  /** `https://host:port[/base]`, as shown in messages. */
  readonly url: string;
  /** Host name or IP (IPv6 without brackets), for `https.request`. */
  readonly hostname: string;
  readonly port: number;
  /** Path prefix without trailing slash (`''` for most servers). */
  readonly basePath: string;
}

const invalid = (why: string): KesError => new KesError('ERR_KES_INVALID_ARGUMENT', [why]);

/**
 * Parses `https://host:port[/base]` or `host:port` (https is implied). A string may list
 * several endpoints separated by commas, as `KES_SERVER` does.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` for an empty list, a non-https URL, or a URL
 *   with credentials, query or fragment
 */
export function parseEndpoints(endpoints: string | readonly string[]): Endpoint[] {
  const list = (typeof endpoints === 'string' ? endpoints.split(',') : [...endpoints]).map((e) => {
    if (typeof e !== 'string') throw invalid('endpoints must be strings');
    return e.trim();
  });
  const out = list.filter((e) => e !== '').map(parseEndpoint);
  if (out.length === 0) throw invalid('endpoints must name at least one server, e.g. https://127.0.0.1:7373');
  return out;
}

function parseEndpoint(text: string): Endpoint {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(`endpoint '${text}' is not a valid URL or host:port`);
  }
  if (url.protocol !== 'https:') throw invalid(`endpoint '${text}' must use https: KES servers speak HTTPS only`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw invalid(`endpoint '${text}' must not carry credentials, a query or a fragment`);
  }
  const port = url.port === '' ? 443 : Number(url.port);
  const basePath = url.pathname.replace(/\/+$/, '');
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url: `https://${url.host}${basePath}`, hostname, port, basePath };
}

/** How long an endpoint is avoided after a 5xx (other than 501) or a connection failure, as KES clients do. */
export const UNHEALTHY_MS = 30_000;

/**
 * Tracks endpoints that recently failed and orders them for a call: healthy ones first,
 * starting at a random one (to spread load), then the ones marked bad.
 */
export class EndpointPool {
  readonly endpoints: readonly Endpoint[];
  readonly #badUntil: number[];

  constructor(endpoints: readonly Endpoint[]) {
    this.endpoints = endpoints;
    this.#badUntil = endpoints.map(() => 0);
  }

  /** The order in which a call tries the endpoints. */
  order(now = Date.now()): Endpoint[] {
    const n = this.endpoints.length;
    const start = Math.floor(Math.random() * n);
    const rotated = Array.from({ length: n }, (_, i) => (start + i) % n);
    const healthy = rotated.filter((i) => (this.#badUntil[i] as number) <= now);
    const bad = rotated.filter((i) => (this.#badUntil[i] as number) > now);
    return [...healthy, ...bad].map((i) => this.endpoints[i] as Endpoint);
  }

  /** Avoid `endpoint` for `UNHEALTHY_MS`. */
  markBad(endpoint: Endpoint, now = Date.now()): void {
    const i = this.endpoints.indexOf(endpoint);
    if (i >= 0) this.#badUntil[i] = now + UNHEALTHY_MS;
  }

  /** True while `endpoint` is marked bad. */
  isBad(endpoint: Endpoint, now = Date.now()): boolean {
    const i = this.endpoints.indexOf(endpoint);
    return i >= 0 && (this.#badUntil[i] as number) > now;
  }
}

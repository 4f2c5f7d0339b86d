// Top-level fields: `version`, the listen `address`, `workers` and the refused kes v0.7 `kms` section.
import { isIP } from 'node:net';
import { splitHostPort } from '@kes/server';
import type { CheckContext } from '../values.js';

/**
 * Checks an `[ip]:port` listen address.
 *
 * @returns the problem, or `undefined` for a valid address.
 * @example
 * checkAddress(':7373'); // undefined
 * checkAddress('example.com:7373'); // "host 'example.com' must be an IP address or empty (…)"
 */
export function checkAddress(address: string): string | undefined {
  const { host, port } = splitHostPort(address);
  if (port === undefined || Number.isNaN(port)) return `'${address}' is not a listen address of the form [ip]:port (e.g. 0.0.0.0:7373 or :7373)`;
  if (host !== '' && isIP(host) === 0) return `host '${host}' must be an IP address or empty (host names are not allowed)`;
  if (port > 65535) return `port ${port} is out of range (0–65535)`;
  return undefined;
}

/** `kms`, `version` and `address`; returns the listen address (trimmed), if the file sets one. */
export function checkDocument(ctx: CheckContext): string | undefined {
  const { doc, problems } = ctx;
  if ('kms' in doc) {
    problems.push({ path: ['kms'], message: "the kes v0.7 'kms' wrapping section is not supported: migrate the keys with kes v0.7 first" });
  }
  if (doc.version !== undefined && doc.version !== 'v1' && !ctx.broken.has('version')) {
    problems.push({ path: ['version'], message: `unsupported config version '${String(doc.version)}': only 'v1' is supported` });
  }
  if (typeof doc.address !== 'string' || doc.address.trim() === '') return undefined;
  const address = doc.address.trim();
  const why = checkAddress(address);
  if (why) problems.push({ path: ['address'], message: why });
  return address;
}

/** Most worker processes `workers:` may ask for (a typo such as `2000` is an error, not 2000 processes). */
export const MAX_WORKERS = 256;

/**
 * Checks a worker count (`workers:` or `--workers`): an integer from 1 to {@link MAX_WORKERS}.
 *
 * @returns the problem, or `undefined` for a valid count.
 * @example
 * checkWorkerCount(2); // undefined
 * checkWorkerCount(0); // 'must be an integer from 1 to 256 (1 = a single process)'
 */
export function checkWorkerCount(n: number): string | undefined {
  return Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS ? undefined : `must be an integer from 1 to ${MAX_WORKERS} (1 = a single process)`;
}

/** `workers`: how many server processes `kes server` runs (absent: one per available CPU). */
export function checkWorkers(ctx: CheckContext): number | undefined {
  const { doc, problems } = ctx;
  if (typeof doc.workers !== 'string' || ctx.broken.has('workers')) return undefined;
  const text = doc.workers.trim();
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  const why = checkWorkerCount(n);
  if (why) {
    problems.push({ path: ['workers'], message: `'${text}' ${why}` });
    return undefined;
  }
  return n;
}

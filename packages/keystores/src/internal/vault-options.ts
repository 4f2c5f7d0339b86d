// Synchronous validation of VaultKeyStoreOptions into a resolved configuration.
// Messages name the option, never its value (tokens, secret IDs and JWTs are secrets).
import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KesError } from '@kes/core';
import type { VaultTlsMaterial } from './vault-http.js';
import type { VaultLogin } from './vault-auth.js';
import type { VaultKeyStoreOptions } from '../vault.js';

/** The options the validator takes: the public `VaultKeyStoreOptions`, so the two cannot drift. */
export type RawVaultOptions = VaultKeyStoreOptions;

/** The validated configuration. Paths are cleaned and percent-encoded, without leading/trailing `/`. */
export interface ResolvedVaultOptions {
  readonly endpoint: URL;
  readonly engine: string;
  readonly version: 'v1' | 'v2';
  readonly namespace: string;
  readonly prefix: string;
  /**
   * Where version records live: `<engine>/<prefix>/<name>/<id>` (K/V v2 with `data/` or
   * `metadata/` after the engine); undefined when there is no safe place (empty key
   * prefix, no `versionsPrefix`, no other `versionsEngine`).
   */
  readonly versions: { readonly engine: string; readonly prefix: string } | undefined;
  readonly login: VaultLogin;
  readonly transit: { readonly engine: string; readonly key: string } | undefined;
  readonly tls: VaultTlsMaterial;
  readonly statusPingMs: number;
  readonly requestTimeoutMs: number;
}

function invalid(message: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`vault: ${message}`], cause === undefined ? undefined : { cause });
}

function optString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`option '${field}' must be a string`);
  return value;
}

function reqString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`option '${field}' must be a non-empty string`);
  return value;
}

/**
 * Cleans a Vault path (`a//b/` → `a/b`) and percent-encodes each segment. `.`/`..`
 * segments are refused: they would let a configured prefix or mount escape its place.
 */
export function cleanPath(value: string, field: string): string {
  const segments = value.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..') throw invalid(`option '${field}' must not contain '.' or '..' path segments`);
  }
  return segments.map((s) => encodeURIComponent(s)).join('/');
}

function optMs(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw invalid(`option '${field}' must be a positive number of milliseconds`);
  return value;
}

function optRetry(value: unknown, field: string): number {
  if (value === undefined) return 3_000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalid(`option '${field}' must be a non-negative number of milliseconds`);
  return value;
}

/** Auth namespace: unset → the store namespace; `/` → the root namespace (no header). */
function loginNamespace(value: unknown, field: string, storeNamespace: string): string {
  const ns = optString(value, field);
  if (ns === undefined) return storeNamespace;
  if (ns.replace(/\/+/g, '/') === '/') return '';
  return cleanPath(ns, field);
}

/** PEM text as given, or the content of the file (or of every file in the directory) it names. */
function pemOrFile(value: string, field: string, allowDir: boolean): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    if (allowDir && statSync(value).isDirectory()) {
      return readdirSync(value, { withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => readFileSync(join(value, e.name), 'utf8'))
        .filter((t) => t.includes('-----BEGIN'))
        .join('\n');
    }
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw invalid(`option '${field}': cannot read ${value}`, err);
  }
}

/**
 * Validates every option synchronously.
 * @throws KesError ERR_KES_INVALID_ARGUMENT naming the offending option.
 */
export function resolveVaultOptions(options: RawVaultOptions): ResolvedVaultOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const endpointText = reqString(options.endpoint, 'endpoint');
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch (err) {
    throw invalid(`option 'endpoint' is not a valid URL`, err);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw invalid(`option 'endpoint' must be an http:// or https:// URL`);
  if (endpoint.search || endpoint.hash || endpoint.username || endpoint.password) {
    throw invalid(`option 'endpoint' must not contain credentials, a query or a fragment`);
  }

  const engine = cleanPath(optString(options.engine, 'engine') ?? 'kv', 'engine');
  if (engine === '') throw invalid(`option 'engine' must name a mount path`);
  const version = options.version ?? 'v1';
  if (version !== 'v1' && version !== 'v2') throw invalid(`option 'version' must be 'v1' or 'v2'`);
  const namespace = cleanPath(optString(options.namespace, 'namespace') ?? '', 'namespace');
  const prefix = cleanPath(optString(options.prefix, 'prefix') ?? '', 'prefix');
  const versions = resolveVersionsPlace(options, engine, prefix);

  const methods = (['token', 'approle', 'kubernetes'] as const).filter((k) => options[k] !== undefined);
  if (methods.length !== 1) throw invalid(`exactly one of the options 'token', 'approle' and 'kubernetes' must be set`);
  let login: VaultLogin;
  if (options.token !== undefined) {
    login = { kind: 'token', token: reqString(options.token, 'token') };
  } else if (options.approle !== undefined) {
    const a = options.approle;
    if (typeof a !== 'object' || a === null) throw invalid(`option 'approle' must be an object`);
    login = {
      kind: 'approle',
      engine: cleanPath(optString(a.engine, 'approle.engine') ?? 'approle', 'approle.engine'),
      namespace: loginNamespace(a.namespace, 'approle.namespace', namespace),
      id: reqString(a.id, 'approle.id'),
      secret: reqString(a.secret, 'approle.secret'),
      retryMs: optRetry(a.retry, 'approle.retry'),
    };
  } else {
    const k = options.kubernetes;
    if (typeof k !== 'object' || k === null) throw invalid(`option 'kubernetes' must be an object`);
    const jwt = reqString(k.jwt, 'kubernetes.jwt');
    // As upstream: a value containing a path separator is a file, re-read at every login.
    const isFile = jwt.includes('/') || jwt.includes('\\');
    if (isFile) {
      try {
        accessSync(jwt, constants.R_OK);
      } catch (err) {
        throw invalid(`option 'kubernetes.jwt': cannot read the token file ${jwt}`, err);
      }
    }
    login = {
      kind: 'kubernetes',
      engine: cleanPath(optString(k.engine, 'kubernetes.engine') ?? 'kubernetes', 'kubernetes.engine'),
      namespace: loginNamespace(k.namespace, 'kubernetes.namespace', namespace),
      role: optString(k.role, 'kubernetes.role') ?? '',
      jwt: isFile ? { file: jwt } : { text: jwt },
      retryMs: optRetry(k.retry, 'kubernetes.retry'),
    };
  }
  if (login.kind !== 'token' && login.engine === '') throw invalid(`option '${login.kind}.engine' must name a mount path`);

  let transit: ResolvedVaultOptions['transit'];
  if (options.transit !== undefined) {
    const t = options.transit;
    if (typeof t !== 'object' || t === null) throw invalid(`option 'transit' must be an object`);
    const key = reqString(t.key, 'transit.key');
    if (key.includes('/')) throw invalid(`option 'transit.key' must not contain '/'`);
    transit = {
      engine: cleanPath(optString(t.engine, 'transit.engine') ?? 'transit', 'transit.engine'),
      key: cleanPath(key, 'transit.key'),
    };
    if (transit.engine === '') throw invalid(`option 'transit.engine' must name a mount path`);
  }

  let tls: VaultTlsMaterial = {};
  if (options.tls !== undefined) {
    const t = options.tls;
    if (typeof t !== 'object' || t === null) throw invalid(`option 'tls' must be an object`);
    if (endpoint.protocol !== 'https:') throw invalid(`option 'tls' needs an https:// endpoint`);
    const ca = optString(t.ca, 'tls.ca');
    const cert = optString(t.certificate, 'tls.certificate');
    const key = optString(t.privateKey, 'tls.privateKey');
    if ((cert === undefined) !== (key === undefined)) throw invalid(`options 'tls.certificate' and 'tls.privateKey' must be set together`);
    if (t.insecureSkipVerify !== undefined && typeof t.insecureSkipVerify !== 'boolean') {
      throw invalid(`option 'tls.insecureSkipVerify' must be a boolean`);
    }
    tls = {
      ...(ca ? { ca: pemOrFile(ca, 'tls.ca', true) } : {}),
      ...(cert ? { cert: pemOrFile(cert, 'tls.certificate', false) } : {}),
      ...(key ? { key: pemOrFile(key, 'tls.privateKey', false) } : {}),
      ...(t.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
    };
  }

  return {
    endpoint,
    engine,
    version,
    namespace,
    prefix,
    versions,
    login,
    transit,
    tls,
    statusPingMs: optMs(options.statusPingMs, 'statusPingMs', 15_000),
    requestTimeoutMs: optMs(options.requestTimeoutMs, 'requestTimeoutMs', 15_000),
  };
}

/** True if the cleaned path `p` is `dir` or lies below it (`''` is the root, which holds everything). */
function isWithinPath(dir: string, p: string): boolean {
  return dir === '' || p === dir || p.startsWith(`${dir}/`);
}

/**
 * Where the version records go (`versionsEngine`, `versionsPrefix`). Default: the key
 * engine and `<prefix>.versions`, a sibling of the key folder that upstream never lists.
 * With an empty key prefix upstream lists the engine root, where any folder would show
 * up, so there is no default: records need an explicit `versionsPrefix` (accepting that
 * folder entry) or another `versionsEngine` (default prefix there: none).
 *
 * Threats refused here: records inside the key folder (listed as `x/` by upstream, whose
 * `kes migrate` then fails on them), and a key folder inside the records folder, where
 * the record `<vprefix>/<name>/<id>` could be the very path of a key.
 * The CLI's `keystore.vault` section applies the same rule to report it with the line.
 */
function resolveVersionsPlace(options: RawVaultOptions, engine: string, prefix: string): ResolvedVaultOptions['versions'] {
  const rawEngine = optString(options.versionsEngine, 'versionsEngine');
  const vEngine = rawEngine === undefined ? engine : cleanPath(rawEngine, 'versionsEngine');
  if (vEngine === '') throw invalid(`option 'versionsEngine' must name a mount path`);
  const separate = vEngine !== engine;
  if (separate && (isWithinPath(engine, vEngine) || isWithinPath(vEngine, engine))) {
    throw invalid(`option 'versionsEngine' must be the key engine or another mount, not a path inside or around it`);
  }
  const rawPrefix = optString(options.versionsPrefix, 'versionsPrefix');
  let vPrefix: string;
  if (rawPrefix !== undefined) vPrefix = cleanPath(rawPrefix, 'versionsPrefix');
  else if (prefix !== '') vPrefix = `${prefix}.versions`;
  else if (separate) vPrefix = '';
  else return undefined; // no safe default: see above
  if (!separate) {
    if (vPrefix === prefix || (prefix !== '' && isWithinPath(prefix, vPrefix))) {
      throw invalid(`option 'versionsPrefix' must not be the key prefix or lie inside it: the records would show up in key listings`);
    }
    if (isWithinPath(vPrefix, prefix)) {
      throw invalid(`option 'versionsPrefix' must not contain the key prefix: a record could take the place of a key`);
    }
  }
  return { engine: vEngine, prefix: vPrefix };
}

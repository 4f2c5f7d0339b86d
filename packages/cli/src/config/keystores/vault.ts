// `keystore.vault`: HashiCorp Vault / OpenBao (K/V engine, AppRole, Kubernetes or token login).
import type { VaultKeyStoreOptions } from '@kes/keystores';
import { duration, obj, str, tlsFiles } from '../schema-helpers.js';
import { durationMs, isMap, nonEmpty, requireStr } from '../values.js';
import type { CheckContext, Doc } from '../values.js';
import type { PathSegment } from '../yaml-path.js';
import type { KeyStoreSection } from './section.js';

/** `{ engine, namespace }` of a login or the transit section, each only when set. */
function mount(m: Doc): { engine?: string; namespace?: string } {
  const engine = nonEmpty(m.engine);
  const namespace = nonEmpty(m.namespace);
  return { ...(engine ? { engine } : {}), ...(namespace ? { namespace } : {}) };
}

/** Exactly one login: `approle`, `kubernetes` or `token`. */
function checkAuthMethod(v: Doc, ctx: CheckContext, path: readonly PathSegment[]): void {
  const auths = ['approle', 'kubernetes', 'token'].filter((a) => v[a] !== undefined && v[a] !== null && v[a] !== '');
  if (auths.length === 1) return;
  ctx.problems.push({
    path: [...path],
    message:
      auths.length === 0
        ? "an authentication method is required: 'approle' or 'kubernetes' (or 'token')"
        : `only one authentication method may be configured, found: ${auths.join(', ')}`,
  });
}

/** `tls` of the Vault connection: client certificate and key together, or neither. */
function readTls(v: Doc, ctx: CheckContext, path: readonly PathSegment[]): VaultKeyStoreOptions['tls'] | undefined {
  if (!isMap(v.tls)) return undefined;
  const ca = nonEmpty(v.tls.ca);
  const cert = nonEmpty(v.tls.cert);
  const key = nonEmpty(v.tls.key);
  if ((key === undefined) !== (cert === undefined)) ctx.problems.push({ path: [...path, 'tls'], message: "'key' and 'cert' must be given together" });
  if (!ca && !cert) return undefined;
  return {
    ...(ca ? { ca: ctx.resolvePath(ca) } : {}),
    ...(cert ? { certificate: ctx.resolvePath(cert) } : {}),
    ...(key ? { privateKey: ctx.resolvePath(key) } : {}),
  };
}

/** A Vault path as the store cleans it (`/a//b/` → `a/b`), for comparisons. */
function cleaned(p: string | undefined): string {
  return (p ?? '')
    .split('/')
    .filter((s) => s !== '')
    .join('/');
}

/** True if the cleaned path `p` is `dir` or lies below it (`''` is the root, which holds everything). */
function isWithinPath(dir: string, p: string): boolean {
  return dir === '' || p === dir || p.startsWith(`${dir}/`);
}

/**
 * `versions_prefix` / `versions_engine` (kes-ts): where the records of rotated keys go.
 * The same rule as the store's (`resolveVersionsPlace` in @kes/keystores), reported here
 * with the line: in the key engine the records folder must be neither the key prefix, nor
 * inside it (upstream lists it), nor around it (a record could be a key's path).
 */
function checkVersionsPlace(v: Doc, ctx: CheckContext, path: readonly PathSegment[]): void {
  const engine = cleaned(nonEmpty(v.engine) ?? 'kv');
  const prefix = cleaned(nonEmpty(v.prefix));
  const rawEngine = nonEmpty(v.versions_engine);
  const vEngine = rawEngine === undefined ? engine : cleaned(rawEngine);
  if (rawEngine !== undefined && vEngine !== engine && (isWithinPath(engine, vEngine) || isWithinPath(vEngine, engine))) {
    ctx.problems.push({
      path: [...path, 'versions_engine'],
      message: `must be the key engine or another mount, not a path inside or around '${engine}'`,
    });
    return;
  }
  const rawPrefix = v.versions_prefix;
  if (vEngine !== engine || typeof rawPrefix !== 'string' || rawPrefix === '') return;
  const vPrefix = cleaned(rawPrefix);
  const at = [...path, 'versions_prefix'];
  if (vPrefix === prefix || (prefix !== '' && isWithinPath(prefix, vPrefix))) {
    ctx.problems.push({
      path: at,
      message: `must not be the key prefix '${prefix}' or lie inside it: the version records would show up in key listings`,
    });
  } else if (isWithinPath(vPrefix, prefix)) {
    ctx.problems.push({ path: at, message: `must not contain the key prefix '${prefix}': a version record could take the place of a key` });
  }
}

/** `keystore.vault` → `{ type: 'vault', options }`: exactly one login, client TLS key and certificate together. */
export const vaultSection: KeyStoreSection = {
  name: 'vault',
  schema: obj({
    endpoint: str,
    engine: str,
    version: str,
    namespace: str,
    prefix: str,
    versions_prefix: str,
    versions_engine: str,
    token: str,
    approle: obj({ engine: str, namespace: str, id: str, secret: str }),
    kubernetes: obj({ engine: str, namespace: str, role: str, jwt: str }),
    transit: obj({ engine: str, key: str }),
    tls: tlsFiles,
    status: obj({ ping: duration }),
  }),
  read(v, ctx, path) {
    const { problems } = ctx;
    const endpoint = requireStr(v, [...path, 'endpoint'], problems);
    let version: 'v1' | 'v2' | undefined;
    if (typeof v.version === 'string' && v.version !== '') {
      if (v.version === 'v1' || v.version === 'v2') version = v.version;
      else problems.push({ path: [...path, 'version'], message: `must be 'v1' or 'v2', not '${v.version}'` });
    }
    checkAuthMethod(v, ctx, path);
    const approle = isMap(v.approle)
      ? {
          ...mount(v.approle),
          id: requireStr(v.approle, [...path, 'approle', 'id'], problems),
          secret: requireStr(v.approle, [...path, 'approle', 'secret'], problems),
        }
      : undefined;
    const kubernetes = isMap(v.kubernetes)
      ? {
          ...mount(v.kubernetes),
          role: typeof v.kubernetes.role === 'string' ? v.kubernetes.role : '',
          jwt: requireStr(v.kubernetes, [...path, 'kubernetes', 'jwt'], problems),
        }
      : undefined;
    const transitEngine = isMap(v.transit) ? nonEmpty(v.transit.engine) : undefined;
    const transit = isMap(v.transit)
      ? { ...(transitEngine ? { engine: transitEngine } : {}), key: requireStr(v.transit, [...path, 'transit', 'key'], problems) }
      : undefined;
    checkVersionsPlace(v, ctx, path);
    const tls = readTls(v, ctx, path);
    const ping = isMap(v.status) ? durationMs(v.status.ping, [...path, 'status', 'ping'], ctx) : undefined;
    const engine = nonEmpty(v.engine);
    const namespace = nonEmpty(v.namespace);
    const prefix = nonEmpty(v.prefix);
    const versionsPrefix = nonEmpty(v.versions_prefix);
    const versionsEngine = nonEmpty(v.versions_engine);
    const token = nonEmpty(v.token);
    const options: VaultKeyStoreOptions = {
      endpoint,
      ...(engine ? { engine } : {}),
      ...(version ? { version } : {}),
      ...(namespace ? { namespace } : {}),
      ...(prefix ? { prefix } : {}),
      ...(versionsPrefix ? { versionsPrefix } : {}),
      ...(versionsEngine ? { versionsEngine } : {}),
      ...(token ? { token } : {}),
      ...(approle ? { approle } : {}),
      ...(kubernetes ? { kubernetes } : {}),
      ...(transit ? { transit } : {}),
      ...(tls ? { tls } : {}),
      ...(ping !== undefined && ping > 0 ? { statusPingMs: ping } : {}),
    };
    return { type: 'vault', options };
  },
};

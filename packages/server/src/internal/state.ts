/**
 * Everything derived from `KesServerOptions`, computed once per (re)load: router
 * with overrides, policy engine, cache, proxy settings. Requests capture the
 * state they started with, so a reload never changes a request midway.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KesError, createPolicyEngine, isKesError, isValidPattern, MasterKey } from '@kes/core';
import type { KeyStore, PolicyEngine } from '@kes/core';
import type { KesServerOptions } from '../options.js';
import { createRouter } from './router.js';
import type { Router } from './router.js';
import { KeyCache, resolveCacheOptions } from './cache.js';
import type { ResolvedCacheOptions } from './cache.js';

/** TLS-proxy settings (spec §5.5). */
export interface ProxyState {
  readonly identities: ReadonlySet<string>;
  /** Lower-cased header carrying the forwarded certificate. */
  readonly header: string;
  /** Lower-cased header carrying the client address. */
  readonly forwardedFor: string;
  /** Verify forwarded certificates against these CAs (tls.auth on). Empty = no verification. */
  readonly cas: readonly X509Certificate[];
}

export interface State {
  readonly options: KesServerOptions;
  readonly router: Router;
  readonly engine: PolicyEngine;
  readonly store: KeyStore;
  readonly cache: KeyCache;
  readonly cacheOptions: ResolvedCacheOptions;
  /** Key versions are on (options.keyVersions.enabled and the store keeps version records). */
  readonly versions: boolean;
  readonly proxy: ProxyState | undefined;
  /** False when `admin` can never be a real identity (e.g. `disabled`, uppercase hex): admin access is off. */
  readonly adminEnabled: boolean;
  /** Requests currently running on this state. */
  inflight: number;
  /** Called when `inflight` drops to 0 after the state was retired. */
  onDrained: (() => void) | undefined;
}

/**
 * Builds a state. Reuses `previous.cache` when the store and cache settings are unchanged.
 *
 * @throws ERR_KES_INVALID_ARGUMENT naming every configuration problem found.
 */
export function buildState(options: KesServerOptions, previous: State | undefined): State {
  const problems: string[] = [];
  if (typeof options.admin !== 'string' || options.admin === '') problems.push('admin: identity must not be empty');
  if (!options.keyStore) problems.push('keyStore: required');

  let router: Router | undefined;
  try {
    router = createRouter(options.api);
  } catch (e) {
    problems.push(isKesError(e) ? e.message : String(e));
  }
  const versions = options.keyVersions?.enabled === true;
  if (versions && options.keyStore && options.keyStore.versions === undefined) {
    problems.push(`keyVersions: the key store ${options.keyStore.kind} cannot keep key versions`);
  }
  for (const [i, rule] of (options.keyVersions?.autoRotate ?? []).entries()) {
    if (!versions) problems.push('keyVersions.autoRotate: needs keyVersions.enabled');
    if (typeof rule.pattern !== 'string' || !isValidPattern(rule.pattern)) problems.push(`keyVersions.autoRotate[${i}]: invalid key pattern`);
    if (!Number.isFinite(rule.everyMs) || rule.everyMs < 60_000)
      problems.push(`keyVersions.autoRotate[${i}]: the period must be at least one minute`);
  }
  const check = options.keyVersions?.autoRotateCheckMs;
  if (check !== undefined && (!Number.isFinite(check) || check < 10)) problems.push('keyVersions.autoRotateCheckMs: must be at least 10 ms');
  let cacheOptions: ResolvedCacheOptions | undefined;
  try {
    cacheOptions = resolveCacheOptions(options.cache, versions);
  } catch (e) {
    problems.push(isKesError(e) ? e.message : String(e));
  }
  let engine: PolicyEngine | undefined;
  try {
    engine = createPolicyEngine({
      admin: options.admin ?? '',
      policies: options.policies ?? {},
      ...(options.patternSemantics ? { semantics: options.patternSemantics } : {}),
    });
  } catch (e) {
    problems.push(isKesError(e) ? e.message : String(e));
  }

  let proxy: ProxyState | undefined;
  const p = options.tls?.proxy;
  if (p && p.identities.length > 0) {
    const ids = new Set(p.identities);
    for (const id of ids) {
      if (id === options.admin) problems.push(`tls.proxy: identity '${id}' is the admin identity`);
      for (const [name, pol] of Object.entries(options.policies ?? {})) {
        if (pol.identities?.includes(id)) problems.push(`tls.proxy: identity '${id}' is also assigned to policy '${name}'`);
      }
    }
    let cas: X509Certificate[] = [];
    if (options.tls?.auth === 'on') {
      try {
        cas = parseCaList(options.tls.ca);
        if (options.tls.caFile) cas.push(...parseCaList(readFileSync(options.tls.caFile)));
      } catch {
        problems.push('tls.ca/tls.caFile: not a readable list of PEM certificates');
      }
    }
    proxy = {
      identities: ids,
      header: (p.header ?? 'X-Tls-Client-Cert').toLowerCase(),
      forwardedFor: (p.forwardedForHeader ?? 'X-Forwarded-For').toLowerCase(),
      cas,
    };
  }

  const names = new Set<string>();
  for (const k of options.keys ?? []) {
    if (names.has(k.name)) problems.push(`keys: key '${k.name}' is listed more than once`);
    names.add(k.name);
  }

  if (problems.length > 0 || !router || !engine || !cacheOptions) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`invalid server options: ${problems.join('; ')}`]);
  }

  const reuse =
    previous !== undefined && previous.store === options.keyStore && JSON.stringify(previous.cacheOptions) === JSON.stringify(cacheOptions);
  const cache = reuse ? previous.cache : new KeyCache(options.keyStore, cacheOptions);

  return {
    options,
    router,
    engine,
    store: options.keyStore,
    cache,
    cacheOptions,
    versions,
    proxy,
    adminEnabled: /^[0-9a-f]{64}$/.test(options.admin),
    inflight: 0,
    onDrained: undefined,
  };
}

/** Creates the declarative `keys` that do not exist yet (created_by = admin). */
export async function createDeclaredKeys(state: State): Promise<void> {
  for (const { name } of state.options.keys ?? []) {
    const key = MasterKey.generate({ createdBy: state.options.admin });
    const value = key.encode();
    key.destroy();
    try {
      await state.store.create(name, value);
    } catch (e) {
      if (!isKesError(e, 'ERR_KES_KEY_EXISTS')) throw e;
    } finally {
      value.fill(0); // ours: the store keeps its own copy (KeyStore contract)
    }
  }
}

function parseCaList(ca: string | Buffer | readonly (string | Buffer)[] | undefined): X509Certificate[] {
  if (ca === undefined) return [];
  const items = Array.isArray(ca) ? (ca as readonly (string | Buffer)[]) : [ca as string | Buffer];
  const out: X509Certificate[] = [];
  for (const item of items) {
    const text = typeof item === 'string' ? item : item.toString('utf8');
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!blocks) out.push(new X509Certificate(item));
    else for (const b of blocks) out.push(new X509Certificate(b));
  }
  return out;
}

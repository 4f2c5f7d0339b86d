// The value checks, section by section, in file order (every problem is collected;
// the order decides which problem a field reports when it has several). Builds the
// server options from what passes.
import { checkKeyStore } from './keystores/index.js';
import type { KeyStoreSelection } from './keystores/index.js';
import { checkAdmin } from './sections/admin.js';
import { checkApi } from './sections/api.js';
import { checkCache } from './sections/cache.js';
import { checkDocument, checkWorkers } from './sections/document.js';
import { checkKeyVersions } from './sections/key-versions.js';
import { checkKeys } from './sections/keys.js';
import { checkLog } from './sections/log.js';
import { checkPolicies } from './sections/policies.js';
import { checkTls } from './sections/tls.js';
import type { ConfigServerOptions } from './types.js';
import type { CheckContext } from './values.js';

/** What the value checks yield: the options, and the key store if one could be selected. */
export interface CheckedConfig {
  readonly options: ConfigServerOptions;
  readonly keyStore: KeyStoreSelection | undefined;
  /** `workers:`, if the file sets it. */
  readonly workers: number | undefined;
}

/**
 * Runs every section check over the document; problems and warnings go to `ctx`.
 * The result is meaningful only when no problem was added.
 */
export function checkSections(ctx: CheckContext, legacyMarkers: readonly string[], implicitMemoryStore: boolean): CheckedConfig {
  const address = checkDocument(ctx);
  const workers = checkWorkers(ctx);
  const admin = checkAdmin(ctx);
  const tls = checkTls(ctx, admin);
  const cache = checkCache(ctx);
  const log = checkLog(ctx);
  const api = checkApi(ctx);
  const policies = checkPolicies(ctx, { admin, proxies: tls.proxy?.identities ?? [] });
  const keys = checkKeys(ctx);
  const keyVersions = checkKeyVersions(ctx);
  const keyStore = checkKeyStore(ctx, implicitMemoryStore);
  if (ctx.legacy) {
    ctx.warnings.push(
      `this is a kes v0.x config file (${legacyMarkers.join(', ')}): policy patterns use the v0.x glob rules (* ? [..] match within one path segment)`,
    );
  }
  return {
    options: {
      ...(address !== undefined ? { address } : {}),
      admin,
      tls,
      cache,
      log,
      api,
      policies,
      keys,
      ...(keyVersions !== undefined ? { keyVersions } : {}),
      patternSemantics: ctx.legacy ? 'glob' : 'prefix',
    },
    keyStore,
    workers,
  };
}

// Migration of config files written for older KES versions (spec: config/CLI notes
// §2). Each legacy construct is rewritten to its current form and produces one
// deprecation notice naming the modern field.
//
// Two kinds of legacy construct, because one of them switches policy semantics:
// - Era markers: layouts of kes ≤ v0.17 that a current server cannot run at all
//   (`root:` instead of `admin.identity`, policy `paths:`, `keys:` as the key-store
//   mapping, top-level `fs:`/`vault:`, `log.*.file`, `aws.secrets_manager`,
//   `vault.address`). A file with one is a v0.x file whose policies used Go
//   `path.Match` globs, so it keeps glob matching.
// - Stale fields: fields upstream's own sample configs still carry and upstream
//   silently ignores (`*.retry`, `cache.expiry.all`, `vault.name`, empty backend
//   sections). They get a notice but never change what a policy means: a current
//   file that still has one must not start matching `/v1/key/*` as a glob (which
//   would deny MinIO every `/v1/key/generate/<name>` call).
import { keyStoreSection } from './keystores/index.js';
import { isMap } from './values.js';
import type { Doc } from './values.js';
import type { PathSegment } from './yaml-path.js';

/** Result of {@link migrateLegacyConfig}. */
export interface LegacyMigrationResult {
  /** The document in the current layout (a deep copy; the input is not changed). */
  readonly document: Record<string, unknown>;
  /** One line per legacy construct found, naming the modern field. */
  readonly notices: string[];
  /** Whether an era marker was found: the file is a v0.x file and keeps glob policy semantics. */
  readonly legacy: boolean;
  /** The era markers found (`root`, `policy.<n>.paths`, …), in file order; empty for a current file. */
  readonly markers: string[];
  /** New path (joined with `.`) → where it was written in the file, for error lines. */
  readonly aliases: Map<string, PathSegment[]>;
}

/** Renames `from` to `to` inside `m` (if present and `to` absent). */
function rename(m: Doc, from: string, to: string): boolean {
  if (!(from in m)) return false;
  if (!(to in m)) m[to] = m[from];
  delete m[from];
  return true;
}

/** True when every scalar leaf of `v` is an empty string / null (an unused legacy section). */
function isEmptySection(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return true;
  if (Array.isArray(v)) return v.every(isEmptySection);
  if (isMap(v)) return Object.values(v).every(isEmptySection);
  return false;
}

/**
 * Rewrites a parsed config document from any KES era into the current layout.
 * Pure: reads no files and no environment.
 */
export function migrateLegacyConfig(input: Record<string, unknown>): LegacyMigrationResult {
  const doc = structuredClone(input) as Doc;
  const notices: string[] = [];
  const aliases = new Map<string, PathSegment[]>();
  const markers: string[] = [];
  /** An era marker: renamed, noticed, and the file becomes a v0.x (glob) file. */
  const note = (old: string, modern: string, extra = ''): void => {
    if (!markers.includes(old)) markers.push(old);
    notices.push(`'${old}' is deprecated (kes v0.x): use '${modern}'${extra}`);
  };
  const marker = (old: string, notice: string): void => {
    if (!markers.includes(old)) markers.push(old);
    notices.push(notice);
  };

  // v0.1–v0.17.1: `root: <identity>` → `admin.identity`.
  if ('root' in doc) {
    const root = doc.root;
    delete doc.root;
    const admin = isMap(doc.admin) ? doc.admin : undefined;
    if (admin && admin.identity !== undefined) {
      marker('root', `'root' is deprecated (kes v0.x) and ignored because 'admin.identity' is set`);
    } else {
      doc.admin = { ...(admin ?? {}), identity: root };
      aliases.set('admin.identity', ['root']);
      note('root', 'admin.identity');
    }
  }

  // v0.1–v0.7: `cache.expiry.all` → `cache.expiry.any`. A stale field, not an era
  // marker: upstream ignores it, so it can linger in a current file.
  const expiry = isMap(doc.cache) && isMap(doc.cache.expiry) ? doc.cache.expiry : undefined;
  if (expiry && 'all' in expiry) {
    if ('any' in expiry) {
      delete expiry.all;
      notices.push(`'cache.expiry.all' is deprecated (kes v0.x) and ignored because 'cache.expiry.any' is set`);
    } else {
      rename(expiry, 'all', 'any');
      aliases.set('cache.expiry.any', ['cache', 'expiry', 'all']);
      notices.push(`'cache.expiry.all' is deprecated (kes v0.x): use 'cache.expiry.any'`);
    }
  }

  // v0.5–v0.7: `log.error.file: [...]` / `log.audit.file: [...]`.
  if (isMap(doc.log)) {
    for (const stream of ['error', 'audit'] as const) {
      const v = doc.log[stream];
      if (isMap(v)) {
        const files = Array.isArray(v.file) ? v.file.filter((f) => typeof f === 'string' && f !== '') : [];
        doc.log[stream] = stream === 'error' || files.length > 0 ? 'on' : 'off';
        note(
          `log.${stream}.file`,
          `log.${stream}`,
          ` (on|off or a level; logs go to ${stream === 'error' ? 'stderr' : 'stdout'}, log files are not supported)`,
        );
      }
    }
  }

  // v0.1–v0.14: `policy.<name>.paths` → `allow`.
  if (isMap(doc.policy)) {
    for (const [name, p] of Object.entries(doc.policy)) {
      if (isMap(p) && 'paths' in p) {
        const paths = p.paths;
        delete p.paths;
        const allow = Array.isArray(p.allow) ? p.allow : [];
        p.allow = Array.isArray(paths) ? [...allow, ...paths] : paths;
        aliases.set(`policy.${name}.allow`, ['policy', name, 'paths']);
        note(`policy.${name}.paths`, `policy.${name}.allow`);
      }
    }
  }

  // Where the key store section lives: `keystore:` (v0.5–v0.7, v0.13.6+), `keys:` as a
  // mapping (v0.8–v0.13.5), or top-level `fs:`/`vault:` (v0.1–v0.4).
  let storeFrom = 'keystore';
  // With `keystore:` also present a mapping under `keys:` is no v0.8 file but a
  // mistyped key list: it is left alone, so the schema reports "must be a list".
  if (isMap(doc.keys) && doc.keystore === undefined) {
    doc.keystore = doc.keys;
    storeFrom = 'keys';
    note('keys', 'keystore', ' (the key store section; `keys:` is now a list of keys to create)');
    delete doc.keys;
  }
  for (const top of ['fs', 'vault'] as const) {
    if (top in doc) {
      const ks = isMap(doc.keystore) ? doc.keystore : (doc.keystore = {});
      if (!(top in (ks as Doc))) (ks as Doc)[top] = doc[top];
      delete doc[top];
      storeFrom = '';
      note(top, `keystore.${top}`);
    }
  }
  const ks = isMap(doc.keystore) ? doc.keystore : undefined;
  if (ks) {
    const prefix = storeFrom === '' ? [] : [storeFrom];
    const alias = (modern: string[], old: string[]): void => {
      aliases.set(['keystore', ...modern].join('.'), [...prefix, ...old]);
    };
    if (storeFrom === 'keys') {
      for (const k of Object.keys(ks)) alias([k], [k]);
    }
    // v0.5–v0.7 snake_case AWS block.
    if (isMap(ks.aws) && isMap(ks.aws.secrets_manager)) {
      const sm = ks.aws.secrets_manager;
      delete ks.aws.secrets_manager;
      if (rename(sm, 'address', 'endpoint')) note('keystore.aws.secrets_manager.address', 'keystore.aws.secretsmanager.endpoint');
      if (rename(sm, 'kms_key_id', 'kmskey')) note('keystore.aws.secrets_manager.kms_key_id', 'keystore.aws.secretsmanager.kmskey');
      if (isMap(sm.credentials)) {
        rename(sm.credentials, 'access_key', 'accesskey');
        rename(sm.credentials, 'secret_key', 'secretkey');
        rename(sm.credentials, 'session_token', 'token');
      }
      ks.aws.secretsmanager = sm;
      alias(['aws', 'secretsmanager'], ['aws', 'secrets_manager']);
      note('keystore.aws.secrets_manager', 'keystore.aws.secretsmanager', ' (credentials: accesskey, secretkey, token)');
    }
    // Vault: `address` → `endpoint` (v0.1–v0.7, a marker: the required field had
    // another name), `name` → `prefix` (v0.1–v0.4; stale: upstream ignores it), `*.retry`
    // dropped (stale: still in upstream's sample config, ignored since 2023-04).
    if (isMap(ks.vault)) {
      const v = ks.vault;
      if (rename(v, 'address', 'endpoint')) note('vault.address', 'keystore.vault.endpoint');
      if (rename(v, 'name', 'prefix')) notices.push(`'vault.name' is deprecated (kes v0.x): use 'keystore.vault.prefix'`);
      for (const auth of ['approle', 'kubernetes'] as const) {
        const a = v[auth];
        if (isMap(a) && 'retry' in a) {
          delete a.retry;
          notices.push(`'keystore.vault.${auth}.retry' is deprecated (kes v0.x) and ignored: logins are retried automatically`);
        }
      }
    }
    const gem = isMap(ks.gemalto) && isMap(ks.gemalto.keysecure) ? ks.gemalto.keysecure : undefined;
    if (gem && isMap(gem.credentials) && 'retry' in gem.credentials) {
      delete gem.credentials.retry;
      notices.push(`'keystore.gemalto.keysecure.credentials.retry' is deprecated (kes v0.x) and ignored`);
    }
    // Eras up to v0.22 selected a backend by a non-empty path/endpoint, so files list
    // every backend with empty values. An entirely empty section can never work: drop it.
    for (const [name, section] of Object.entries(ks)) {
      const known = keyStoreSection(name);
      if (!known || name === 'memory') continue;
      const inner = known.inner;
      const target = inner !== undefined && isMap(section) ? section[inner] : section;
      if (section !== null && isEmptySection(target) && !(inner === undefined && isMap(section) && Object.keys(section).length === 0)) {
        delete ks[name];
        notices.push(`'keystore.${name}' has no values and is ignored`);
      }
    }
  }

  return { document: doc, notices, legacy: markers.length > 0, markers, aliases };
}

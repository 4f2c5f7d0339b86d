/**
 * Key-version routes (kes-ts, docs/key-rotation.md): rotate, versions, version delete,
 * version config and rewrap. They answer 404 `key versions are not enabled` while key versions are off and are listed
 * by `/v1/api` only while on. The key name is always the path resource; a version is
 * in the body or the query, so name checks and policy matching are the usual ones.
 */
import { KesError, MasterKey, checkKeyRingSettings, isKesError, parseKeyVersion, validateKeyName } from '@kes/core';
import type { KeyRing, KeyRingSettings, KeyStore, KeyVersionStore } from '@kes/core';
import { formatTimestamp, goJsonString } from '@kes/core/wire';
import { MB, S, signalOf } from '../context.js';
import type { Ctx, RouteSpec } from '../context.js';
import { replyEmpty, replyJson } from '../http.js';
import { readKeyRing, rotateKeyRing, writeKeyRingSettings } from '../key-versions.js';
import { readRequest } from './body.js';
import { b64, decryptWith, getKeyWith, requestedVersion, storeError } from './keys.js';

const ROTATE_REQUEST = { key: 'bytes', cipher: 'string' } as const;
const CONFIG_REQUEST = { min_decryption_version: 'string', min_encryption_version: 'string', encryption_version: 'string' } as const;
const REWRAP_REQUEST = { ciphertext: 'bytes', context: 'bytes', version: 'string' } as const;

/** The store's version records; refuses while key versions are off. */
function versionStore(ctx: Ctx): KeyStore & { versions: KeyVersionStore } {
  const store = ctx.state.store;
  if (!ctx.state.versions || store.versions === undefined) throw new KesError('ERR_KES_VERSIONS_DISABLED');
  return store as KeyStore & { versions: KeyVersionStore };
}

function warnOf(ctx: Ctx): (message: string) => void {
  return (message) => ctx.shared.logs.error(message, undefined);
}

/** Reads the whole ring of `name` from the store (not the cache): what rotations and settings work on. */
async function freshRing(ctx: Ctx, store: KeyStore, name: string): Promise<KeyRing> {
  try {
    return await readKeyRing(store, name, signalOf(ctx), warnOf(ctx));
  } catch (e) {
    throw storeError(e, 'ERR_KES_READ_KEY_FAILED');
  }
}

/** `"created_at":…` and, when set, `,"created_by":…` of a version, as describe writes them. */
function createdFields(key: MasterKey): string {
  const s = `"created_at":"${formatTimestamp(key.createdAt, key.createdAtUtcOffsetMinutes)}"`;
  return key.createdBy === '' ? s : `${s},"created_by":${goJsonString(key.createdBy)}`;
}

function keyInfo(name: string, version: number, key: MasterKey): string {
  return `{"name":${goJsonString(name)},"version":"${version}",${createdFields(key)}}`;
}

async function rotate(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const store = versionStore(ctx);
  const { key: bytes, cipher } = await readRequest(ctx, 'ERR_KES_INVALID_IMPORT_BODY', true, ROTATE_REQUEST);
  const ring = await freshRing(ctx, store, name);
  try {
    const algorithm = ring.base.algorithm;
    // Imported material is checked as /v1/key/import checks it; a new key has version 1's type.
    const make = (): MasterKey =>
      bytes !== undefined || cipher !== undefined
        ? MasterKey.import(bytes ?? new Uint8Array(0), cipher ?? '', { createdBy: ctx.identity })
        : MasterKey.generate({ algorithm, createdBy: ctx.identity });
    if (bytes !== undefined || cipher !== undefined) make().destroy(); // refuse bad material before any write
    let rotated: Awaited<ReturnType<typeof rotateKeyRing>>;
    try {
      rotated = await rotateKeyRing(store.versions, name, ring, make, { retry: true, signal: signalOf(ctx) });
    } catch (e) {
      if (isKesError(e, 'ERR_KES_ROTATE_CONFLICT')) throw e;
      throw new KesError('ERR_KES_ROTATE_FAILED', [], { cause: e });
    }
    const { version, key } = rotated as NonNullable<typeof rotated>;
    const text = keyInfo(name, version, key);
    key.destroy();
    // Encryption uses the new version only once it was read back from the store.
    ctx.state.cache.evict(name);
    return replyJson(ctx.res, text);
  } finally {
    ring.destroy();
    bytes?.fill(0);
  }
}

async function listVersions(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const store = versionStore(ctx);
  const ring = await freshRing(ctx, store, name);
  try {
    const s = ring.settings;
    const entries = ring.versions().map((v) => {
      const key = ring.key(v) as MasterKey;
      return `{"version":"${v}","algorithm":"${key.algorithm}",${createdFields(key)},"state":"${ring.state(v)}"}`;
    });
    return replyJson(
      ctx.res,
      `{"name":${goJsonString(name)},"latest":"${ring.latest}","encryption_version":"${ring.encryptionDefault}",` +
        `"min_decryption_version":"${s.minDecryptionVersion}","min_encryption_version":"${s.minEncryptionVersion}",` +
        `"versions":[${entries.join(',')}]}`,
    );
  } finally {
    ring.destroy();
  }
}

/** The `version` query parameter of a version delete (required). */
function queryVersion(ctx: Ctx): number {
  const url = ctx.req.url ?? '';
  const q = url.indexOf('?');
  const text = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('version');
  const v = text === null ? undefined : parseKeyVersion(text);
  if (v === undefined) throw new KesError('ERR_KES_INVALID_VERSION');
  return v;
}

async function deleteVersion(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const store = versionStore(ctx);
  const version = queryVersion(ctx);
  if (version === 1) throw new KesError('ERR_KES_VERSION_PROTECTED');
  const signal = signalOf(ctx);
  try {
    // First record that the number was used (it is never given out again), then remove it.
    await writeKeyRingSettings(
      store,
      name,
      (ring) => {
        if (ring.key(version) === undefined) throw new KesError('ERR_KES_VERSION_NOT_FOUND');
        if (ring.settings.encryptionVersion === version) {
          throw new KesError('ERR_KES_INVALID_VERSION_CONFIG', ['the version is the pinned encryption_version; pin another one first']);
        }
        const { minDecryptionVersion, minEncryptionVersion } = ring.settings;
        const newest = Math.max(...ring.versions().filter((v) => v !== version));
        if (newest < minDecryptionVersion || newest < minEncryptionVersion) {
          throw new KesError('ERR_KES_INVALID_VERSION_CONFIG', [
            'deleting it would leave no version that may encrypt; lower the minimum versions first',
          ]);
        }
        return { ...ring.settings, highestVersion: Math.max(ring.settings.highestVersion, ring.highestSeen) };
      },
      signal,
      warnOf(ctx),
    );
    await store.versions.delete(name, String(version), { signal });
  } catch (e) {
    throw passVersionErrors(e, 'ERR_KES_DELETE_KEY_FAILED');
  }
  ctx.state.cache.evict(name);
  return replyEmpty(ctx.res);
}

/** Version errors and not-found pass to the client; store failures become `fail`. */
function passVersionErrors(e: unknown, fail: 'ERR_KES_DELETE_KEY_FAILED' | 'ERR_KES_ROTATE_FAILED'): KesError {
  if (
    isKesError(e, 'ERR_KES_VERSION_NOT_FOUND') ||
    isKesError(e, 'ERR_KES_INVALID_VERSION_CONFIG') ||
    isKesError(e, 'ERR_KES_ROTATE_CONFLICT') ||
    isKesError(e, 'ERR_KES_INVALID_VERSION')
  ) {
    return e as KesError;
  }
  return storeError(e, fail);
}

/** A settings field: absent keeps the old value, `"0"` is allowed where `zeroOk`. */
function settingOf(text: string | undefined, old: number, zeroOk: boolean): number {
  if (text === undefined || text === '') return old;
  if (text === '0' && zeroOk) return 0;
  const v = parseKeyVersion(text);
  if (v === undefined) throw new KesError('ERR_KES_INVALID_VERSION');
  return v;
}

async function configureVersions(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const store = versionStore(ctx);
  const body = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, CONFIG_REQUEST);
  let next: KeyRingSettings;
  try {
    next = await writeKeyRingSettings(
      store,
      name,
      (ring) => {
        const old = ring.settings;
        const s: KeyRingSettings = {
          minDecryptionVersion: settingOf(body.min_decryption_version, old.minDecryptionVersion, false),
          minEncryptionVersion: settingOf(body.min_encryption_version, old.minEncryptionVersion, true),
          encryptionVersion: settingOf(body.encryption_version, old.encryptionVersion, true),
          highestVersion: Math.max(old.highestVersion, ring.highestSeen),
        };
        checkKeyRingSettings(s, ring.latest, (v) => ring.key(v) !== undefined);
        return s;
      },
      signalOf(ctx),
      warnOf(ctx),
    );
  } catch (e) {
    throw passVersionErrors(e, 'ERR_KES_ROTATE_FAILED');
  }
  ctx.state.cache.evict(name);
  return replyJson(
    ctx.res,
    `{"name":${goJsonString(name)},"min_decryption_version":"${next.minDecryptionVersion}",` +
      `"min_encryption_version":"${next.minEncryptionVersion}","encryption_version":"${next.encryptionVersion}"}`,
  );
}

async function rewrap(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  versionStore(ctx);
  const { ciphertext = new Uint8Array(0), context, version } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, REWRAP_REQUEST);
  const wanted = requestedVersion(ctx, version);
  const pt = await decryptWith(ctx, name, ciphertext, context, undefined);
  try {
    const ring = await getKeyWith(ctx, name, wanted);
    let out: { ciphertext: Uint8Array; version: number };
    try {
      out = ring.encrypt(pt, context, wanted);
    } catch (e) {
      if (isKesError(e, 'ERR_KES_VERSION_NOT_FOUND') || isKesError(e, 'ERR_KES_VERSION_NOT_ALLOWED')) throw e;
      throw new KesError('ERR_KES_ENCRYPT_FAILED', [], { cause: e });
    }
    return replyJson(ctx.res, `{"ciphertext":"${b64(out.ciphertext)}","version":"${out.version}"}`);
  } finally {
    pt.fill(0); // the plaintext never leaves the server
  }
}

/** The key-version routes, in `/v1/api` order (after upstream's key routes). */
export const KEY_VERSION_ROUTES: readonly RouteSpec[] = [
  {
    id: 'key-rotate',
    key: '/v1/key/rotate/',
    method: 'PUT',
    maxBody: MB,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    versions: true,
    handler: rotate,
  },
  {
    id: 'key-versions',
    key: '/v1/key/versions/',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    versions: true,
    handler: listVersions,
  },
  {
    id: 'key-version-delete',
    key: '/v1/key/version/delete/',
    method: 'DELETE',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    versions: true,
    handler: deleteVersion,
  },
  {
    id: 'key-version-config',
    key: '/v1/key/version/config/',
    method: 'PUT',
    maxBody: MB,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    versions: true,
    handler: configureVersions,
  },
  {
    id: 'key-rewrap',
    key: '/v1/key/rewrap/',
    method: 'PUT',
    maxBody: MB,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    versions: true,
    handler: rewrap,
  },
];

/**
 * Key routes (spec §4.4–4.12): create, import, describe, list, delete, generate,
 * encrypt, decrypt, hmac. With key versions on (docs/key-rotation.md) generate, encrypt
 * and hmac take a `version`, decrypt takes one as a hint, and replies about a rotated
 * key name its version; without, every `version` is ignored, as upstream does.
 *
 * Order inside every handler follows upstream: name validation → body decode →
 * key store → response. Key material (plaintexts, data keys, imported and encoded
 * keys) is wiped as soon as the reply text is built.
 */
import { KesError, MasterKey, isKesError, parseKeyVersion, validateKeyName } from '@kes/core';
import type { KeyRing } from '@kes/core';
import { formatTimestamp, goJsonString } from '@kes/core/wire';
import type { KesErrorCode } from '@kes/core';
import { isPassThroughStoreError } from '../cache.js';
import { MB, S, signalOf } from '../context.js';
import type { Ctx, RouteSpec } from '../context.js';
import { replyEmpty, replyJson } from '../http.js';
import { readRequest } from './body.js';
import { deleteKeyRecords } from '../key-versions.js';
import { KEY_LIST_PAGE_SIZE, listPrefix, replyNames } from './listing.js';

const EMPTY = new Uint8Array(0);

/** Standard base64 of `u` (reply fields). */
export function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

/** Maps a key-store failure: not-found/exists pass through, anything else becomes `fail` with the detail as cause. */
export function storeError(e: unknown, fail: KesErrorCode): KesError {
  if (isPassThroughStoreError(e)) return e as KesError;
  return new KesError(fail as 'ERR_KES_READ_KEY_FAILED', [], { cause: e });
}

/** The key `name` (all its versions), from the cache or the store. */
export async function getKey(ctx: Ctx, name: string): Promise<KeyRing> {
  const hit = ctx.state.cache.peek(name);
  if (hit) return hit;
  try {
    return await ctx.state.cache.get(name, signalOf(ctx));
  } catch (e) {
    throw storeError(e, 'ERR_KES_READ_KEY_FAILED');
  }
}

/**
 * The key `name` holding `version` if the store has it: a version the cached ring lacks
 * may have been made by another server since (see `KeyCache.withVersion`).
 */
export async function getKeyWith(ctx: Ctx, name: string, version: number | undefined): Promise<KeyRing> {
  const ring = await getKey(ctx, name);
  if (version === undefined || ring.key(version) !== undefined || !ctx.state.versions) return ring;
  try {
    return await ctx.state.cache.withVersion(name, version, signalOf(ctx));
  } catch (e) {
    throw storeError(e, 'ERR_KES_READ_KEY_FAILED');
  }
}

/**
 * The `version` a generate, encrypt or hmac request asks for: `undefined` for none, and
 * always `undefined` while key versions are off (upstream ignores the field).
 *
 * @throws `ERR_KES_INVALID_VERSION` for a value that is not a version number
 */
export function requestedVersion(ctx: Ctx, text: string | undefined): number | undefined {
  if (!ctx.state.versions || text === undefined || text === '') return undefined;
  const v = parseKeyVersion(text);
  if (v === undefined) throw new KesError('ERR_KES_INVALID_VERSION');
  return v;
}

/** `,"version":"N"` for replies about a rotated key, else nothing (upstream's reply). */
function versionField(ring: KeyRing, version: number): string {
  return ring.rotated ? `,"version":"${version}"` : '';
}

// The request structs of upstream, field by field (`version`: see requestedVersion).
const ENCRYPT_REQUEST = { plaintext: 'bytes', context: 'bytes', version: 'string' } as const;
const DECRYPT_REQUEST = { ciphertext: 'bytes', context: 'bytes', version: 'string' } as const;
const GENERATE_REQUEST = { context: 'bytes', version: 'string' } as const;
const HMAC_REQUEST = { message: 'bytes', version: 'string' } as const;
const IMPORT_REQUEST = { key: 'bytes', cipher: 'string' } as const;

async function encrypt(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { plaintext = EMPTY, context, version } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, ENCRYPT_REQUEST);
  let text: string;
  try {
    const wanted = requestedVersion(ctx, version);
    const ring = await getKeyWith(ctx, name, wanted);
    try {
      const out = ring.encrypt(plaintext, context, wanted);
      text = `{"ciphertext":"${b64(out.ciphertext)}"${versionField(ring, out.version)}}`;
    } catch (e) {
      if (isVersionError(e)) throw e;
      throw new KesError('ERR_KES_ENCRYPT_FAILED', [], { cause: e });
    }
  } finally {
    plaintext.fill(0);
  }
  return replyJson(ctx.res, text);
}

async function decrypt(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { ciphertext = EMPTY, context, version } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, DECRYPT_REQUEST);
  const pt = await decryptWith(ctx, name, ciphertext, context, version);
  const text = `{"plaintext":"${b64(pt)}"}`;
  pt.fill(0);
  return replyJson(ctx.res, text);
}

/**
 * Decrypts with the ring of `name`: the request `version` is only a hint (never a reason
 * to fail), and a framed version the cached ring lacks makes it read the key again.
 * Every failure is upstream's 400 (the reason goes to the error log).
 */
export async function decryptWith(
  ctx: Ctx,
  name: string,
  ciphertext: Uint8Array,
  context: Uint8Array | undefined,
  version: string | undefined,
): Promise<Uint8Array> {
  let ring = await getKey(ctx, name);
  const hint = ctx.state.versions && version ? parseKeyVersion(version) : undefined;
  if (ctx.state.versions) {
    // The frame names the version; a hint only matters for a ciphertext without one.
    const unknown = ring.unknownVersionIn(ciphertext);
    if (unknown !== undefined) ring = await getKeyWith(ctx, name, unknown);
  }
  try {
    return ring.decrypt(ciphertext, context, hint).plaintext;
  } catch (e) {
    if (isKesError(e, 'ERR_KES_DECRYPT')) throw e;
    throw new KesError('ERR_KES_DECRYPT_FAILED', [], { cause: e });
  }
}

/** Errors about a requested version, which reach the client as they are. */
function isVersionError(e: unknown): boolean {
  return isKesError(e, 'ERR_KES_VERSION_NOT_FOUND') || isKesError(e, 'ERR_KES_VERSION_NOT_ALLOWED') || isKesError(e, 'ERR_KES_INVALID_VERSION');
}

async function generate(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { context, version } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', true, GENERATE_REQUEST);
  const wanted = requestedVersion(ctx, version);
  const ring = await getKeyWith(ctx, name, wanted);
  let text: string;
  try {
    const dk = ring.generateDataKey(context, wanted);
    text = `{"plaintext":"${b64(dk.plaintext)}","ciphertext":"${b64(dk.ciphertext)}"${versionField(ring, dk.version)}}`;
    dk.plaintext.fill(0);
  } catch (e) {
    if (isVersionError(e)) throw e;
    throw new KesError('ERR_KES_GENERATE_KEY_FAILED', [], { cause: e });
  }
  return replyJson(ctx.res, text);
}

async function hmac(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { message = EMPTY, version } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, HMAC_REQUEST);
  // Version 1 unless asked: MACs (and what MinIO derives from them) survive rotations.
  const wanted = requestedVersion(ctx, version) ?? 1;
  const ring = await getKeyWith(ctx, name, wanted);
  let sum: Uint8Array;
  try {
    sum = ring.hmac(message, wanted);
  } catch (e) {
    if (isKesError(e, 'ERR_KES_HMAC_NOT_SUPPORTED') || isVersionError(e)) throw e;
    throw new KesError('ERR_KES_INTERNAL', [], { cause: e });
  }
  return replyJson(ctx.res, `{"hmac":"${b64(sum)}"${wanted === 1 ? '' : `,"version":"${wanted}"`}}`);
}

async function createKey(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  let value: Uint8Array;
  try {
    value = encodeOnce(MasterKey.generate({ createdBy: ctx.identity }));
  } catch (e) {
    throw new KesError('ERR_KES_GENERATE_KEY_FAILED', [], { cause: e });
  }
  return storeNewKey(ctx, name, value);
}

/** The stored form of a new key; the in-memory key is wiped even if encoding fails. */
function encodeOnce(key: MasterKey): Uint8Array {
  try {
    return key.encode();
  } finally {
    key.destroy();
  }
}

/**
 * Creates `name` in the key store (create-only) and answers with an empty 200.
 * Takes ownership of `value` (the encoded key) and wipes it once the store is done.
 */
async function storeNewKey(ctx: Ctx, name: string, value: Uint8Array): Promise<number> {
  try {
    await ctx.state.store.create(name, value, { signal: signalOf(ctx) });
  } catch (e) {
    throw storeError(e, 'ERR_KES_CREATE_KEY_FAILED');
  } finally {
    // Key material must not linger in the heap after the request. Safe: a store copies
    // what it keeps and does not read `value` after create settles (KeyStore contract).
    value.fill(0);
  }
  return replyEmpty(ctx.res);
}

async function importKey(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { key: bytes = EMPTY, cipher = '' } = await readRequest(ctx, 'ERR_KES_INVALID_IMPORT_BODY', false, IMPORT_REQUEST);
  let value: Uint8Array;
  try {
    value = encodeOnce(MasterKey.import(bytes, cipher, { createdBy: ctx.identity }));
  } catch (e) {
    if (isKesError(e, 'ERR_KES_UNSUPPORTED_ALGORITHM') || isKesError(e, 'ERR_KES_INVALID_KEY_SIZE') || isKesError(e, 'ERR_KES_ALGORITHM_NOT_FIPS')) {
      throw e;
    }
    throw new KesError('ERR_KES_IMPORT_KEY_FAILED', [], { cause: e });
  } finally {
    bytes.fill(0); // the imported key bytes must not linger in the request buffers
  }
  return storeNewKey(ctx, name, value);
}

async function describeKey(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const ring = await getKey(ctx, name);
  const key = ring.base;
  // A legacy JSON key keeps the offset and fraction it was stored with, as upstream echoes them.
  const createdAt = formatTimestamp(key.createdAt, key.createdAtUtcOffsetMinutes);
  let s = `{"name":${goJsonString(name)},"algorithm":"${key.algorithm}","created_at":"${createdAt}"`;
  if (key.createdBy !== '') s += `,"created_by":${goJsonString(key.createdBy)}`;
  return replyJson(ctx.res, `${s}${versionField(ring, ring.latest)}}`);
}

async function listKeys(ctx: Ctx): Promise<number> {
  // Deliberate fix of the upstream quirk: `prefix*` lists by `prefix` (documented in docs/api.md).
  const prefix = listPrefix(ctx.resource);
  let names: string[];
  let continueAt: string;
  try {
    // One page, as upstream: at most KEY_LIST_PAGE_SIZE names and where to continue.
    ({ names, continueAt } = await ctx.state.store.list(prefix, { limit: KEY_LIST_PAGE_SIZE, signal: signalOf(ctx) }));
  } catch (e) {
    throw new KesError('ERR_KES_LIST_KEYS_FAILED', [], { cause: e });
  }
  if (names.length > KEY_LIST_PAGE_SIZE) {
    // A store that ignores the limit still yields a bounded page.
    continueAt = names[KEY_LIST_PAGE_SIZE] as string;
    names = names.slice(0, KEY_LIST_PAGE_SIZE);
  }
  return replyNames(ctx.res, names, continueAt);
}

async function deleteKey(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const versions = ctx.state.versions ? ctx.state.store.versions : undefined;
  try {
    // Versions first, version 1 last: a crash never leaves a live key missing versions.
    if (versions !== undefined) await deleteKeyRecords(versions, name, signalOf(ctx));
    await ctx.state.store.delete(name, { signal: signalOf(ctx) });
  } catch (e) {
    throw storeError(e, 'ERR_KES_DELETE_KEY_FAILED');
  }
  ctx.state.cache.evict(name);
  return replyEmpty(ctx.res);
}

/** The key routes, in `/v1/api` order. */
export const KEY_ROUTES: readonly RouteSpec[] = [
  { id: 'key-create', key: '/v1/key/create/', method: 'PUT', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: createKey },
  { id: 'key-import', key: '/v1/key/import/', method: 'PUT', maxBody: MB, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: importKey },
  { id: 'key-describe', key: '/v1/key/describe/', method: 'GET', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: describeKey },
  {
    id: 'key-list',
    key: '/v1/key/list/',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    streams: true,
    handler: listKeys,
  },
  { id: 'key-delete', key: '/v1/key/delete/', method: 'DELETE', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: deleteKey },
  { id: 'key-generate', key: '/v1/key/generate/', method: 'PUT', maxBody: MB, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: generate },
  { id: 'key-encrypt', key: '/v1/key/encrypt/', method: 'PUT', maxBody: MB, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: encrypt },
  { id: 'key-decrypt', key: '/v1/key/decrypt/', method: 'PUT', maxBody: MB, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: decrypt },
  { id: 'key-hmac', key: '/v1/key/hmac/', method: 'PUT', maxBody: MB, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: hmac },
];

/**
 * Key routes (spec §4.4–4.12): create, import, describe, list, delete, generate,
 * encrypt, decrypt, hmac.
 *
 * Order inside every handler follows upstream: name validation → body decode →
 * key store → response. Key material (plaintexts, data keys, imported and encoded
 * keys) is wiped as soon as the reply text is built.
 */
import { KesError, MasterKey, isKesError, validateKeyName } from '@kes/core';
import { formatTimestamp, goJsonString } from '@kes/core/wire';
import type { KesErrorCode } from '@kes/core';
import { isPassThroughStoreError } from '../cache.js';
import { MB, S, signalOf } from '../context.js';
import type { Ctx, RouteSpec } from '../context.js';
import { replyEmpty, replyJson } from '../http.js';
import { readRequest } from './body.js';
import { KEY_LIST_PAGE_SIZE, listPrefix, replyNames } from './listing.js';

const EMPTY = new Uint8Array(0);

function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

/** Maps a key-store failure: not-found/exists pass through, anything else becomes `fail` with the detail as cause. */
function storeError(e: unknown, fail: KesErrorCode): KesError {
  if (isPassThroughStoreError(e)) return e as KesError;
  return new KesError(fail as 'ERR_KES_READ_KEY_FAILED', [], { cause: e });
}

async function getKey(ctx: Ctx, name: string): Promise<MasterKey> {
  const hit = ctx.state.cache.peek(name);
  if (hit) return hit;
  try {
    return await ctx.state.cache.get(name, signalOf(ctx));
  } catch (e) {
    throw storeError(e, 'ERR_KES_READ_KEY_FAILED');
  }
}

// The request structs of upstream, field by field (`version` is accepted and ignored, §4.8).
const ENCRYPT_REQUEST = { plaintext: 'bytes', context: 'bytes', version: 'string' } as const;
const DECRYPT_REQUEST = { ciphertext: 'bytes', context: 'bytes', version: 'string' } as const;
const GENERATE_REQUEST = { context: 'bytes', version: 'string' } as const;
const HMAC_REQUEST = { message: 'bytes', version: 'string' } as const;
const IMPORT_REQUEST = { key: 'bytes', cipher: 'string' } as const;

async function encrypt(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { plaintext = EMPTY, context } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, ENCRYPT_REQUEST);
  let ct: Uint8Array;
  try {
    const key = await getKey(ctx, name);
    try {
      ct = key.encrypt(plaintext, context);
    } catch (e) {
      throw new KesError('ERR_KES_ENCRYPT_FAILED', [], { cause: e });
    }
  } finally {
    plaintext.fill(0);
  }
  return replyJson(ctx.res, `{"ciphertext":"${b64(ct)}"}`);
}

async function decrypt(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { ciphertext = EMPTY, context } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, DECRYPT_REQUEST);
  const key = await getKey(ctx, name);
  let pt: Uint8Array;
  try {
    pt = key.decrypt(ciphertext, context);
  } catch (e) {
    if (isKesError(e, 'ERR_KES_DECRYPT')) throw e;
    throw new KesError('ERR_KES_DECRYPT_FAILED', [], { cause: e });
  }
  const text = `{"plaintext":"${b64(pt)}"}`;
  pt.fill(0);
  return replyJson(ctx.res, text);
}

async function generate(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { context } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', true, GENERATE_REQUEST);
  const key = await getKey(ctx, name);
  let text: string;
  try {
    const dk = key.generateDataKey(context);
    text = `{"plaintext":"${b64(dk.plaintext)}","ciphertext":"${b64(dk.ciphertext)}"}`;
    dk.plaintext.fill(0);
  } catch (e) {
    throw new KesError('ERR_KES_GENERATE_KEY_FAILED', [], { cause: e });
  }
  return replyJson(ctx.res, text);
}

async function hmac(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const { message = EMPTY } = await readRequest(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false, HMAC_REQUEST);
  const key = await getKey(ctx, name);
  let sum: Uint8Array;
  try {
    sum = key.hmac(message);
  } catch (e) {
    if (isKesError(e, 'ERR_KES_HMAC_NOT_SUPPORTED')) throw e;
    throw new KesError('ERR_KES_INTERNAL', [], { cause: e });
  }
  return replyJson(ctx.res, `{"hmac":"${b64(sum)}"}`);
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
  const key = await getKey(ctx, name);
  // A legacy JSON key keeps the offset and fraction it was stored with, as upstream echoes them.
  const createdAt = formatTimestamp(key.createdAt, key.createdAtUtcOffsetMinutes);
  let s = `{"name":${goJsonString(name)},"algorithm":"${key.algorithm}","created_at":"${createdAt}"`;
  if (key.createdBy !== '') s += `,"created_by":${goJsonString(key.createdBy)}`;
  return replyJson(ctx.res, `${s}}`);
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
  try {
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

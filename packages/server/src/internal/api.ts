/**
 * Route handlers (spec §4). Each returns the status it answered with; failures are
 * thrown as `KesError`s and turned into error replies by the pipeline.
 *
 * Order inside every handler follows upstream: name validation → body decode →
 * key store → response.
 */
import {
  KesError,
  MasterKey,
  decodeBase64Strict,
  formatTimestamp,
  getField,
  goJsonString,
  isKesError,
  listAll,
  parseGoJson,
  validateIdentityName,
  validateKeyName,
  validatePattern,
  validatePolicyName,
} from '@kes/core';
import type { KesErrorCode, PolicyEngine } from '@kes/core';
import { BODY_TOO_LARGE, readBody, replyEmpty, replyJson } from './http.js';
import type { AnyRequest, AnyResponse } from './http.js';
import type { Route } from './routes.js';
import type { State } from './state.js';
import type { Metrics } from './metrics.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import type { LogHub } from './logs.js';
import type { RouteDeadline } from './deadline.js';
import { statusBody } from './system.js';
import { exceedsSeparatorBudget, flatObject, utf8 } from './flat-json.js';
import { isPassThroughStoreError } from './cache.js';

/** Handler-wide facts that survive reloads. */
export interface Shared {
  readonly metrics: Metrics;
  readonly logs: LogHub;
  readonly startedAt: number;
  /** `created_at` of policies and identities: server start, in the local zone. */
  readonly startedAtText: string;
  readonly versionBody: string;
  readonly version: string;
  /** True once close() started: log streams end immediately. */
  closing: boolean;
}

/** One request as the handlers see it. */
export interface Ctx {
  readonly shared: Shared;
  readonly state: State;
  readonly req: AnyRequest;
  readonly res: AnyResponse;
  readonly route: Route;
  readonly resource: string;
  readonly path: string;
  readonly method: string;
  identity: string;
  ip: string;
  /** The route timeout (undefined for routes without one); see `signalOf`. */
  readonly deadline: RouteDeadline | undefined;
}

const NEVER = new AbortController().signal;

/** The request's abort signal: aborted when the route timeout fires. Created on first use. */
function signalOf(ctx: Ctx): AbortSignal {
  return ctx.deadline === undefined ? NEVER : ctx.deadline.signal;
}

type BodyCode = 'ERR_KES_INVALID_REQUEST_BODY' | 'ERR_KES_INVALID_IMPORT_BODY';
type Obj = Record<string, unknown>;

const EMPTY = new Uint8Array(0);

function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

/** Maps a key-store failure: not-found/exists pass through, anything else becomes `fail` with the detail as cause. */
function storeError(e: unknown, fail: KesErrorCode): KesError {
  if (isPassThroughStoreError(e)) return e as KesError;
  return new KesError(fail as 'ERR_KES_READ_KEY_FAILED', [], { cause: e });
}

/**
 * Reads and decodes a JSON body with Go semantics. `undefined` = no body / JSON null.
 * `emptyOk`: a zero-length body with a known length is not parsed (generate).
 */
async function readJson(ctx: Ctx, code: BodyCode, emptyOk: boolean): Promise<Obj | undefined> {
  const body = await readBody(ctx.req, ctx.route.maxBody);
  if (body === BODY_TOO_LARGE) throw new KesError(code);
  if (body.length === 0 && emptyOk && ctx.req.headers['transfer-encoding'] === undefined) return undefined;
  const text = utf8.decode(body);
  if (exceedsSeparatorBudget(text)) throw new KesError(code);
  const flat = flatObject(text);
  if (flat !== undefined) return flat;
  let v: unknown;
  try {
    v = parseGoJson(text);
  } catch {
    throw new KesError(code);
  }
  if (v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new KesError(code);
  return v as Obj;
}

function bytesField(obj: Obj | undefined, name: string, code: BodyCode): Uint8Array | undefined {
  if (obj === undefined) return undefined;
  const v = getField(obj, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new KesError(code);
  try {
    return decodeBase64Strict(v);
  } catch {
    throw new KesError(code);
  }
}

function stringField(obj: Obj | undefined, name: string, code: BodyCode): string | undefined {
  if (obj === undefined) return undefined;
  const v = getField(obj, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new KesError(code);
  return v;
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

/** The list prefix of a policy/identity listing: `''`/`*` = all, trailing `*` stripped. */
function listPrefix(resource: string): string {
  validatePattern(resource);
  return resource.endsWith('*') ? resource.slice(0, -1) : resource;
}

function jsonNames(names: readonly string[]): string {
  let s = '[';
  for (let i = 0; i < names.length; i++) s += (i ? ',' : '') + goJsonString(names[i] as string);
  return `${s}]`;
}

function patternSet(patterns: readonly string[]): string {
  const sorted = [...new Set(patterns)].sort();
  return `{${sorted.map((p) => `${goJsonString(p)}:{}`).join(',')}}`;
}

function policyObject(engine: PolicyEngine, shared: Shared, name: string): string | undefined {
  const p = engine.policy(name);
  if (!p) return undefined;
  let s = `{"name":${goJsonString(name)}`;
  if (p.allow.length > 0) s += `,"allow":${patternSet(p.allow)}`;
  if (p.deny.length > 0) s += `,"deny":${patternSet(p.deny)}`;
  return `${s},"created_at":"${shared.startedAtText}","created_by":${goJsonString(engine.admin)}}`;
}

/** Runs the handler of `ctx.route`. */
export function dispatch(ctx: Ctx): Promise<number> | number {
  switch (ctx.route.id) {
    case 'key-encrypt':
      return encrypt(ctx);
    case 'key-decrypt':
      return decrypt(ctx);
    case 'key-generate':
      return generate(ctx);
    case 'key-hmac':
      return hmac(ctx);
    case 'key-create':
      return createKey(ctx);
    case 'key-import':
      return importKey(ctx);
    case 'key-describe':
      return describeKey(ctx);
    case 'key-list':
      return listKeys(ctx);
    case 'key-delete':
      return deleteKey(ctx);
    case 'version':
      return replyJson(ctx.res, ctx.shared.versionBody);
    case 'ready':
      return ready(ctx);
    case 'status':
      return status(ctx);
    case 'metrics':
      return metrics(ctx);
    case 'api':
      return replyJson(ctx.res, `[${ctx.state.router.routes.map((r) => r.apiEntry).join(',')}]`);
    case 'policy-describe':
      return policyDescribe(ctx);
    case 'policy-read':
      return policyRead(ctx);
    case 'policy-list':
      return policyList(ctx);
    case 'identity-describe':
      return identityDescribe(ctx);
    case 'identity-self-describe':
      return selfDescribe(ctx);
    case 'identity-list':
      return identityList(ctx);
    case 'log-error':
      return logStream(ctx, 'error');
    case 'log-audit':
      return logStream(ctx, 'audit');
  }
}

async function encrypt(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const body = await readJson(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false);
  const plaintext = bytesField(body, 'plaintext', 'ERR_KES_INVALID_REQUEST_BODY') ?? EMPTY;
  const context = bytesField(body, 'context', 'ERR_KES_INVALID_REQUEST_BODY');
  stringField(body, 'version', 'ERR_KES_INVALID_REQUEST_BODY'); // accepted and ignored (§4.8)
  const key = await getKey(ctx, name);
  let ct: Uint8Array;
  try {
    ct = key.encrypt(plaintext, context);
  } catch (e) {
    throw new KesError('ERR_KES_ENCRYPT_FAILED', [], { cause: e });
  } finally {
    plaintext.fill(0);
  }
  return replyJson(ctx.res, `{"ciphertext":"${b64(ct)}"}`);
}

async function decrypt(ctx: Ctx): Promise<number> {
  const name = ctx.resource;
  validateKeyName(name);
  const body = await readJson(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false);
  const ciphertext = bytesField(body, 'ciphertext', 'ERR_KES_INVALID_REQUEST_BODY') ?? EMPTY;
  const context = bytesField(body, 'context', 'ERR_KES_INVALID_REQUEST_BODY');
  stringField(body, 'version', 'ERR_KES_INVALID_REQUEST_BODY');
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
  const body = await readJson(ctx, 'ERR_KES_INVALID_REQUEST_BODY', true);
  const context = bytesField(body, 'context', 'ERR_KES_INVALID_REQUEST_BODY');
  stringField(body, 'version', 'ERR_KES_INVALID_REQUEST_BODY');
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
  const body = await readJson(ctx, 'ERR_KES_INVALID_REQUEST_BODY', false);
  const message = bytesField(body, 'message', 'ERR_KES_INVALID_REQUEST_BODY') ?? EMPTY;
  stringField(body, 'version', 'ERR_KES_INVALID_REQUEST_BODY');
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
  const body = await readJson(ctx, 'ERR_KES_INVALID_IMPORT_BODY', false);
  const bytes = bytesField(body, 'key', 'ERR_KES_INVALID_IMPORT_BODY') ?? EMPTY;
  const cipher = stringField(body, 'cipher', 'ERR_KES_INVALID_IMPORT_BODY') ?? '';
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
  let s = `{"name":${goJsonString(name)},"algorithm":"${key.algorithm}","created_at":"${formatTimestamp(key.createdAt)}"`;
  if (key.createdBy !== '') s += `,"created_by":${goJsonString(key.createdBy)}`;
  return replyJson(ctx.res, `${s}}`);
}

async function listKeys(ctx: Ctx): Promise<number> {
  // Deliberate fix of the upstream quirk: `prefix*` lists by `prefix` (documented in docs/api.md).
  const prefix = listPrefix(ctx.resource);
  let names: string[];
  try {
    names = await listAll(ctx.state.store, prefix, { signal: signalOf(ctx) });
  } catch (e) {
    throw new KesError('ERR_KES_LIST_KEYS_FAILED', [], { cause: e });
  }
  return replyJson(ctx.res, `{"names":${jsonNames(names)}}`);
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

async function ready(ctx: Ctx): Promise<number> {
  try {
    await ctx.state.cache.status(signalOf(ctx));
  } catch (e) {
    if (isKesError(e, 'ERR_KES_KEYSTORE_UNREACHABLE')) throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: e });
    throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: e });
  }
  return replyEmpty(ctx.res);
}

async function status(ctx: Ctx): Promise<number> {
  let ks: { latencyMs: number } | 'unreachable';
  try {
    ks = await ctx.state.cache.status(signalOf(ctx));
  } catch {
    ks = 'unreachable';
  }
  return replyJson(ctx.res, statusBody(ctx.shared.version, ctx.shared.startedAt, ks));
}

async function metrics(ctx: Ctx): Promise<number> {
  const text = await ctx.shared.metrics.render();
  const res = ctx.res as import('node:http').ServerResponse;
  res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
  return 200;
}

function policyDescribe(ctx: Ctx): number {
  const name = ctx.resource;
  validatePolicyName(name);
  const engine = ctx.state.engine;
  if (!engine.policy(name)) throw new KesError('ERR_KES_POLICY_NOT_FOUND');
  return replyJson(
    ctx.res,
    `{"name":${goJsonString(name)},"created_at":"${ctx.shared.startedAtText}","created_by":${goJsonString(engine.admin)}}`,
  );
}

function policyRead(ctx: Ctx): number {
  const name = ctx.resource;
  validatePolicyName(name);
  const obj = policyObject(ctx.state.engine, ctx.shared, name);
  if (obj === undefined) throw new KesError('ERR_KES_POLICY_NOT_FOUND');
  return replyJson(ctx.res, obj);
}

function policyList(ctx: Ctx): number {
  const prefix = listPrefix(ctx.resource);
  const names = ctx.state.engine.policyNames().filter((n) => n.startsWith(prefix));
  return replyJson(ctx.res, `{"names":${jsonNames(names)},"continue_at":""}`);
}

function identityDescribe(ctx: Ctx): number {
  const id = ctx.resource;
  validateIdentityName(id);
  const engine = ctx.state.engine;
  if (ctx.state.adminEnabled && engine.isAdmin(id)) return replyJson(ctx.res, `{"admin":true,"created_at":"${ctx.shared.startedAtText}"}`);
  const p = engine.policyOf(id);
  if (!p) throw new KesError('ERR_KES_IDENTITY_NOT_FOUND');
  return replyJson(
    ctx.res,
    `{"policy":${goJsonString(p.name)},"created_at":"${ctx.shared.startedAtText}","created_by":${goJsonString(engine.admin)}}`,
  );
}

/** Fix of the upstream bug: non-admin callers get their own policy instead of 404. */
function selfDescribe(ctx: Ctx): number {
  const id = ctx.identity;
  const engine = ctx.state.engine;
  if (ctx.state.adminEnabled && engine.isAdmin(id)) {
    return replyJson(ctx.res, `{"identity":${goJsonString(id)},"admin":true,"created_at":"${ctx.shared.startedAtText}"}`);
  }
  const p = id === '' ? undefined : engine.policyOf(id);
  const obj = p ? policyObject(engine, ctx.shared, p.name) : undefined;
  if (obj === undefined) throw new KesError('ERR_KES_IDENTITY_NOT_FOUND');
  return replyJson(
    ctx.res,
    `{"identity":${goJsonString(id)},"created_at":"${ctx.shared.startedAtText}","created_by":${goJsonString(engine.admin)},"policy":${obj}}`,
  );
}

function identityList(ctx: Ctx): number {
  const prefix = listPrefix(ctx.resource);
  const ids = ctx.state.engine.identities().filter((n) => n.startsWith(prefix));
  return replyJson(ctx.res, `{"identities":${jsonNames(ids)},"continue_at":""}`);
}

/** ND-JSON event stream; resolves (200) when the client disconnects or the server closes. */
function logStream(ctx: Ctx, kind: 'audit' | 'error'): Promise<number> {
  const res = ctx.res as import('node:http').ServerResponse;
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  res.flushHeaders?.();
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(200);
    };
    res.once('close', finish);
    res.once('finish', finish);
    if (ctx.shared.closing) {
      res.end();
      return;
    }
    ctx.shared.logs.subscribe(kind, ctx.res);
  });
}

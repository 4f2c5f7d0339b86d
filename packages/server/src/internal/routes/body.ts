/**
 * Request bodies of the key routes: a capped read, then Go's JSON decoding (case-insensitive
 * field names, duplicate keys, strict base64). Every failure is the route's body error.
 */
import { KesError } from '@kes/core';
import { decodeBase64Strict, getField, parseGoJson } from '@kes/core/wire';
import type { Ctx } from '../context.js';
import { BODY_TOO_LARGE, readBody } from '../http.js';
import { exceedsSeparatorBudget, flatObject, utf8 } from '../flat-json.js';

/** The error a route answers a bad body with. */
export type BodyCode = 'ERR_KES_INVALID_REQUEST_BODY' | 'ERR_KES_INVALID_IMPORT_BODY';
/** A decoded JSON object body. */
export type Obj = Record<string, unknown>;

/**
 * Reads and decodes a JSON body with Go semantics. `undefined` = no body / JSON null.
 * `emptyOk`: a zero-length body with a known length is not parsed (generate).
 *
 * @throws `code` for a body over the route limit, malformed JSON or a non-object.
 */
export async function readJson(ctx: Ctx, code: BodyCode, emptyOk: boolean): Promise<Obj | undefined> {
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

/**
 * A base64 field as bytes (`undefined` when absent).
 * @throws `code` when the field is not a string of strict base64.
 */
export function bytesField(obj: Obj | undefined, name: string, code: BodyCode): Uint8Array | undefined {
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

/**
 * A string field (`undefined` when absent).
 * @throws `code` when the field is not a string.
 */
export function stringField(obj: Obj | undefined, name: string, code: BodyCode): string | undefined {
  if (obj === undefined) return undefined;
  const v = getField(obj, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new KesError(code);
  return v;
}

/**
 * Request bodies of the key routes: the capped read, then Go's decoding into the route's
 * request struct (spec §3.1). Every failure is the route's body error.
 */
import { KesError } from '@kes/core';
import { assignGoJsonFields, decodeGoJsonStruct } from '@kes/core/wire';
import type { GoFieldType, GoStructValues } from '@kes/core/wire';
import type { Ctx } from '../context.js';
import { BODY_REJECTED, readBody } from '../http.js';
import { exceedsSeparatorBudget, flatObject, utf8 } from '../flat-json.js';

/** The error a route answers a bad body with. */
export type BodyCode = 'ERR_KES_INVALID_REQUEST_BODY' | 'ERR_KES_INVALID_IMPORT_BODY';

/**
 * Whether a body starting with this byte can decode into a request struct: an object or
 * `null`. Go reads any other value to its end before failing with the same 400, so
 * refusing at the first byte changes only when the reply comes.
 */
function startsRequest(c: number): boolean {
  return c === 0x7b /* { */ || c === 0x6e /* n(ull) */;
}

/**
 * Reads the body (at most the route's limit; see `readBody`) and decodes it into the route's
 * request struct with Go semantics (`decodeGoJsonStruct`): byte fields as base64 or arrays of
 * numbers, duplicates in order, `null` leaving a string as it was.
 * `emptyOk`: a zero-length body with a known length is not decoded (generate).
 *
 * @throws `code` for a body the decoder refuses, a body over the separator budget, or a failed stream.
 */
export async function readRequest<const F extends Readonly<Record<string, GoFieldType>>>(
  ctx: Ctx,
  code: BodyCode,
  emptyOk: boolean,
  fields: F,
): Promise<GoStructValues<F>> {
  const body = await readBody(ctx.req, ctx.route.maxBody, startsRequest);
  if (body === BODY_REJECTED) throw new KesError(code);
  if (body.length === 0 && emptyOk && ctx.req.headers['transfer-encoding'] === undefined) return {};
  const text = utf8.decode(body);
  // Also bounds a byte field sent as an array of numbers to about 1,000 bytes.
  if (exceedsSeparatorBudget(text)) throw new KesError(code);
  try {
    const flat = flatObject(text);
    return flat !== undefined ? assignGoJsonFields(Object.entries(flat), fields) : decodeGoJsonStruct(text, fields);
  } catch (e) {
    throw new KesError(code, [], { cause: e });
  }
}

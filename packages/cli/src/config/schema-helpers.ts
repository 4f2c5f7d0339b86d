// Building blocks of the config file's JSON Schema (draft-07), shared by schema.ts and
// the key-store sections. They describe shape and types only; value rules are checked
// by the section modules so that every problem is reported together.

/** A JSON Schema node. */
export type Schema = Record<string, unknown>;

export const str: Schema = { type: 'string' };
export const strList: Schema = { type: 'array', items: str };
/** Go duration string (`30s`, `5m0s`); `0` also accepted. Parsed by the section checks. */
export const duration: Schema = { type: ['string', 'integer'] };
/** A YAML boolean (or an env-substituted yes/no/on/off, coerced before validation). */
export const bool: Schema = { type: 'boolean' };

/**
 * A mapping with exactly these fields. `additionalProperties: false`: an unknown field
 * is an error with a "did you mean" hint (upstream silently ignores unknown fields, so
 * `adress:` would bind 0.0.0.0:7373 and `keystor:` would leave the server without a key store).
 */
export function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: 'object', properties, additionalProperties: false, ...(required.length ? { required } : {}) };
}

/** TLS client files of a backend connection. */
export const tlsFiles = obj({ key: str, cert: str, ca: str });

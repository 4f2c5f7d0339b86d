// JSON Schema (draft-07, checked with ajv) of the KES server config file as it looks
// AFTER `${VAR}` substitution and legacy migration. It checks shape and types only;
// value rules (durations, identities, addresses, "exactly one key store") are checked
// by ./sections and ./keystores so that every problem is reported together.
// Every mapping is closed (see `obj`): an unknown field is an error with a hint.
// Fields of older eras are migrated or dropped (with a notice) before this check.
import { KEY_STORE_SECTIONS } from './keystores/index.js';
import { bool, duration, obj, str, strList } from './schema-helpers.js';
import type { Schema } from './schema-helpers.js';

/** `keystore:`: one mapping per backend, each defined next to its checks (./keystores/). */
const keystore = obj(Object.fromEntries(KEY_STORE_SECTIONS.map((s) => [s.name, s.schema])));

/** The config file schema (draft-07). */
export const CONFIG_SCHEMA: Schema = obj({
  version: str,
  address: str,
  workers: str,
  admin: obj({ identity: str }),
  tls: obj({
    key: str,
    cert: str,
    password: str,
    auth: str,
    ca: str,
    proxy: obj({ identities: strList, header: obj({ cert: str }) }),
    // kes-ts: HTTP/2 by ALPN next to HTTP/1.1 (docs/configuration.md).
    http2: bool,
  }),
  cache: obj({ expiry: obj({ any: duration, unused: duration, offline: duration }) }),
  log: obj({
    error: { type: ['string', 'integer', 'boolean'] },
    audit: { type: ['string', 'integer', 'boolean'] },
    // kes-ts: the audit file (docs/configuration.md).
    audit_file: obj({ path: str, fail_closed: bool, max_size: { type: ['string', 'integer'] }, max_files: str, fsync: bool }),
  }),
  api: {
    type: 'object',
    additionalProperties: obj({ timeout: duration, skip_auth: bool }),
  },
  policy: {
    type: 'object',
    additionalProperties: obj({ allow: strList, deny: strList, identities: strList }),
  },
  keys: { type: 'array', items: obj({ name: str }, ['name']) },
  // kes-ts: key versions and rotation (docs/key-rotation.md).
  key_versions: obj({
    enabled: bool,
    auto_rotate: { type: 'array', items: obj({ keys: str, every: duration }, ['keys', 'every']) },
    check_interval: duration,
  }),
  keystore,
});

// JSON Schema (draft-07, checked with ajv) of the KES server config file as it looks
// AFTER `${VAR}` substitution and legacy migration. It checks shape and types only;
// value rules (durations, identities, addresses, "exactly one key store") are checked
// in load.ts so that every problem is reported together.
//
// `additionalProperties: false` everywhere: an unknown field is an error with a
// "did you mean" hint (upstream silently ignores unknown fields, so `adress:` would
// bind 0.0.0.0:7373 and `keystor:` would leave the server without a key store).
// Fields of older eras are migrated or dropped (with a notice) before this check.

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const strList: Schema = { type: 'array', items: str };
/** Go duration string (`30s`, `5m0s`); `0` also accepted. Parsed in load.ts. */
const duration: Schema = { type: ['string', 'integer'] };
/** A YAML boolean (or an env-substituted yes/no/on/off, coerced before validation). */
const bool: Schema = { type: 'boolean' };

function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: 'object', properties, additionalProperties: false, ...(required.length ? { required } : {}) };
}

const tlsFiles = obj({ key: str, cert: str, ca: str });
const caOnly = obj({ ca: str });

const vault = obj({
  endpoint: str,
  engine: str,
  version: str,
  namespace: str,
  prefix: str,
  token: str,
  approle: obj({ engine: str, namespace: str, id: str, secret: str }),
  kubernetes: obj({ engine: str, namespace: str, role: str, jwt: str }),
  transit: obj({ engine: str, key: str }),
  tls: tlsFiles,
  status: obj({ ping: duration }),
});

const keystore = obj({
  fs: obj({ path: str }),
  vault,
  aws: obj({
    secretsmanager: obj({
      endpoint: str,
      region: str,
      kmskey: str,
      credentials: obj({ accesskey: str, secretkey: str, token: str }),
    }),
  }),
  gcp: obj({
    secretmanager: obj({
      project_id: str,
      endpoint: str,
      scopes: strList,
      credentials: obj({ client_email: str, client_id: str, private_key_id: str, private_key: str }),
    }),
  }),
  azure: obj({
    keyvault: obj({
      endpoint: str,
      credentials: obj({ tenant_id: str, client_id: str, client_secret: str }),
      managed_identity: obj({ client_id: str }),
    }),
  }),
  gemalto: obj({ keysecure: obj({ endpoint: str, credentials: obj({ token: str, domain: str }), tls: caOnly }) }),
  fortanix: obj({ sdkms: obj({ endpoint: str, group_id: str, credentials: obj({ key: str }), tls: caOnly }) }),
  entrust: obj({
    keycontrol: obj({
      endpoint: str,
      vault_id: str,
      box_id: str,
      credentials: obj({ username: str, password: str }),
      tls: caOnly,
    }),
  }),
  kes: obj({ endpoint: strList, enclave: str, tls: tlsFiles }),
  /** kes v0.14–v0.22 REST plugin; parsed so that the start fails with "not supported", not "unknown field". */
  generic: obj({ endpoint: str, tls: tlsFiles }),
  /** kes-ts: the in-memory store, written `memory: {}` (keys are lost on exit). */
  memory: obj({}),
});

/** The config file schema (draft-07). */
export const CONFIG_SCHEMA: Schema = obj({
  version: str,
  address: str,
  admin: obj({ identity: str }),
  tls: obj({
    key: str,
    cert: str,
    password: str,
    auth: str,
    ca: str,
    proxy: obj({ identities: strList, header: obj({ cert: str }) }),
  }),
  cache: obj({ expiry: obj({ any: duration, unused: duration, offline: duration }) }),
  log: obj({ error: { type: ['string', 'integer', 'boolean'] }, audit: { type: ['string', 'integer', 'boolean'] } }),
  api: {
    type: 'object',
    additionalProperties: obj({ timeout: duration, skip_auth: bool }),
  },
  policy: {
    type: 'object',
    additionalProperties: obj({ allow: strList, deny: strList, identities: strList }),
  },
  keys: { type: 'array', items: obj({ name: str }, ['name']) },
  keystore,
});

/** Route keys accepted under `api:` (exactly as upstream's route table, §1.6). */
export const API_ROUTES: readonly string[] = [
  '/version',
  '/v1/ready',
  '/v1/status',
  '/v1/metrics',
  '/v1/api',
  '/v1/key/create/',
  '/v1/key/import/',
  '/v1/key/describe/',
  '/v1/key/list/',
  '/v1/key/delete/',
  '/v1/key/generate/',
  '/v1/key/encrypt/',
  '/v1/key/decrypt/',
  '/v1/key/hmac/',
  '/v1/policy/describe/',
  '/v1/policy/read/',
  '/v1/policy/list/',
  '/v1/identity/describe/',
  '/v1/identity/list/',
  '/v1/identity/self/describe',
  '/v1/log/error',
  '/v1/log/audit',
];

/** Key-store sections kes-ts can run (others are accepted by the schema but fail at start). */
export const SUPPORTED_KEYSTORES = ['fs', 'vault', 'aws', 'memory'] as const;

// Key-store sections kes-ts parses but cannot run yet. Their schemas are here so that
// such a file loads (every other problem is reported) and fails at start with "not
// supported", not with "unknown field".
import { obj, str, strList, tlsFiles } from '../schema-helpers.js';
import type { KeyStoreSection } from './section.js';

const caOnly = obj({ ca: str });

/** GCP Secret Manager. */
export const gcpSection: KeyStoreSection = {
  name: 'gcp',
  inner: 'secretmanager',
  schema: obj({
    secretmanager: obj({
      project_id: str,
      endpoint: str,
      scopes: strList,
      credentials: obj({ client_email: str, client_id: str, private_key_id: str, private_key: str }),
    }),
  }),
};

/** Azure Key Vault. */
export const azureSection: KeyStoreSection = {
  name: 'azure',
  inner: 'keyvault',
  schema: obj({
    keyvault: obj({
      endpoint: str,
      credentials: obj({ tenant_id: str, client_id: str, client_secret: str }),
      managed_identity: obj({ client_id: str }),
    }),
  }),
};

/** Gemalto (Thales) KeySecure. */
export const gemaltoSection: KeyStoreSection = {
  name: 'gemalto',
  inner: 'keysecure',
  schema: obj({ keysecure: obj({ endpoint: str, credentials: obj({ token: str, domain: str }), tls: caOnly }) }),
};

/** Fortanix SDKMS. */
export const fortanixSection: KeyStoreSection = {
  name: 'fortanix',
  inner: 'sdkms',
  schema: obj({ sdkms: obj({ endpoint: str, group_id: str, credentials: obj({ key: str }), tls: caOnly }) }),
};

/** Entrust KeyControl. */
export const entrustSection: KeyStoreSection = {
  name: 'entrust',
  inner: 'keycontrol',
  schema: obj({
    keycontrol: obj({
      endpoint: str,
      vault_id: str,
      box_id: str,
      credentials: obj({ username: str, password: str }),
      tls: caOnly,
    }),
  }),
};

/** kes as a key store (another KES server). */
export const kesSection: KeyStoreSection = {
  name: 'kes',
  schema: obj({ endpoint: strList, enclave: str, tls: tlsFiles }),
};

/** The kes v0.14–v0.22 REST plugin. */
export const genericSection: KeyStoreSection = {
  name: 'generic',
  schema: obj({ endpoint: str, tls: tlsFiles }),
};

// Key-store sections upstream KES removed in v0.23 (KES as a key store, the v0.14–v0.22
// REST plugin). Their schemas are here so that such a file loads (every other problem is
// reported) and fails at start with "removed … not supported", not with "unknown field".
import { obj, str, strList, tlsFiles } from '../schema-helpers.js';
import type { KeyStoreSection } from './section.js';

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

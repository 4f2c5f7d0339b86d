// Public API of @kes/core. Exports are listed by name; internals live in src/internal/.
// Go wire-format helpers (base64, Go JSON, error bodies, RFC 3339, durations) are in
// the `@kes/core/wire` subpath (./wire.ts).

// Errors (./errors.ts)
export { ERROR_CATALOGUE, KesError, isKesError } from './errors.js';
export type { KesErrorCode, KesErrorArgs } from './errors.js';

// Key-store contract (./keystore.ts)
export { listAll, isValidRecordId } from './keystore.js';
export type {
  KeyStore,
  KeyVersionStore,
  KeyStoreCallOptions,
  KeyStoreListOptions,
  KeyStoreListResult,
  KeyStoreStatus,
} from './keystore.js';

// Names and list patterns (./names.ts)
export {
  isValidName,
  isValidPattern,
  validateKeyName,
  validatePolicyName,
  validateIdentityName,
  validatePattern,
} from './names.js';

// Master keys (./master-key.ts) and their algorithms (./crypto.ts)
export { MasterKey } from './master-key.js';
export type { MasterKeyInit, MasterKeyParts, DataKey } from './master-key.js';
export { parseAlgorithm, ALGORITHMS } from './crypto.js';

// Key versions and rotation (./key-ring.ts)
export {
  KeyRing,
  KEY_VERSION_MAGIC,
  KEY_VERSION_FRAME_SIZE,
  KEY_VERSION_BINDING_LABEL,
  MAX_KEY_VERSION,
  DEFAULT_KEY_RING_SETTINGS,
  parseKeyVersion,
  keyVersionHeader,
  frameVersionOf,
  encodeKeyVersionRecord,
  parseKeyVersionRecord,
  encodeKeyRingSettings,
  parseKeyRingSettings,
  checkKeyRingSettings,
} from './key-ring.js';
export type { KeyVersionRecord, KeyRingSettings, KeyVersionState, VersionedCiphertext } from './key-ring.js';
export type { KeyAlgorithm } from './crypto.js';
// The type of `MasterKey#createdAt` (also exported by @kes/core/wire with its formatters).
export type { Timestamp } from './timestamp.js';

// Identities, API keys, certificates (./identity.ts, ./api-key.ts, ./certificate.ts)
export {
  identityOfCertificate,
  identityOfPublicKey,
  isCACertificate,
  identifyPeer,
  identitiesEqual,
  parseForwardedCertificate,
} from './identity.js';
export { ApiKey } from './api-key.js';
export { createSelfSignedCertificate } from './certificate.js';
export type {
  SelfSignedCertificateOptions,
  SelfSignedCertificate,
  CertificateKeyType,
  CertificateExtKeyUsage,
} from './certificate.js';

// Policies (./policy.ts)
export { matchPattern, createPolicyEngine, isPolicySubset, isPolicyEquivalent } from './policy.js';
export type { Policy, PolicyDefinition, PolicyEngine, PolicyEngineOptions, PatternSemantics } from './policy.js';

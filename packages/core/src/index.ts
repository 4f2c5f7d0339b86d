// Public API of @kes/core. Exports are listed by name; internals live in src/internal/.

// Errors (./errors.ts)
export { ERROR_CATALOGUE, KesError, isKesError, kesError, errorBody, goJsonString } from './errors.js';
export type { KesErrorCode, KesErrorArgs } from './errors.js';

// Key-store contract (./keystore.ts)
export { listAll } from './keystore.js';
export type {
  KeyStore,
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

// Encoding helpers with Go semantics (./encoding.ts)
export {
  decodeBase64Strict,
  encodeBase64,
  parseGoJson,
  getField,
  formatTimestamp,
  parseTimestamp,
  parseDuration,
} from './encoding.js';
export type { Timestamp, ParsedTimestamp } from './encoding.js';

// Crypto: master keys, ciphertexts, HMAC (./crypto.ts) and stored key versions (./key-version.ts)
export { hchacha20, parseAlgorithm, ALGORITHMS } from './crypto.js';
export type { KeyAlgorithm } from './crypto.js';
export { MasterKey } from './key-version.js';
export type { MasterKeyInit, MasterKeyParts, DataKey } from './key-version.js';

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

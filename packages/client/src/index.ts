// Public API of @kes/client. Exports are listed by name; internals live in src/internal/.

// The client (./client.ts)
export { createKesClient } from './client.js';
export type { KesClient } from './client.js';

// Options and replies (./types.ts)
export type {
  KesClientOptions,
  CallOptions,
  ServerVersion,
  ServerStatus,
  ApiRoute,
  KeyInfo,
  ImportKeyInput,
  GeneratedKey,
  KeyVersion,
  KeyVersionInput,
  KeyCallOptions,
  VersionedBytes,
  KeyVersionInfo,
  KeyVersionState,
  KeyVersionEntry,
  KeyVersions,
  KeyVersionConfigInput,
  KeyVersionConfig,
  RewrapResult,
  PolicyInfo,
  Policy,
  IdentityInfo,
  SelfInfo,
  AuditEvent,
  ErrorEvent,
} from './types.js';

// Client-side errors (./errors.ts); the server's catalogued errors are `KesError` from @kes/core.
export { KesClientError, isKesClientError, KES_CLIENT_ERROR_CODES } from './errors.js';
export type { KesClientErrorCode, KesClientErrorOptions } from './errors.js';

// Public API of @kes/server. Exports are listed by name; internals live in src/internal/.

export { createKesHandler } from './handler.js';
export type { KesHandler, PeerInfo, InjectRequest, InjectResponse } from './handler.js';
export { LOG_LEVELS } from './options.js';
export type {
  KesServerOptions,
  ServerPolicy,
  RouteOverride,
  CacheOptions,
  TlsOptions,
  LogOptions,
  LogLevel,
  ConnectionLimits,
  KeyVersionsOptions,
  AutoRotateRule,
} from './options.js';
export type { AuditFileOptions } from './internal/audit-file.js';
export { startAuditFileRotation } from './internal/audit-file.js';

// Shared vocabulary: route keys of `/v1/api` and the `api:` config section, listen addresses.
export { API_ROUTE_KEYS } from './internal/routes/table.js';
export { splitHostPort, joinHostPort } from './address.js';

// HTTPS / HTTP/2 server around the handler (./server.ts)
export { createKesServer } from './server.js';
export type { KesServer } from './server.js';

// Multi-process mode: the IPC layer between node:cluster workers and their primary (./cluster.ts)
export { createKesClusterWorker, createKesClusterPrimary } from './cluster.js';
export type { KesClusterPrimary } from './cluster.js';

// Public API of @kes/server. Exports are listed by name; internals live in src/internal/.

export { createKesHandler } from './handler.js';
export type { KesHandler, PeerInfo, InjectRequest, InjectResponse } from './handler.js';
export type {
  KesServerOptions,
  ServerPolicy,
  RouteOverride,
  CacheOptions,
  TlsOptions,
  LogOptions,
  ConnectionLimits,
} from './options.js';

// HTTPS / HTTP/2 server around the handler (./server.ts)
export { createKesServer } from './server.js';
export type { KesServer } from './server.js';

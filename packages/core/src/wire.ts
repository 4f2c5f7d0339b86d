// Public API of @kes/core/wire: the Go-compatible text formats a KES server shares with
// upstream, for the HTTP layer and the config loader. Exports are listed by name.
//
// What is here: strict base64, Go JSON reading and writing, the error body, RFC 3339
// timestamps (all on the wire, kes-protocol.md §3) and Go durations (the text form of
// every timeout in a config file or flag). None of it is a KES concept of its own, so
// the main entry (identities, keys, policies, errors, the key-store contract) leaves it out.

// Base64 (./base64.ts)
export { decodeBase64Strict, encodeBase64 } from './base64.js';

// Go JSON: request bodies, strings, error replies (./go-json.ts)
export { parseGoJson, getField, decodeGoJsonStruct, assignGoJsonFields, goJsonString, errorBody } from './go-json.js';
export type { GoFieldType, GoStructValues } from './go-json.js';

// RFC 3339 timestamps (./timestamp.ts)
export { formatTimestamp, parseTimestamp } from './timestamp.js';
export type { Timestamp, ParsedTimestamp } from './timestamp.js';

// Go durations (./duration.ts)
export { parseDuration } from './duration.js';

// Opening a `@kes/client` for a command: settings from flags and environment
// (./settings.ts), credential files read here, and every client failure turned into
// one line that says what to do next (./explain.ts).
import { readFile } from 'node:fs/promises';
import { ApiKey, identityOfCertificate, isKesError } from '@kes/core';
import type { KesClient } from '@kes/client';
import type { CliContext } from '../internal/context.js';
import { CliFailure } from '../internal/failure.js';
import { explainError } from './explain.js';
import type { Subject } from './explain.js';
import { resolveClientSettings } from './settings.js';
import type { ClientFlags, ClientSettings } from './settings.js';

/** A connected client and what messages need to know about it. */
export interface Connection {
  readonly client: KesClient;
  readonly settings: ClientSettings;
  /** The caller's identity (of the API key or the client certificate), for 403 hints. */
  readonly identity: string | undefined;
  /**
   * Runs `fn`; a client error becomes a {@link CliFailure} with a hint, naming
   * `subject` (the key, policy or identity the command is about) where that helps.
   */
  run<T>(fn: (client: KesClient) => Promise<T>, subject?: Subject): Promise<T>;
  close(): Promise<void>;
}

async function readCredentialFile(path: string, what: string, source: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'read failed');
    throw new CliFailure(`cannot read the ${what} '${path}' (${source}): ${why}`, { cause: err });
  }
}

/**
 * Resolves the connection flags and environment and creates a client. Nothing is sent yet.
 *
 * @throws UsageError for malformed flags; CliFailure for missing credentials or unreadable files.
 */
export async function connect(flags: ClientFlags, ctx: CliContext, only?: { endpoint: string }): Promise<Connection> {
  const resolved = resolveClientSettings(flags, ctx.env);
  // `only`: talk to one of the endpoints (kes status reports each server on its own).
  const settings: ClientSettings = only ? { ...resolved, endpoints: [only.endpoint] } : resolved;
  const creds = settings.credentials;
  let identity: string | undefined;
  let auth: { apiKey: ApiKey } | { cert: string; key: string };
  if (creds.kind === 'api-key') {
    let apiKey: ApiKey;
    try {
      apiKey = ApiKey.parse(creds.apiKey);
    } catch (err) {
      // The message says why (length, prefix) and never echoes the key.
      throw new CliFailure(`${creds.source}: ${isKesError(err) ? err.message : 'invalid API key'} (create one with 'kes identity new')`, {
        cause: err,
      });
    }
    identity = apiKey.identity;
    auth = { apiKey };
  } else {
    const cert = await readCredentialFile(creds.certFile, 'client certificate', creds.source);
    const key = await readCredentialFile(creds.keyFile, 'client private key', creds.source === '--client-cert' ? '--client-key' : 'KES_CLIENT_KEY');
    try {
      identity = identityOfCertificate(cert);
    } catch {
      throw new CliFailure(`the client certificate '${creds.certFile}' (${creds.source}) is not a PEM certificate`);
    }
    auth = { cert, key };
  }
  const ca = settings.caFile === undefined ? undefined : await readCredentialFile(settings.caFile, 'CA certificate', '--ca');

  const { createKesClient } = await import('@kes/client');
  const client = createKesClient({
    endpoints: [...settings.endpoints],
    ...auth,
    ...(ca !== undefined ? { ca } : {}),
    insecure: settings.insecure,
  });
  return {
    client,
    settings,
    identity,
    async run(fn, subject) {
      try {
        return await fn(client);
      } catch (err) {
        throw explainError(err, { endpoints: settings.endpoints, identity, insecure: settings.insecure, ...(subject ? { subject } : {}) });
      }
    },
    async close() {
      client.close();
    },
  };
}

/**
 * Connects, runs `fn` and closes the client again, also on failure.
 *
 * @example
 * await withClient(args, ctx, (conn) => conn.run((c) => c.createKey('my-key'), { kind: 'key', name: 'my-key' }));
 */
export async function withClient<T>(flags: ClientFlags, ctx: CliContext, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await connect(flags, ctx);
  try {
    return await fn(conn);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

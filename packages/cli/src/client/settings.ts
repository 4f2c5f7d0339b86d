// Where the client commands connect and with which credentials: flags first, then the
// environment variables in upstream's order. Pure (no I/O), so every rule is unit-tested.
import { UsageError } from '../internal/usage-error.js';
import { CliFailure } from '../internal/failure.js';

/** The connection flags every client command accepts. */
export interface ClientFlags {
  readonly server?: string;
  readonly apiKey?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  readonly ca?: string;
  readonly insecure?: boolean;
}

/** How a command authenticates. File names are read by the caller. */
export type ClientCredentials =
  | { readonly kind: 'api-key'; readonly apiKey: string; readonly source: string }
  | { readonly kind: 'certificate'; readonly certFile: string; readonly keyFile: string; readonly source: string };

/** Everything needed to create a client, resolved from flags and environment. */
export interface ClientSettings {
  /** `https://host:port` URLs, in the order given. */
  readonly endpoints: readonly string[];
  /** Where the endpoints came from (`--server`, `KES_SERVER`, `default`), for messages. */
  readonly endpointSource: string;
  readonly credentials: ClientCredentials;
  readonly caFile?: string;
  readonly insecure: boolean;
}

/** The environment variables read, each list in lookup order (the first one set wins, even if empty). */
export const CLIENT_ENV = {
  server: ['MINIO_KES_SERVER', 'KES_SERVER', 'MINIO_KMS_KES_ENDPOINT'],
  apiKey: ['MINIO_KES_API_KEY', 'KES_API_KEY', 'MINIO_KMS_KES_API_KEY'],
  keyFile: ['MINIO_KES_KEY_FILE', 'KES_CLIENT_KEY', 'MINIO_KES_CLIENT_KEY'],
  certFile: ['MINIO_KES_CERT_FILE', 'KES_CLIENT_CERT', 'MINIO_KES_CLIENT_CERT'],
} as const;

/** The server address when neither `--server` nor an environment variable names one. */
export const DEFAULT_SERVER = '127.0.0.1:7373';

type Env = Readonly<Record<string, string | undefined>>;
type Found = { readonly name: string; readonly value: string } | undefined;

/** `found` if it has a non-blank value (a variable set to '' counts as "not given"). */
function present(found: Found): Found {
  return found !== undefined && found.value.trim() !== '' ? found : undefined;
}

/** The first variable of `names` that is set (an empty value counts as set, as upstream). */
function lookup(env: Env, names: readonly string[]): Found {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/**
 * Parses one endpoint: `host`, `host:port`, `[v6]:port`, with or without `https://`
 * (`http://` is dropped: the client always uses TLS). Without a port the URL default
 * (443) applies, as for any `https://` URL.
 *
 * @throws UsageError naming `source` for an out-of-range port or an unusable address.
 */
export function parseEndpoint(text: string, source: string): string {
  const raw = text.trim().replace(/^http:\/\//i, '');
  const withScheme = /^https:\/\//i.test(raw) ? raw : `https://${raw}`;
  const hostPort = withScheme.slice('https://'.length).replace(/\/+$/, '');
  if (hostPort === '' || /[/?#@\s]/.test(hostPort)) {
    throw new UsageError(`${source}: '${text.trim()}' is not a server address (expected HOST[:PORT], e.g. 127.0.0.1:7373)`);
  }
  const port = /^(?:\[[^\]]*\]|[^:]*):(\d*)$/.exec(hostPort)?.[1];
  if (port !== undefined) {
    const n = Number(port);
    if (port === '' || !Number.isInteger(n) || n < 1 || n > 65535) {
      throw new UsageError(`${source}: port '${port}' of '${text.trim()}' is out of range (1–65535)`);
    }
  }
  let url: URL;
  try {
    url = new URL(`https://${hostPort}`);
  } catch {
    throw new UsageError(`${source}: '${text.trim()}' is not a server address (expected HOST[:PORT], e.g. 127.0.0.1:7373)`);
  }
  return url.origin;
}

/** Splits a comma-separated endpoint list (empty entries are ignored). */
export function parseEndpoints(text: string, source: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => parseEndpoint(s, source));
  if (list.length === 0) throw new UsageError(`${source} is empty: give a server address such as ${DEFAULT_SERVER}`);
  return list;
}

/**
 * Resolves endpoints and credentials. Flags win; a credential flag (`--api-key`,
 * `--client-cert`, `--client-key`) makes the environment's credentials irrelevant.
 * Exactly one credential kind: an API key, or a certificate and its private key.
 *
 * @throws UsageError for a malformed address or conflicting credential flags;
 *   CliFailure when no credentials are given at all (with what to set).
 */
export function resolveClientSettings(flags: ClientFlags, env: Env): ClientSettings {
  let endpoints: string[];
  let endpointSource: string;
  if (flags.server !== undefined) {
    endpointSource = '--server';
    endpoints = parseEndpoints(flags.server, endpointSource);
  } else {
    const found = lookup(env, CLIENT_ENV.server);
    endpointSource = found?.name ?? 'default';
    endpoints = found && found.value.trim() !== '' ? parseEndpoints(found.value, found.name) : [parseEndpoint(DEFAULT_SERVER, 'default')];
  }

  const fromFlags = flags.apiKey !== undefined || flags.clientCert !== undefined || flags.clientKey !== undefined;
  const pick = (flag: string | undefined, flagName: string, names: readonly string[]): Found =>
    fromFlags ? (flag === undefined ? undefined : { name: flagName, value: flag }) : lookup(env, names);
  const apiKey = present(pick(flags.apiKey, '--api-key', CLIENT_ENV.apiKey));
  const cert = present(pick(flags.clientCert, '--client-cert', CLIENT_ENV.certFile));
  const key = present(pick(flags.clientKey, '--client-key', CLIENT_ENV.keyFile));

  // Flags the user typed are a usage problem; a broken environment is a plain failure.
  const Problem = fromFlags ? UsageError : CliFailure;
  if (apiKey && (cert || key)) {
    throw new Problem(`${apiKey.name} and ${(cert ?? key)?.name} are both set: use an API key or a client certificate and key, not both`);
  }
  if (cert && !key) throw new Problem(`${cert.name} is set but no client key is (--client-key or KES_CLIENT_KEY)`);
  if (key && !cert) throw new Problem(`${key.name} is set but no client certificate is (--client-cert or KES_CLIENT_CERT)`);
  let credentials: ClientCredentials;
  if (apiKey) credentials = { kind: 'api-key', apiKey: apiKey.value.trim(), source: apiKey.name };
  else if (cert && key) credentials = { kind: 'certificate', certFile: cert.value, keyFile: key.value, source: cert.name };
  else {
    throw new CliFailure(
      'no credentials: set KES_API_KEY (or pass --api-key), or set KES_CLIENT_CERT and KES_CLIENT_KEY (or pass --client-cert and --client-key)',
    );
  }
  return {
    endpoints,
    endpointSource,
    credentials,
    ...(flags.ca !== undefined && flags.ca !== '' ? { caFile: flags.ca } : {}),
    insecure: flags.insecure === true,
  };
}

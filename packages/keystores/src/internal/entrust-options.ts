// Checks the options of the Entrust KeyControl store. Messages name the option, never
// its value when it may be a secret (the password).
import { readFile } from 'node:fs/promises';
import { KesError } from '@kes/core';

/** The options as the caller passes them (see `EntrustKeyStoreOptions`). */
export interface RawEntrustOptions {
  readonly endpoint: string;
  readonly vaultId: string;
  readonly boxId: string;
  readonly credentials: { readonly username: string; readonly password: string };
  readonly tls?: { readonly ca?: string };
  readonly requestTimeoutMs?: number;
}

/** Checked options, CA loaded. */
export interface ResolvedEntrustOptions {
  readonly endpoint: URL;
  readonly vaultId: string;
  readonly boxId: string;
  readonly username: string;
  readonly password: string;
  readonly ca: string | undefined;
  readonly requestTimeoutMs: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

function invalid(what: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`entrust keycontrol: ${what}`], cause === undefined ? undefined : { cause });
}

function reqString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`option '${name}' must be a non-empty string`);
  return v;
}

/**
 * Validates every option and loads the CA file.
 * @throws KesError ERR_KES_INVALID_ARGUMENT naming the offending option.
 */
export async function resolveEntrustOptions(options: RawEntrustOptions): Promise<ResolvedEntrustOptions> {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const text = reqString(options.endpoint, 'endpoint').trim();
  let endpoint: URL;
  try {
    endpoint = new URL(text);
  } catch {
    throw invalid(`option 'endpoint' is not a URL: '${text}' (expected e.g. https://keycontrol.example.net)`);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') throw invalid("option 'endpoint' must be an http:// or https:// URL");
  // Credentials belong in `credentials`; a URL with user information would send them elsewhere.
  if (endpoint.username || endpoint.password) throw invalid("option 'endpoint' must not contain user information");
  if (endpoint.search || endpoint.hash) throw invalid("option 'endpoint' must not contain a query or fragment");

  const vaultId = reqString(options.vaultId, 'vaultId');
  // Path traversal: the vault id is a URL path segment; `.`/`..` would leave the Login/ route.
  if (vaultId === '.' || vaultId === '..' || /[\0-\x1f\x7f]/.test(vaultId)) throw invalid("option 'vaultId' is not a valid vault id");
  const boxId = reqString(options.boxId, 'boxId');

  const creds = options.credentials as unknown;
  if (typeof creds !== 'object' || creds === null) throw invalid("option 'credentials' (username and password) is required");
  const username = reqString((creds as { username?: unknown }).username, 'credentials.username');
  const password = (creds as { password?: unknown }).password;
  if (typeof password !== 'string' || password === '') throw invalid("option 'credentials.password' must be a non-empty string");

  const t = options.requestTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t <= 0)) {
    throw invalid("option 'requestTimeoutMs' must be a positive integer");
  }

  let ca: string | undefined;
  const tls = options.tls as unknown;
  if (tls !== undefined && (typeof tls !== 'object' || tls === null)) throw invalid("option 'tls' must be an object");
  const caOpt = (tls as { ca?: unknown } | undefined)?.ca;
  if (caOpt !== undefined) {
    const value = reqString(caOpt, 'tls.ca');
    if (endpoint.protocol !== 'https:') throw invalid("option 'tls.ca' needs an https:// endpoint");
    ca = await pemOrFile(value);
  }
  return {
    endpoint,
    vaultId,
    boxId,
    username,
    password,
    ca,
    requestTimeoutMs: t ?? DEFAULT_REQUEST_TIMEOUT_MS,
  };
}

/** PEM text as given, or the content of the file it names (which must hold a certificate). */
async function pemOrFile(value: string): Promise<string> {
  if (value.includes('-----BEGIN')) return value;
  let text: string;
  try {
    text = await readFile(value, 'utf8');
  } catch (err) {
    throw invalid(`option 'tls.ca': cannot read ${value}`, err);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw invalid(`option 'tls.ca': ${value} holds no PEM certificate`);
  return text;
}

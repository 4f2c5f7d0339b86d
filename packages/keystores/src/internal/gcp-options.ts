// Synchronous validation of GcpKeyStoreOptions. Messages name the option, never its
// value (the private key is a secret).
import { readFileSync } from 'node:fs';
import { KesError } from '@kes/core';
import { GOOGLE_METADATA_URL, GOOGLE_TOKEN_URL, parsePrivateKey, parseUrl } from './gcp-auth.js';
import type { GcpLogin } from './gcp-auth.js';
import type { GcpKeyStoreOptions } from '../gcp.js';

/** Secret Manager's public endpoint. */
export const GOOGLE_SECRET_MANAGER_URL = 'https://secretmanager.googleapis.com';
/** The scope upstream (and Google's libraries) ask for by default. */
export const DEFAULT_SCOPES: readonly string[] = ['https://www.googleapis.com/auth/cloud-platform'];
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** `pageSize` of a listing request; Secret Manager caps it at 25 000. */
const DEFAULT_LIST_PAGE_SIZE = 1000;
const MAX_LIST_PAGE_SIZE = 25_000;
/**
 * Project ids (`my-project`), project numbers and legacy domain-scoped ids
 * (`example.com:my-project`). Nothing that could leave `projects/<id>/` in a URL.
 */
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,127}$/;

/** The validated configuration. */
export interface ResolvedGcpOptions {
  readonly projectId: string;
  /** API base, e.g. `https://secretmanager.googleapis.com` (no trailing `/`). */
  readonly api: URL;
  readonly login: GcpLogin;
  readonly scopes: readonly string[];
  readonly explicitScopes: boolean;
  readonly ca: string | undefined;
  readonly requestTimeoutMs: number;
  readonly listPageSize: number;
}

function invalid(message: string): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`gcp secretmanager: ${message}`]);
}

function isNonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

/**
 * Upstream's `endpoint` is a gRPC `host:port` (and the URL of its status probe), so
 * both spellings are accepted: a URL as is, `host[:port]` as `https://host[:port]`.
 */
export function endpointUrl(endpoint: string): URL {
  const raw = endpoint.trim();
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  const url = parseUrl(text, 'endpoint', true);
  if (url.search || url.hash) throw new Error('endpoint must not contain a query or fragment');
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** PEM text as given, or the content of the file it names. */
function pemOrFile(value: string, field: string): string {
  if (value.includes('-----BEGIN')) return value;
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    throw invalid(`cannot read ${field} file ${value}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!text.includes('-----BEGIN')) throw invalid(`${field} file ${value} holds no PEM certificate`);
  return text;
}

/**
 * Checks `options` and resolves defaults.
 * @throws KesError ERR_KES_INVALID_ARGUMENT naming the option at fault.
 */
export function resolveGcpOptions(options: GcpKeyStoreOptions, env: Readonly<Record<string, string | undefined>>): ResolvedGcpOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  if (!isNonEmpty(options.projectId)) throw invalid('projectId must be a non-empty string');
  if (!PROJECT_ID.test(options.projectId)) throw invalid('projectId must be a GCP project id or number');
  const url = (value: unknown, field: string, allowHttp: boolean, fallback: string): URL => {
    if (value === undefined) return new URL(fallback);
    if (!isNonEmpty(value)) throw invalid(`${field} must be a non-empty string`);
    try {
      return field === 'endpoint' ? endpointUrl(value) : parseUrl(value.trim(), field, allowHttp);
    } catch (err) {
      throw invalid((err as Error).message);
    }
  };
  const api = url(options.endpoint, 'endpoint', true, GOOGLE_SECRET_MANAGER_URL);
  const tokenUrl = url(options.tokenUrl, 'tokenUrl', false, GOOGLE_TOKEN_URL);
  const metadataUrl = url(options.metadataUrl, 'metadataUrl', true, GOOGLE_METADATA_URL);

  let scopes = DEFAULT_SCOPES;
  const explicitScopes = options.scopes !== undefined && options.scopes.length > 0;
  if (options.scopes !== undefined) {
    if (!Array.isArray(options.scopes) || !options.scopes.every((s) => isNonEmpty(s) && !/\s/.test(s))) {
      throw invalid('scopes must be a list of scope URLs without spaces');
    }
    if (explicitScopes) scopes = [...options.scopes];
  }

  let login: GcpLogin;
  const c = options.credentials;
  if (c !== undefined) {
    if (typeof c !== 'object' || c === null) throw invalid('credentials must be an object');
    for (const field of ['clientEmail', 'clientId', 'privateKeyId', 'privateKey'] as const) {
      if (!isNonEmpty(c[field])) throw invalid(`credentials.${field} must be a non-empty string`);
    }
    try {
      login = {
        kind: 'service-account',
        account: {
          clientEmail: c.clientEmail,
          privateKeyId: c.privateKeyId,
          privateKey: parsePrivateKey(c.privateKey, 'credentials.privateKey'),
          tokenUrl,
        },
      };
    } catch (err) {
      throw invalid((err as Error).message);
    }
  } else {
    if (options.credentialsFile !== undefined && !isNonEmpty(options.credentialsFile)) {
      throw invalid('credentialsFile must be a non-empty string');
    }
    // Application default credentials, in Google's order: the file named by
    // GOOGLE_APPLICATION_CREDENTIALS, else the metadata server.
    const file = options.credentialsFile ?? env.GOOGLE_APPLICATION_CREDENTIALS;
    login = isNonEmpty(file) ? { kind: 'file', path: file } : { kind: 'metadata', url: metadataUrl };
  }

  let ca: string | undefined;
  if (options.tls !== undefined) {
    if (typeof options.tls !== 'object' || options.tls === null) throw invalid('tls must be an object');
    if (options.tls.ca !== undefined) {
      if (!isNonEmpty(options.tls.ca)) throw invalid('tls.ca must be a non-empty string');
      ca = pemOrFile(options.tls.ca, 'tls.ca');
    }
  }
  const t = options.requestTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t <= 0)) throw invalid('requestTimeoutMs must be a positive integer');
  const p = options.listPageSize;
  if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > MAX_LIST_PAGE_SIZE)) {
    throw invalid(`listPageSize must be an integer from 1 to ${MAX_LIST_PAGE_SIZE}`);
  }
  return {
    projectId: options.projectId,
    api,
    login,
    scopes,
    explicitScopes,
    ca,
    requestTimeoutMs: t ?? DEFAULT_REQUEST_TIMEOUT_MS,
    listPageSize: p ?? DEFAULT_LIST_PAGE_SIZE,
  };
}

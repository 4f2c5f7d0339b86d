// Synchronous validation of GemaltoKeyStoreOptions. Messages name the option, never
// its value (the refresh token is a secret).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KesError } from '@kes/core';
import type { GemaltoKeyStoreOptions } from '../gemalto.js';

/** The validated configuration. */
export interface ResolvedGemaltoOptions {
  /** Base URL without query, fragment, credentials or trailing `/`. */
  readonly endpoint: URL;
  readonly refreshToken: string;
  /** `''` = the root domain. */
  readonly domain: string;
  /** PEM trust anchors, when configured. */
  readonly ca: string | undefined;
  readonly requestTimeoutMs: number;
  readonly loginRetryMs: number;
}

/** Default deadline of one request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Delay before a failed background login is tried again (fixed 5 s upstream). */
export const DEFAULT_LOGIN_RETRY_MS = 5_000;

function invalid(message: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`gemalto: ${message}`], cause === undefined ? undefined : { cause });
}

function optMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(`option '${name}' must be a positive number of milliseconds`);
  return value;
}

/** PEM text as given, or the content of the file (or of every PEM file in the directory, as upstream) it names. */
function loadCa(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  let pem: string;
  try {
    pem = statSync(value).isDirectory()
      ? readdirSync(value, { withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => readFileSync(join(value, e.name), 'utf8'))
          .join('\n')
      : readFileSync(value, 'utf8');
  } catch (err) {
    throw invalid(`option 'tls.ca': cannot read ${value}`, err);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw invalid(`option 'tls.ca': ${value} contains no PEM certificate`);
  return pem;
}

/**
 * Validates every option synchronously.
 * @throws KesError ERR_KES_INVALID_ARGUMENT naming the offending option.
 */
export function resolveGemaltoOptions(options: GemaltoKeyStoreOptions): ResolvedGemaltoOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  if (typeof options.endpoint !== 'string' || options.endpoint.trim() === '') throw invalid(`option 'endpoint' must be a non-empty string`);
  let endpoint: URL;
  try {
    endpoint = new URL(options.endpoint.trim());
  } catch (err) {
    throw invalid(`option 'endpoint' is not a valid URL`, err);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') throw invalid(`option 'endpoint' must be an https:// (or http://) URL`);
  if (endpoint.search || endpoint.hash || endpoint.username || endpoint.password) {
    throw invalid(`option 'endpoint' must not contain credentials, a query or a fragment`);
  }
  endpoint.pathname = endpoint.pathname.replace(/\/+$/, '');

  const c = options.credentials as GemaltoKeyStoreOptions['credentials'] | undefined;
  if (typeof c !== 'object' || c === null) throw invalid(`option 'credentials' must be an object with a 'token'`);
  if (typeof c.token !== 'string' || c.token.trim() === '') throw invalid(`option 'credentials.token' must be a non-empty string (a refresh token)`);
  if (c.domain !== undefined && typeof c.domain !== 'string') throw invalid(`option 'credentials.domain' must be a string`);

  let ca: string | undefined;
  if (options.tls !== undefined) {
    if (typeof options.tls !== 'object' || options.tls === null) throw invalid(`option 'tls' must be an object`);
    const value = options.tls.ca;
    if (value !== undefined && typeof value !== 'string') throw invalid(`option 'tls.ca' must be a string`);
    if (value) {
      if (endpoint.protocol !== 'https:') throw invalid(`option 'tls.ca' needs an https:// endpoint`);
      ca = loadCa(value);
    }
  }

  return {
    endpoint,
    refreshToken: c.token,
    domain: c.domain ?? '',
    ca,
    requestTimeoutMs: optMs(options.requestTimeoutMs, 'requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS),
    loginRetryMs: optMs(options.loginRetryMs, 'loginRetryMs', DEFAULT_LOGIN_RETRY_MS),
  };
}

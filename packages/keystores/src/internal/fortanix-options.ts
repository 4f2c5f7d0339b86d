// Synchronous validation of FortanixKeyStoreOptions. Messages name the option, never
// its value (the API key is a secret).
import { readFileSync } from 'node:fs';
import { KesError } from '@kes/core';
import type { FortanixKeyStoreOptions } from '../fortanix.js';

/** The validated configuration. */
export interface ResolvedFortanixOptions {
  readonly endpoint: URL;
  readonly groupId: string | undefined;
  readonly apiKey: string;
  /** PEM text of the CA certificates to trust, or undefined for the system roots. */
  readonly ca: string | undefined;
  readonly requestTimeoutMs: number;
}

/** Default timeout of one DSM request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

function invalid(message: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`fortanix: ${message}`], cause === undefined ? undefined : { cause });
}

/** A group id is a UUID in DSM; anything else is refused so it cannot smuggle JSON or query syntax. */
const GROUP_ID = /^[A-Za-z0-9-]{1,64}$/;
/**
 * An application API key is base64 of `<app uuid>:<secret>`. Checked for its alphabet
 * only: a line break or other control character would otherwise end up in an HTTP header.
 */
const API_KEY = /^[A-Za-z0-9+/=_-]+$/;

/**
 * Validates every option synchronously.
 * @throws KesError ERR_KES_INVALID_ARGUMENT naming the offending option.
 */
export function resolveFortanixOptions(options: FortanixKeyStoreOptions): ResolvedFortanixOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  if (typeof options.endpoint !== 'string' || options.endpoint === '') throw invalid(`option 'endpoint' must be a non-empty string`);
  let endpoint: URL;
  try {
    endpoint = new URL(options.endpoint);
  } catch (err) {
    throw invalid(`option 'endpoint' is not a valid URL`, err);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') throw invalid(`option 'endpoint' must be an https:// or http:// URL`);
  if (endpoint.search || endpoint.hash || endpoint.username || endpoint.password) {
    throw invalid(`option 'endpoint' must not contain credentials, a query or a fragment`);
  }

  if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw invalid(`option 'apiKey' must be a non-empty string`);
  const apiKey = options.apiKey.trim();
  if (!API_KEY.test(apiKey)) throw invalid(`option 'apiKey' is not a DSM application API key (expected base64 text)`);

  let groupId: string | undefined;
  if (options.groupId !== undefined && options.groupId !== '') {
    if (typeof options.groupId !== 'string' || !GROUP_ID.test(options.groupId)) {
      throw invalid(`option 'groupId' must be a DSM group id (a UUID)`);
    }
    groupId = options.groupId;
  }

  let ca: string | undefined;
  const caOption = options.tls?.ca;
  if (caOption !== undefined && caOption !== '') {
    if (typeof caOption !== 'string') throw invalid(`option 'tls.ca' must be PEM text or a file name`);
    if (caOption.includes('-----BEGIN')) {
      ca = caOption;
    } else {
      try {
        ca = readFileSync(caOption, 'utf8');
      } catch (err) {
        throw invalid(`option 'tls.ca': cannot read ${caOption}`, err);
      }
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw invalid(`option 'tls.ca': no PEM certificate found`);
  }

  const timeout = options.requestTimeoutMs;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
    throw invalid(`option 'requestTimeoutMs' must be a positive number of milliseconds`);
  }
  return { endpoint, groupId, apiKey, ca, requestTimeoutMs: timeout ?? DEFAULT_REQUEST_TIMEOUT_MS };
}

/**
 * The AWS Secrets Manager key store (`keystore.aws.secretsmanager`): one secret
 * per key, secret name = key name, the value in `SecretString`, exactly the
 * layout upstream KES uses, so both can share one account.
 *
 * The AWS SDK (`@aws-sdk/client-secrets-manager`) is an optional peer dependency,
 * loaded with `import()` on first use: importing this module, or any other store,
 * never loads it, and a missing SDK fails the first call with an error naming it.
 */
import { KesError, isValidName } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus, KeyVersionStore } from '@kes/core';
// Types only: a value import here would load the SDK for every user of @kes/keystores.
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { awsErrorCode, awsErrorMessage, isAwsNetworkError, sanitizeAwsError } from './internal/aws-errors.js';
import { awsSdkLoadError } from './internal/aws-sdk.js';
import { decodeAwsSecret, encodeAwsSecret } from './internal/aws-value.js';
import { checkCall } from './internal/call.js';
import { ListSnapshots } from './internal/list.js';
import { separatedNaming, separatedRecordPrefix } from './internal/record-name.js';
import { recordStoreOver } from './internal/record-store.js';

type Sdk = typeof import('@aws-sdk/client-secrets-manager');

/** Static AWS credentials. Without them the SDK's default credential chain is used. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Options of {@link createAwsKeyStore}. */
export interface AwsKeyStoreOptions {
  /**
   * Secrets Manager endpoint, e.g. `secretsmanager.us-east-2.amazonaws.com` or
   * `http://127.0.0.1:5000`. A value without scheme gets `https://`. Default:
   * the SDK's endpoint for `region`.
   */
  readonly endpoint?: string;
  /** AWS region, e.g. `us-east-1`. */
  readonly region: string;
  /** KMS key id or ARN that encrypts new secrets. Default: the account's `aws/secretsmanager` key. */
  readonly kmsKeyId?: string;
  /** Static credentials; absent → the SDK's default chain (environment, shared files, instance role). */
  readonly credentials?: AwsCredentials;
  /** Timeout of one HTTP request (connect and idle), in milliseconds. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Attempts per call, including retries of throttled or failed requests. Default 3 (the SDK's). */
  readonly maxAttempts?: number;
}

/** Page size of `ListSecrets` (the AWS maximum). */
const LIST_PAGE_SIZE = 100;
/** Guard against an endpoint that never stops handing out `NextToken`s. */
const MAX_LIST_REQUESTS = 100_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ATTEMPTS = 3;

/** An error answer that means "this secret is scheduled for deletion" (AWS: InvalidRequestException). */
function isMarkedForDeletion(err: unknown): boolean {
  return awsErrorCode(err) === 'InvalidRequestException' && /marked (for )?delet/i.test(awsErrorMessage(err));
}

function invalid(what: string): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`aws secretsmanager: ${what}`]);
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0;
}

/** Validates the options; messages name the field, never its value (it may be a secret). */
function validateOptions(options: AwsKeyStoreOptions): string | undefined {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  if (!isNonEmptyString(options.region)) throw invalid('region must be a non-empty string');
  let endpoint: string | undefined;
  if (options.endpoint !== undefined) {
    if (!isNonEmptyString(options.endpoint)) throw invalid('endpoint must be a non-empty string');
    const raw = options.endpoint.trim();
    endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw invalid('endpoint is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('endpoint must be an http or https URL');
    if (url.username || url.password) throw invalid('endpoint must not contain user information');
  }
  if (options.kmsKeyId !== undefined && !isNonEmptyString(options.kmsKeyId)) {
    throw invalid('kmsKeyId must be a non-empty string');
  }
  const creds = options.credentials;
  if (creds !== undefined) {
    if (typeof creds !== 'object' || creds === null) throw invalid('credentials must be an object');
    if (!isNonEmptyString(creds.accessKeyId)) throw invalid('credentials.accessKeyId must be a non-empty string');
    if (!isNonEmptyString(creds.secretAccessKey)) {
      throw invalid('credentials.secretAccessKey must be a non-empty string');
    }
    if (creds.sessionToken !== undefined && typeof creds.sessionToken !== 'string') {
      throw invalid('credentials.sessionToken must be a string');
    }
  }
  const t = options.requestTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t <= 0)) {
    throw invalid('requestTimeoutMs must be a positive integer');
  }
  const a = options.maxAttempts;
  if (a !== undefined && (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > 20)) {
    throw invalid('maxAttempts must be an integer from 1 to 20');
  }
  return endpoint;
}

class AwsKeyStore implements KeyStore {
  readonly kind: string;
  readonly #options: AwsKeyStoreOptions;
  readonly #endpoint: string | undefined;
  #sdk: Promise<Sdk> | undefined;
  #client: SecretsManagerClient | undefined;
  #closed = false;
  /** `prefix + '\n' + continueAt` → the names of the listing that continues there. */
  readonly #listing = new ListSnapshots();
  /** The records of rotated keys: secrets `<name>/versions/<id>` (see `#versionStore`). */
  readonly versions: KeyVersionStore;

  constructor(options: AwsKeyStoreOptions, endpoint: string | undefined) {
    // Keep a private copy: later changes to the caller's object have no effect.
    this.#options = {
      ...options,
      ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    };
    this.#endpoint = endpoint;
    this.kind = `aws-secretsmanager:${endpoint ?? options.region}`;
    this.versions = this.#versionStore();
  }

  /** Loads the SDK (once) and builds the client on first use. */
  async #connect(): Promise<{ sdk: Sdk; client: SecretsManagerClient }> {
    this.#sdk ??= import('@aws-sdk/client-secrets-manager');
    let sdk: Sdk;
    try {
      sdk = await this.#sdk;
    } catch (err) {
      this.#sdk = undefined;
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: awsSdkLoadError(err) });
    }
    // close() may have run while the SDK was loading.
    checkCall(this.#closed, undefined);
    if (!this.#client) {
      const o = this.#options;
      const timeout = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const config: SecretsManagerClientConfig = {
        region: o.region,
        maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        // throwOnRequestTimeout: without it the SDK only logs a warning and keeps waiting.
        requestHandler: { requestTimeout: timeout, connectionTimeout: timeout, throwOnRequestTimeout: true },
        ...(this.#endpoint ? { endpoint: this.#endpoint } : {}),
        ...(o.credentials
          ? {
              credentials: {
                accessKeyId: o.credentials.accessKeyId,
                secretAccessKey: o.credentials.secretAccessKey,
                ...(o.credentials.sessionToken ? { sessionToken: o.credentials.sessionToken } : {}),
              },
            }
          : {}),
      };
      this.#client = new sdk.SecretsManagerClient(config);
    }
    return { sdk, client: this.#client };
  }

  /**
   * Runs one SDK operation. `classify` turns the AWS answers the operation
   * expects (not found, exists) into catalogued errors; everything else becomes
   * `unavailable` (or the signal's reason when the call was aborted).
   */
  async #run<T>(
    signal: AbortSignal | undefined,
    op: (sdk: Sdk, client: SecretsManagerClient) => Promise<T>,
    classify: (err: unknown) => KesError | undefined = () => undefined,
    secrets: readonly string[] = [],
    unreachable = false,
  ): Promise<T> {
    checkCall(this.#closed, signal);
    try {
      const { sdk, client } = await this.#connect();
      signal?.throwIfAborted();
      return await op(sdk, client);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof KesError) throw err;
      if (this.#closed) {
        throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('key store is closed') });
      }
      const known = classify(err);
      if (known) throw known;
      // Never pass the SDK error on: it holds the raw HTTP response (see aws-errors.ts).
      const cause = sanitizeAwsError(err, secrets);
      const code = unreachable && isAwsNetworkError(err) ? 'ERR_KES_KEYSTORE_UNREACHABLE' : 'ERR_KES_KEYSTORE_UNAVAILABLE';
      throw new KesError(code, [], { cause });
    }
  }

  /** Defence in depth: the name must not be read as an ARN or a path by Secrets Manager. */
  #checkName(name: string): void {
    if (typeof name !== 'string' || !isValidName(name)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [String(name)]);
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    checkCall(this.#closed, options?.signal);
    this.#checkName(name);
    await this.#createSecret(name, value, options?.signal);
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    checkCall(this.#closed, options?.signal);
    this.#checkName(name);
    return this.#getSecret(name, options?.signal);
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    checkCall(this.#closed, options?.signal);
    this.#checkName(name);
    await this.#deleteSecret(name, options?.signal);
  }

  /**
   * The version records: secret `<name>/versions/<id>`, created, read and deleted exactly
   * like a key (CreateSecret is create-only, the same `KmsKeyId`, forced delete). `/` never
   * occurs in a KES name, so a record can never be (or be read as) a key; the key listing
   * (`list()`) skips every name with `/`.
   */
  #versionStore(): KeyVersionStore {
    return recordStoreOver({
      location: `${this.kind} (secrets <name>/versions/<id>)`,
      naming: separatedNaming('/'),
      closed: () => this.#closed,
      create: (secret, value, signal) => this.#createSecret(secret, value, signal),
      get: (secret, signal) => this.#getSecret(secret, signal),
      delete: (secret, signal) => this.#deleteSecret(secret, signal),
      // The name filter is a prefix match; the naming keeps only exact `<name>/versions/<id>`
      // (not `<name>2/…`, not deeper paths).
      walk: async (signal, visit, name) => {
        for (const secret of await this.#fetchNames(separatedRecordPrefix(name, '/'), signal, true)) visit(secret);
      },
    });
  }

  /** CreateSecret of `secret` (a key name or a record name). @throws ERR_KES_KEY_EXISTS if the name is taken */
  async #createSecret(secret: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    const payload = encodeAwsSecret(value);
    const secrets =
      'SecretString' in payload
        ? [payload.SecretString, Buffer.from(payload.SecretString).toString('base64')]
        : [Buffer.from(payload.SecretBinary).toString('base64')];
    const kmsKeyId = this.#options.kmsKeyId;
    await this.#run(
      signal,
      (sdk, client) =>
        client.send(new sdk.CreateSecretCommand({ Name: secret, ...payload, ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}) }), {
          ...(signal ? { abortSignal: signal } : {}),
        }),
      (err) => {
        if (awsErrorCode(err) === 'ResourceExistsException') return new KesError('ERR_KES_KEY_EXISTS');
        // AWS answers InvalidRequestException for a name held by a secret scheduled for deletion: the name is taken.
        if (isMarkedForDeletion(err)) return new KesError('ERR_KES_KEY_EXISTS');
        return undefined;
      },
      secrets,
    );
  }

  /** GetSecretValue of `secret` (AWSCURRENT). @throws ERR_KES_KEY_NOT_FOUND if absent or scheduled for deletion */
  async #getSecret(secret: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const out = await this.#run(
      signal,
      (sdk, client) =>
        client.send(new sdk.GetSecretValueCommand({ SecretId: secret }), {
          ...(signal ? { abortSignal: signal } : {}),
        }),
      (err) => {
        // A secret scheduled for deletion cannot be read: for KES it is gone.
        if (awsErrorCode(err) === 'ResourceNotFoundException' || isMarkedForDeletion(err)) {
          return new KesError('ERR_KES_KEY_NOT_FOUND');
        }
        return undefined;
      },
    );
    const value = decodeAwsSecret(out);
    if (value === undefined) {
      throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], {
        cause: new Error(`aws secretsmanager: secret '${secret}' has neither SecretString nor SecretBinary`),
      });
    }
    return value;
  }

  /** DescribeSecret, then a forced DeleteSecret of `secret`. @throws ERR_KES_KEY_NOT_FOUND if absent or scheduled for deletion */
  async #deleteSecret(secret: string, signal: AbortSignal | undefined): Promise<void> {
    const notFound = (err: unknown): KesError | undefined =>
      awsErrorCode(err) === 'ResourceNotFoundException' || isMarkedForDeletion(err) ? new KesError('ERR_KES_KEY_NOT_FOUND') : undefined;
    const send = signal ? { abortSignal: signal } : {};
    // A forced delete of a missing secret may succeed (moto does, following AWS), so
    // look first: the contract wants ERR_KES_KEY_NOT_FOUND for a missing name.
    const described = await this.#run(signal, (sdk, client) => client.send(new sdk.DescribeSecretCommand({ SecretId: secret }), send), notFound);
    if (described.DeletedDate !== undefined) throw new KesError('ERR_KES_KEY_NOT_FOUND');
    await this.#run(
      signal,
      (sdk, client) => client.send(new sdk.DeleteSecretCommand({ SecretId: secret, ForceDeleteWithoutRecovery: true }), send),
      notFound,
    );
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    checkCall(this.#closed, options?.signal);
    if (typeof prefix !== 'string') throw new KesError('ERR_KES_INVALID_PATTERN', [String(prefix)]);
    return this.#listing.page(prefix, options, () => this.#fetchNames(prefix, options?.signal));
  }

  /**
   * Every secret name starting with `prefix` (a superset: the exact filter is the caller's),
   * following `NextToken`. Names with `/` (version records, and secrets that cannot be KES
   * keys anyway) are dropped unless `withSlash`, before any paging, so pages stay full.
   */
  async #fetchNames(prefix: string, signal: AbortSignal | undefined, withSlash = false): Promise<string[]> {
    return this.#run(signal, async (sdk, client) => {
      const all: string[] = [];
      const seen = new Set<string>();
      let token: string | undefined;
      for (let i = 0; i < MAX_LIST_REQUESTS; i++) {
        const page = await client.send(
          new sdk.ListSecretsCommand({
            MaxResults: LIST_PAGE_SIZE,
            ...(token ? { NextToken: token } : {}),
            // A server-side prefix filter (case-sensitive prefix match); the exact
            // filtering is still done below by listPage.
            ...(prefix ? { Filters: [{ Key: 'name', Values: [prefix] }] } : {}),
          }),
          signal ? { abortSignal: signal } : {},
        );
        for (const entry of page.SecretList ?? []) {
          if (typeof entry.Name === 'string' && (withSlash || !entry.Name.includes('/')) && !seen.has(entry.Name)) {
            seen.add(entry.Name);
            all.push(entry.Name);
          }
        }
        if (!page.NextToken || page.NextToken === token) return all;
        token = page.NextToken;
      }
      throw new Error(`ListSecrets did not finish after ${MAX_LIST_REQUESTS} pages`);
    });
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    checkCall(this.#closed, options?.signal);
    const started = performance.now();
    // A signed ListSecrets of one entry: it proves the endpoint answers AND that
    // the credentials work (upstream only GETs the endpoint, unauthenticated).
    await this.#run(
      options?.signal,
      (sdk, client) =>
        client.send(new sdk.ListSecretsCommand({ MaxResults: 1 }), {
          ...(options?.signal ? { abortSignal: options.signal } : {}),
        }),
      undefined,
      [],
      true,
    );
    return { latencyMs: performance.now() - started };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listing.close();
    const client = this.#client;
    this.#client = undefined;
    client?.destroy();
  }
}

/**
 * Creates a key store on AWS Secrets Manager. Options are checked now; the SDK
 * is loaded and the client built on the first call.
 *
 * Layout (as upstream KES): secret name = key name; value in `SecretString`
 * (`SecretBinary` for values that are not UTF-8); `KmsKeyId` on create when
 * `kmsKeyId` is set; delete is immediate (`ForceDeleteWithoutRecovery`).
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` for invalid options (the message names the field)
 * @example
 * const store = createAwsKeyStore({ region: 'us-east-1', kmsKeyId: 'alias/kes' });
 * await store.create('my-key', value);
 */
export function createAwsKeyStore(options: AwsKeyStoreOptions): KeyStore {
  const endpoint = validateOptions(options);
  return new AwsKeyStore(options, endpoint);
}

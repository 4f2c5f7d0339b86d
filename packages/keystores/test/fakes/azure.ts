/**
 * A FAKE Azure Key Vault + Entra ID token endpoint for tests, written from the public
 * REST documentation (Key Vault secrets API 7.x, OAuth2 client-credentials, IMDS and
 * App Service managed-identity endpoints). It is not Azure: it keeps secrets in
 * memory and models only what the key store uses — versions with attributes, soft
 * delete with a "being deleted" phase and purge, paged listings with absolute
 * `nextLink`s, bearer tokens that expire, the 401 challenge — plus hooks to inject
 * throttling, 5xx answers and hangs.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { createPrivateKey } from 'node:crypto';
import { createSelfSignedCertificate } from '@kes/core';

/** One version of a secret. */
export interface FakeVersion {
  readonly version: string;
  readonly value: string;
  /** Unix seconds. */
  created: number;
  enabled: boolean;
  nbf?: number;
  exp?: number;
}

/** A failure injected for requests matching `match` (default: every vault request). */
export interface FakeFailure {
  readonly status: number | 'hang';
  /** How many requests fail (default: until cleared). */
  times?: number;
  readonly retryAfter?: string;
  readonly match?: (method: string, path: string) => boolean;
}

export interface FakeAzureOptions {
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Lifetime of issued tokens in seconds (default 3600). */
  readonly tokenTtlSeconds?: number;
  /** How long a deleted secret stays "being deleted" (purge and set answer 409) in ms. */
  readonly deletionDelayMs?: number;
  /** Page size of listings when the client asks for more (default 25, the Key Vault maximum). */
  readonly pageSize?: number;
}

const NAME = /^[0-9A-Za-z-]{1,127}$/;
const MAX_VALUE = 25 * 1024;

/** The running fake. */
export class FakeAzureKeyVault {
  readonly secrets = new Map<string, FakeVersion[]>();
  /** Soft-deleted secrets: name → the time (ms) their deletion completes. */
  readonly deleted = new Map<string, { versions: FakeVersion[]; readyAt: number }>();
  readonly requests: { method: string; path: string; auth: string | undefined }[] = [];
  readonly failures: FakeFailure[] = [];
  /** Valid bearer tokens → expiry (ms). */
  readonly tokens = new Map<string, number>();
  tokenRequests = 0;
  /** Every `nextLink` points here when set (to test that foreign links are not followed). */
  nextLinkOrigin: string | undefined;
  readonly caPem: string;
  readonly #server: Server;
  readonly #o: Required<FakeAzureOptions>;
  readonly #hung: ServerResponse[] = [];
  #origin = '';
  #clock = 1_700_000_000;

  private constructor(options: FakeAzureOptions) {
    this.#o = {
      tenantId: 'fake-tenant',
      clientId: 'fake-client',
      clientSecret: 'fake-client-secret-do-not-leak',
      tokenTtlSeconds: 3600,
      deletionDelayMs: 0,
      pageSize: 25,
      ...options,
    };
    const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'fake azure test CA', isCA: true, validityDays: 1 });
    const leaf = createSelfSignedCertificate({
      keyType: 'ecdsa-p256',
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extKeyUsage: ['serverAuth'],
      validityDays: 1,
      issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
    });
    this.caPem = ca.certificatePem;
    this.#server = createServer({ cert: leaf.certificatePem, key: leaf.privateKeyPem }, (req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 60_000;
  }

  /** Starts a fake on 127.0.0.1 and a random port. */
  static async start(options: FakeAzureOptions = {}): Promise<FakeAzureKeyVault> {
    const f = new FakeAzureKeyVault(options);
    await new Promise<void>((r) => f.#server.listen(0, '127.0.0.1', r));
    const addr = f.#server.address();
    f.#origin = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return f;
  }

  /** The vault URL (also the authority host and, under `/metadata/...`, the IMDS endpoint). */
  get url(): string {
    return this.#origin;
  }

  get credentials(): { tenantId: string; clientId: string; clientSecret: string } {
    return { tenantId: this.#o.tenantId, clientId: this.#o.clientId, clientSecret: this.#o.clientSecret };
  }

  /** Places a version exactly as another writer (upstream KES, the portal) would. */
  put(name: string, value: string, attrs: Partial<Omit<FakeVersion, 'version' | 'value'>> = {}): FakeVersion {
    const v: FakeVersion = { version: randomBytes(16).toString('hex'), value, created: this.#tick(), enabled: true, ...attrs };
    const list = this.secrets.get(name) ?? [];
    list.push(v);
    this.secrets.set(name, list);
    return v;
  }

  /** Makes every issued token expire now. */
  expireTokens(): void {
    for (const k of this.tokens.keys()) this.tokens.set(k, 0);
  }

  clearFailures(): void {
    this.failures.length = 0;
    for (const res of this.#hung.splice(0)) res.destroy();
  }

  async stop(): Promise<void> {
    this.clearFailures();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  #tick(): number {
    // Created times advance by one second per write, as a sequence of distinct writes would.
    return ++this.#clock;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', this.#origin);
      const body = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      this.requests.push({ method, path: url.pathname, auth: req.headers.authorization });
      const send = (status: number, payload?: unknown, headers: Record<string, string> = {}): undefined => {
        if (payload === undefined) res.writeHead(status, headers).end();
        else res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(payload));
      };
      if (/\/oauth2\/v2\.0\/token$/.test(url.pathname) && method === 'POST') return this.#token(url, body, req, send);
      if (url.pathname === '/metadata/identity/oauth2/token' || url.pathname === '/msi/token') return this.#managedIdentity(url, req, send);
      const failure = this.failures.find((f) => (f.times === undefined || f.times > 0) && (!f.match || f.match(method, url.pathname)));
      if (failure) {
        if (failure.times !== undefined) failure.times--;
        if (failure.status === 'hang') {
          this.#hung.push(res);
          return;
        }
        return send(
          failure.status,
          kvError(failure.status === 429 ? 'Throttled' : 'InternalError', 'injected failure'),
          failure.retryAfter ? { 'Retry-After': failure.retryAfter } : {},
        );
      }
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const expiry = token ? this.tokens.get(token) : undefined;
      if (!token || expiry === undefined || expiry <= Date.now()) {
        return send(
          401,
          kvError('Unauthorized', token ? 'AKV10032: Invalid issuer or token expired.' : 'AKV10000: Request is missing a Bearer or PoP token.'),
          {
            'WWW-Authenticate': `Bearer authorization="${this.#origin}/${this.#o.tenantId}", resource="https://vault.azure.net"`,
          },
        );
      }
      if (url.searchParams.get('api-version') !== '7.4') return send(400, kvError('BadParameter', 'The specified version is not supported'));
      this.#vault(method, url, body, send);
    });
  }

  #token(url: URL, body: string, _req: IncomingMessage, send: (s: number, p?: unknown) => undefined): undefined {
    this.tokenRequests++;
    const form = new URLSearchParams(body);
    const tenant = url.pathname.split('/')[1];
    if (tenant !== this.#o.tenantId) return send(400, { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
    if (form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'https://vault.azure.net/.default') {
      return send(400, { error: 'invalid_request', error_description: 'AADSTS900144: bad grant or scope' });
    }
    if (form.get('client_id') !== this.#o.clientId || form.get('client_secret') !== this.#o.clientSecret) {
      return send(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.\nTrace ID: 0000' });
    }
    send(200, { token_type: 'Bearer', expires_in: this.#o.tokenTtlSeconds, ext_expires_in: this.#o.tokenTtlSeconds, access_token: this.#issue() });
  }

  #managedIdentity(url: URL, req: IncomingMessage, send: (s: number, p?: unknown) => undefined): undefined {
    this.tokenRequests++;
    const appService = url.pathname === '/msi/token';
    if (appService ? req.headers['x-identity-header'] !== 'fake-identity-header' : req.headers.metadata !== 'true') {
      return send(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    }
    if (url.searchParams.get('resource') !== 'https://vault.azure.net') return send(400, { error: 'invalid_resource' });
    const clientId = url.searchParams.get('client_id');
    if (clientId !== null && clientId !== this.#o.clientId) {
      return send(400, { error: 'invalid_request', error_description: 'Identity not found' });
    }
    const expiresOn = Math.floor(Date.now() / 1000) + this.#o.tokenTtlSeconds;
    send(200, { access_token: this.#issue(), expires_on: String(expiresOn), resource: 'https://vault.azure.net', token_type: 'Bearer' });
  }

  #issue(): string {
    const t = `fake-token-${randomBytes(12).toString('hex')}`;
    this.tokens.set(t, Date.now() + this.#o.tokenTtlSeconds * 1000);
    return t;
  }

  #vault(method: string, url: URL, body: string, send: (s: number, p?: unknown) => undefined): undefined {
    const seg = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const name = seg[1] ?? '';
    const notFound = (): undefined => send(404, kvError('SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`));
    if (seg[0] === 'secrets' && seg.length === 1 && method === 'GET') {
      const items = [...this.secrets.keys()].sort().map((n) => ({ id: `${this.#origin}/secrets/${n}`, attributes: { enabled: true } }));
      return send(200, this.#page(url, items));
    }
    if (seg[0] === 'deletedsecrets' && seg.length === 2 && method === 'DELETE') {
      const d = this.deleted.get(name);
      if (!d) return send(404, kvError('SecretNotFound', `Deleted Secret not found: ${name}`));
      if (d.readyAt > Date.now()) return send(409, kvError('Conflict', `Secret ${name} is currently being deleted.`, 'ObjectIsBeingDeleted'));
      this.deleted.delete(name);
      return send(204);
    }
    if (seg[0] !== 'secrets' || seg.length < 2 || seg.length > 3) return send(404, kvError('NotFound', 'no such route'));
    if (!NAME.test(name)) return send(400, kvError('BadParameter', 'The request URI contains an invalid name'));
    const versions = this.secrets.get(name);
    if (seg.length === 3 && seg[2] === 'versions' && method === 'GET') {
      if (!versions) return notFound();
      const items = versions.map((v) => ({ id: `${this.#origin}/secrets/${name}/${v.version}`, attributes: attributes(v) }));
      return send(200, this.#page(url, items));
    }
    if (method === 'GET') {
      const v = seg.length === 3 ? versions?.find((x) => x.version === seg[2]) : versions?.[versions.length - 1];
      if (!v) return notFound();
      if (!v.enabled) return send(403, kvError('Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled'));
      return send(200, { value: v.value, id: `${this.#origin}/secrets/${name}/${v.version}`, attributes: attributes(v) });
    }
    if (method === 'PATCH' && seg.length === 3) {
      const v = versions?.find((x) => x.version === seg[2]);
      if (!v) return notFound();
      const enabled = (JSON.parse(body) as { attributes?: { enabled?: boolean } }).attributes?.enabled;
      if (typeof enabled === 'boolean') v.enabled = enabled;
      return send(200, { id: `${this.#origin}/secrets/${name}/${v.version}`, attributes: attributes(v) });
    }
    if (method === 'PUT' && seg.length === 2) {
      const d = this.deleted.get(name);
      if (d) {
        return d.readyAt > Date.now()
          ? send(409, kvError('Conflict', `Secret ${name} is currently being deleted.`, 'ObjectIsBeingDeleted'))
          : send(
              409,
              kvError(
                'Conflict',
                `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
                'ObjectIsDeletedButRecoverable',
              ),
            );
      }
      let value: unknown;
      try {
        value = (JSON.parse(body) as { value?: unknown }).value;
      } catch {
        value = undefined;
      }
      if (typeof value !== 'string') return send(400, kvError('BadParameter', 'Property value is required'));
      if (Buffer.byteLength(value) > MAX_VALUE) return send(400, kvError('BadParameter', 'Secret value is too large'));
      const v = this.put(name, value);
      return send(200, { value, id: `${this.#origin}/secrets/${name}/${v.version}`, attributes: attributes(v) });
    }
    if (method === 'DELETE' && seg.length === 2) {
      if (!versions) return notFound();
      this.secrets.delete(name);
      this.deleted.set(name, { versions, readyAt: Date.now() + this.#o.deletionDelayMs });
      return send(200, {
        recoveryId: `${this.#origin}/deletedsecrets/${name}`,
        id: `${this.#origin}/secrets/${name}`,
        attributes: { enabled: true },
      });
    }
    send(405, kvError('MethodNotAllowed', 'method not allowed'));
  }

  /** One page of `items` from `$skiptoken` (an offset here), with an absolute nextLink. */
  #page(url: URL, items: unknown[]): { value: unknown[]; nextLink: string | null } {
    const asked = Number(url.searchParams.get('maxresults') ?? '25');
    if (!Number.isInteger(asked) || asked < 1 || asked > 25) return { value: [], nextLink: null };
    const size = Math.min(asked, this.#o.pageSize);
    const from = Number(url.searchParams.get('$skiptoken') ?? '0');
    const value = items.slice(from, from + size);
    if (from + size >= items.length) return { value, nextLink: null };
    const next = new URL(`${this.nextLinkOrigin ?? this.#origin}${url.pathname}`);
    next.searchParams.set('api-version', '7.4');
    next.searchParams.set('$skiptoken', String(from + size));
    next.searchParams.set('maxresults', String(asked));
    return { value, nextLink: next.href };
  }
}

function attributes(v: FakeVersion): Record<string, unknown> {
  return {
    enabled: v.enabled,
    created: v.created,
    updated: v.created,
    recoveryLevel: 'Recoverable+Purgeable',
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
  };
}

function kvError(code: string, message: string, inner?: string): unknown {
  return { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } };
}

// A FAKE Entrust KeyControl secrets vault for tests: an HTTPS server (certificate from a
// CA generated at test time) speaking the part of the KeyControl Vault REST API 1.0
// that KES uses, written from the public API descriptions — every call a POST below
// /vault/1.0/, the access token in `X-Vault-Auth`, errors as `{"error": "..."}`:
//
//   Login/<vault_id>/   {username, password}            → {access_token, expires_at}
//   Renew/              (token)                         → {access_token, expires_at}
//   GetBox/             {box_id}                        → the box, or 404 "Box not found"
//   CreateSecret/       {box_id, name, secret_data}     → 200, or 409 "Secret already exists"
//   CheckoutSecret/     {box_id, secret_id}             → {secret_data, …}, or 404 "Secret not found"
//   DeleteSecret/       {box_id, secret_id}             → 200, or 404 "Secret not found"
//   ListSecretIds/      {box_id, max_items, next_token} → {secrets: [{name, expired}], next_token}
//
// It is not KeyControl: one vault, one box, no versions, no checkout leases. Hooks
// inject failures (5xx, 429, hangs), expire or revoke tokens and corrupt paging.
import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSelfSignedCertificate } from '@kes/core';

/** Options of {@link startFakeEntrust}. */
export interface FakeEntrustOptions {
  readonly vaultId?: string;
  readonly boxId?: string;
  readonly boxName?: string;
  readonly username?: string;
  readonly password?: string;
  /** Lifetime of an access token in ms (default one hour). */
  readonly tokenLifetimeMs?: number;
  /** Leave `expires_at` out of login/renew answers. */
  readonly omitExpiry?: boolean;
  /** The most secrets one ListSecretIds page holds, whatever `max_items` asks (default 100). */
  readonly maxPageSize?: number;
}

/** A secret as the fake keeps it: `secret_data` exactly as it was sent. */
export interface FakeSecret {
  secretData: string;
  expired: boolean;
}

/** One request the fake received (the login body is not kept: it holds the password). */
export interface FakeEntrustRequest {
  readonly path: string;
  readonly token: string | undefined;
  readonly body: unknown;
  /** The raw request body text (empty for Login). */
  readonly raw: string;
}

/** An injected failure: answer `status` (or hang) to the next `count` requests whose path matches. */
export interface FakeEntrustFault {
  readonly status?: number;
  readonly error?: string;
  readonly hang?: boolean;
  readonly count?: number;
  /** Only requests whose path (below /vault/1.0/) matches; default: every request. */
  readonly path?: RegExp;
}

/** The running fake. */
export interface FakeEntrust {
  /** `https://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** PEM of the CA that issued the server certificate. */
  readonly caPem: string;
  readonly vaultId: string;
  readonly boxId: string;
  readonly username: string;
  readonly password: string;
  /** The box content in insertion order (name → secret). Tests may read and write it directly. */
  readonly secrets: Map<string, FakeSecret>;
  /** Every request after login, in order. */
  readonly requests: FakeEntrustRequest[];
  /** Successful logins and renewals so far. */
  readonly counts: { logins: number; failedLogins: number; renewals: number };
  /** Queues a failure. */
  inject(fault: FakeEntrustFault): void;
  /** Makes every token issued so far invalid (as a restart of the service or an admin revoke would). */
  revokeTokens(): void;
  /** Refuse Renew/ (→ 401) until reset, so clients must log in again. */
  refuseRenewal(refuse: boolean): void;
  /** Hand out `next_token` values that lead back to the first page: an endless listing. */
  loopPaging(loop: boolean): void;
  /** Drops injected faults and answers hung requests with a reset connection. */
  reset(): void;
  close(): Promise<void>;
}

interface Token {
  readonly expiresAt: number;
}

/** Starts the fake on 127.0.0.1 with a fresh CA and server certificate. */
export async function startFakeEntrust(options: FakeEntrustOptions = {}): Promise<FakeEntrust> {
  const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'fake KeyControl test CA', isCA: true, validityDays: 1 });
  const cert = createSelfSignedCertificate({
    keyType: 'ecdsa-p256',
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    extKeyUsage: ['serverAuth'],
    validityDays: 1,
    issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
  });
  const vaultId = options.vaultId ?? randomUUID();
  const boxId = options.boxId ?? randomUUID();
  const boxName = options.boxName ?? 'kes-box';
  const username = options.username ?? 'kes-user';
  const password = options.password ?? `pw-${randomBytes(8).toString('hex')}`;
  const lifetime = options.tokenLifetimeMs ?? 3_600_000;
  const maxPage = options.maxPageSize ?? 100;

  const secrets = new Map<string, FakeSecret>();
  const tokens = new Map<string, Token>();
  const requests: FakeEntrustRequest[] = [];
  const counts = { logins: 0, failedLogins: 0, renewals: 0 };
  const faults: { fault: FakeEntrustFault; left: number }[] = [];
  const hung: ServerResponse[] = [];
  let refuseRenew = false;
  let loop = false;

  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  const issue = (): Record<string, string> => {
    const token = randomBytes(24).toString('hex');
    const expiresAt = Date.now() + lifetime;
    tokens.set(token, { expiresAt });
    return { access_token: token, ...(options.omitExpiry ? {} : { expires_at: new Date(expiresAt).toISOString() }) };
  };
  const isBox = (v: unknown): boolean => v === boxId || v === boxName;

  const handle = (path: string, body: Record<string, unknown>, res: ServerResponse) => {
    if (path === 'Renew/') {
      if (refuseRenew) return reply(res, 401, { error: 'Token renewal not allowed' });
      counts.renewals++;
      return reply(res, 200, issue());
    }
    if (!isBox(body.box_id)) return reply(res, 404, { error: 'Box not found' });
    switch (path) {
      case 'GetBox/':
        return reply(res, 200, { box_id: boxId, name: boxName, secret_count: secrets.size });
      case 'CreateSecret/': {
        const { name, secret_data: data } = body;
        if (typeof name !== 'string' || name === '' || typeof data !== 'string') return reply(res, 400, { error: 'Invalid request' });
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) return reply(res, 400, { error: 'Invalid secret_data' });
        // Check and insert in one synchronous step: exactly one of concurrent creates wins.
        if (secrets.has(name)) return reply(res, 409, { error: 'Secret already exists' });
        secrets.set(name, { secretData: data, expired: false });
        return reply(res, 200, { secret_id: name });
      }
      case 'CheckoutSecret/': {
        const s = typeof body.secret_id === 'string' ? secrets.get(body.secret_id) : undefined;
        if (!s) return reply(res, 404, { error: 'Secret not found' });
        return reply(res, 200, { box_id: boxId, secret_id: body.secret_id, secret_data: s.secretData });
      }
      case 'DeleteSecret/': {
        if (typeof body.secret_id !== 'string' || !secrets.delete(body.secret_id)) return reply(res, 404, { error: 'Secret not found' });
        return reply(res, 200, {});
      }
      case 'ListSecretIds/': {
        const want = typeof body.max_items === 'number' && body.max_items > 0 ? body.max_items : maxPage;
        const size = Math.min(want, maxPage);
        let offset = 0;
        if (body.next_token !== undefined) {
          try {
            const t = JSON.parse(Buffer.from(String(body.next_token), 'base64').toString('utf8')) as { box_id?: unknown; next_ctx?: unknown };
            if (!isBox(t.box_id) || typeof t.next_ctx !== 'number') throw new Error('bad token');
            offset = t.next_ctx;
          } catch {
            return reply(res, 400, { error: 'Invalid next_token' });
          }
        }
        // Insertion order, not sorted: the client must sort.
        const all = [...secrets.entries()];
        const page = all.slice(offset, offset + size).map(([name, s]) => ({ name, expired: s.expired }));
        const nextOffset = loop ? 0 : offset + size;
        const more = loop || nextOffset < all.length;
        const next = more ? Buffer.from(JSON.stringify({ box_id: boxId, next_ctx: nextOffset })).toString('base64') : '';
        return reply(res, 200, { secrets: page, next_token: next });
      }
      default:
        return reply(res, 404, { error: `No such API: ${path}` });
    }
  };

  const server: Server = createServer({ key: cert.privateKeyPem, cert: cert.certificatePem }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      const path = url.startsWith('/vault/1.0/') ? url.slice('/vault/1.0/'.length) : '';
      const raw = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST' || path === '') return reply(res, 404, { error: 'Not found' });
      let body: Record<string, unknown> = {};
      if (raw !== '') {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          return reply(res, 400, { error: 'Invalid JSON' });
        }
      }
      const token = req.headers['x-vault-auth'] as string | undefined;
      const login = /^Login\/([^/]+)\/$/.exec(path);
      requests.push({ path, token, body: login ? {} : body, raw: login ? '' : raw });

      const i = faults.findIndex((f) => !f.fault.path || f.fault.path.test(path));
      if (i >= 0) {
        const f = faults[i]!;
        if (--f.left <= 0) faults.splice(i, 1);
        if (f.fault.hang) {
          hung.push(res);
          return;
        }
        const status = f.fault.status ?? 500;
        if (status === 429) res.setHeader('Retry-After', '1');
        return reply(res, status, { error: f.fault.error ?? (status === 429 ? 'Too many requests' : 'Internal server error') });
      }

      if (login) {
        if (decodeURIComponent(login[1]!) !== vaultId) return reply(res, 404, { error: 'Vault not found' });
        if (body.username !== username || body.password !== password) {
          counts.failedLogins++;
          return reply(res, 401, { error: 'Invalid username or password' });
        }
        counts.logins++;
        return reply(res, 200, issue());
      }
      const t = token === undefined ? undefined : tokens.get(token);
      if (!t || t.expiresAt <= Date.now()) return reply(res, 401, { error: 'Invalid or expired access token' });
      handle(path, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const dropHung = (): void => {
    for (const res of hung.splice(0)) res.destroy();
  };
  return {
    endpoint: `https://127.0.0.1:${port}`,
    caPem: ca.certificatePem,
    vaultId,
    boxId,
    username,
    password,
    secrets,
    requests,
    counts,
    inject: (fault) => faults.push({ fault, left: fault.count ?? 1 }),
    revokeTokens: () => tokens.clear(),
    refuseRenewal: (refuse) => {
      refuseRenew = refuse;
    },
    loopPaging: (l) => {
      loop = l;
    },
    reset: () => {
      faults.splice(0);
      refuseRenew = false;
      loop = false;
      dropHung();
    },
    close: async () => {
      dropHung();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

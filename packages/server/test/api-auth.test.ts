// Identity, admin, policies, skip_auth, TLS proxies, policy and identity routes (spec §4.9, §4.10, §5, §6).
import { afterEach, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { createSelfSignedCertificate } from '@kes/core';
import { expectError, randomIdentity, setup, vectors } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

const NOT_ALLOWED = 'not authorized: insufficient permissions';

describe('authentication', () => {
  it('requires TLS on authenticated routes', async () => {
    s = await setup();
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/status', identity: s.admin, tls: false }),
      400,
      'insecure connection: TLS is required',
      expect,
    );
  });

  it('requires exactly one non-CA client certificate', async () => {
    s = await setup();
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/status' }), 400, 'tls: client certificate is required', expect);
    const ca = createSelfSignedCertificate({ isCA: true, commonName: 'ca' });
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/status', certificates: [ca.certificate] }),
      400,
      'tls: client certificate is required',
      expect,
    );
    const a = createSelfSignedCertificate({ commonName: 'a' });
    const b = createSelfSignedCertificate({ commonName: 'b' });
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/status', certificates: [a.certificate, b.certificate] }),
      400,
      'tls: received more than one client certificate',
      expect,
    );
  });

  it('identifies a certificate by its public-key hash (admin via certificate, CA certs in the chain ignored)', async () => {
    const ca = createSelfSignedCertificate({ isCA: true, commonName: 'ca', keyType: 'ecdsa-p256' });
    const leaf = createSelfSignedCertificate({ commonName: 'admin', keyType: 'ecdsa-p256' });
    s = await setup({ admin: leaf.identity });
    const certs = [leaf.certificate, ca.certificate];
    expect((await s.handler.inject({ method: 'GET', path: '/v1/ready', certificates: certs })).status).toBe(200);
    const self = await s.handler.inject({ method: 'GET', path: '/v1/identity/self/describe', certificates: certs });
    expect(self.json<{ identity: string }>().identity).toBe(leaf.identity);
  });

  it('checks auth before name validation (403 for a malformed name)', async () => {
    s = await setup();
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/key/describe/a.b', identity: randomIdentity() }), 403, NOT_ALLOWED, expect);
  });

  it('treats a non-hex or uppercase admin as disabled', async () => {
    for (const admin of ['disabled', 'A'.repeat(64)]) {
      s = await setup({ admin });
      expectError(await s.handler.inject({ method: 'GET', path: '/v1/status', identity: admin }), 403, NOT_ALLOWED, expect);
      const list = await s.handler.inject({ method: 'GET', path: '/v1/identity/list/', identity: randomIdentity() });
      expect(list.status).toBe(403);
      await s.handler.close();
      s = undefined;
    }
  });
});

describe('policies', () => {
  const alice = randomIdentity();
  const bob = randomIdentity();
  const carol = randomIdentity();
  const policies = {
    'my-app': {
      allow: ['/v1/key/create/my-app-*', '/v1/key/generate/my-app-*', '/v1/key/decrypt/my-app-*', '/v1/status'],
      deny: ['/v1/key/generate/my-app-secret'],
      identities: [alice],
    },
    reader: { allow: ['/v1/key/*', '/v1/policy/*', '/v1/identity/*'], deny: ['/v1/key/delete/*'], identities: [bob] },
    empty: { identities: [carol] },
  };

  it('allows, denies, and lets deny beat allow', async () => {
    s = await setup({ policies });
    const as = (identity: string, method: string, path: string) => s!.handler.inject({ method, path, identity });
    expect((await as(alice, 'PUT', '/v1/key/create/my-app-1')).status).toBe(200);
    expect((await as(alice, 'PUT', '/v1/key/create/my-app-secret')).status).toBe(200);
    expect((await as(alice, 'PUT', '/v1/key/generate/my-app-1')).status).toBe(200);
    expectError(await as(alice, 'PUT', '/v1/key/generate/my-app-secret'), 403, NOT_ALLOWED, expect);
    expectError(await as(alice, 'PUT', '/v1/key/create/other'), 403, NOT_ALLOWED, expect);
    expectError(await as(alice, 'GET', '/v1/metrics'), 403, NOT_ALLOWED, expect);
    expect((await as(alice, 'GET', '/v1/status')).status).toBe(200);
    expectError(await as(bob, 'DELETE', '/v1/key/delete/my-app-1'), 403, NOT_ALLOWED, expect);
    expect((await as(bob, 'GET', '/v1/key/describe/my-app-1')).status).toBe(200);
    expectError(await as(carol, 'GET', '/v1/key/describe/my-app-1'), 403, NOT_ALLOWED, expect);
    expectError(await as(randomIdentity(), 'GET', '/v1/status'), 403, NOT_ALLOWED, expect);
    // The admin bypasses every policy.
    expect((await as(s.admin, 'DELETE', '/v1/key/delete/my-app-1')).status).toBe(200);
    // /version never checks anything.
    expect((await as(carol, 'GET', '/version')).status).toBe(200);
  });

  it('runs the policy_verify vectors through the API', async () => {
    for (const c of vectors.policy_verify.cases as any[]) {
      const id = randomIdentity();
      s = await setup({ policies: { v: { allow: c.allow, deny: c.deny, identities: [id] } } });
      for (const [path, allowed] of Object.entries(c.requests as Record<string, boolean>)) {
        const method = path.startsWith('/v1/key/create/') ? 'PUT' : 'GET';
        const res = await s.handler.inject({ method, path, identity: id });
        if (allowed) expect(res.status, path).not.toBe(403);
        else expectError(res, 403, NOT_ALLOWED, expect);
      }
      await s.handler.close();
      s = undefined;
    }
  });

  it('serves policy describe / read / list', async () => {
    s = await setup({ policies });
    const d = await s.handler.inject({ method: 'GET', path: '/v1/policy/describe/my-app', identity: s.admin });
    expect(d.text()).toMatch(new RegExp(`^\\{"name":"my-app","created_at":"[^"]+","created_by":"${s.admin}"\\}\\n$`));
    const r = await s.handler.inject({ method: 'GET', path: '/v1/policy/read/my-app', identity: bob });
    expect(r.status).toBe(200);
    const read = r.json<Record<string, unknown>>();
    expect(Object.keys(read)).toEqual(['name', 'allow', 'deny', 'created_at', 'created_by']);
    expect(read.allow).toEqual({ '/v1/key/create/my-app-*': {}, '/v1/key/decrypt/my-app-*': {}, '/v1/key/generate/my-app-*': {}, '/v1/status': {} });
    expect(r.text()).toContain('"allow":{"/v1/key/create/my-app-*":{},"/v1/key/decrypt/my-app-*":{},"/v1/key/generate/my-app-*":{},"/v1/status":{}}');
    const e = await s.handler.inject({ method: 'GET', path: '/v1/policy/read/empty', identity: s.admin });
    expect(Object.keys(e.json<object>())).toEqual(['name', 'created_at', 'created_by']);
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/policy/read/nope', identity: s.admin }), 404, 'policy does not exist', expect);
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/policy/describe/nope', identity: s.admin }), 404, 'policy does not exist', expect);
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/policy/describe/a.b', identity: s.admin }),
      400,
      "policy name 'a.b' is empty, too long or contains invalid characters",
      expect,
    );
    const list = async (p: string) => (await s!.handler.inject({ method: 'GET', path: `/v1/policy/list/${p}`, identity: s!.admin })).text();
    expect(await list('')).toBe('{"names":["empty","my-app","reader"],"continue_at":""}\n');
    expect(await list('*')).toBe('{"names":["empty","my-app","reader"],"continue_at":""}\n');
    expect(await list('my*')).toBe('{"names":["my-app"],"continue_at":""}\n');
    expect(await list('re')).toBe('{"names":["reader"],"continue_at":""}\n');
  });

  it('serves identity describe / list', async () => {
    s = await setup({ policies });
    const a = await s.handler.inject({ method: 'GET', path: `/v1/identity/describe/${s.admin}`, identity: s.admin });
    expect(a.text()).toMatch(/^\{"admin":true,"created_at":"[^"]+"\}\n$/);
    const p = await s.handler.inject({ method: 'GET', path: `/v1/identity/describe/${alice}`, identity: s.admin });
    expect(p.text()).toMatch(new RegExp(`^\\{"policy":"my-app","created_at":"[^"]+","created_by":"${s.admin}"\\}\\n$`));
    expectError(
      await s.handler.inject({ method: 'GET', path: `/v1/identity/describe/${randomIdentity()}`, identity: s.admin }),
      404,
      'identity does not exist',
      expect,
    );
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/identity/describe/a.b', identity: s.admin }),
      400,
      "identity 'a.b' is empty, too long or contains invalid characters",
      expect,
    );
    const l = await s.handler.inject({ method: 'GET', path: '/v1/identity/list/', identity: s.admin });
    expect(l.json()).toEqual({ identities: [s.admin, alice, bob, carol].sort(), continue_at: '' });
    const pre = await s.handler.inject({ method: 'GET', path: `/v1/identity/list/${alice.slice(0, 10)}*`, identity: s.admin });
    expect(pre.json<{ identities: string[] }>().identities).toContain(alice);
  });

  it('lists a disabled admin placeholder among the identities', async () => {
    s = await setup({ admin: 'disabled', policies: { reader: { allow: ['/v1/identity/list/*'], identities: [bob] } } });
    const l = await s.handler.inject({ method: 'GET', path: '/v1/identity/list/*', identity: bob });
    expect(l.json<{ identities: string[] }>().identities).toEqual([bob, 'disabled'].sort());
  });
});

describe('self describe', () => {
  it('answers the admin', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'GET', path: '/v1/identity/self/describe', identity: s.admin });
    expect(res.text()).toMatch(new RegExp(`^\\{"identity":"${s.admin}","admin":true,"created_at":"[^"]+"\\}\\n$`));
  });

  it('answers a non-admin with its policy (fix of the upstream 404)', async () => {
    const id = randomIdentity();
    s = await setup({ policies: { app: { allow: ['/v1/key/*'], deny: ['/v1/key/delete/*'], identities: [id] } } });
    const res = await s.handler.inject({ method: 'GET', path: '/v1/identity/self/describe', identity: id });
    expect(res.status).toBe(200);
    const body = res.json<Record<string, any>>();
    expect(Object.keys(body)).toEqual(['identity', 'created_at', 'created_by', 'policy']);
    expect(body.identity).toBe(id);
    expect(body.created_by).toBe(s.admin);
    expect(body.policy).toMatchObject({ name: 'app', allow: { '/v1/key/*': {} }, deny: { '/v1/key/delete/*': {} }, created_by: s.admin });
  });

  it('is not policy-checked; unknown identities and anonymous callers get 404', async () => {
    s = await setup();
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/identity/self/describe', identity: randomIdentity() }),
      404,
      'identity does not exist',
      expect,
    );
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/identity/self/describe' }), 404, 'identity does not exist', expect);
  });
});

describe('skip_auth', () => {
  it('identifies but does not authorize; the handshake may then be anonymous', async () => {
    s = await setup({ api: { '/v1/key/create/': { skipAuth: true }, '/v1/status': { skipAuth: true } } });
    expect(s.handler.allowsAnonymousHandshake).toBe(true);
    const stranger = randomIdentity();
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k', identity: stranger })).status).toBe(200);
    const d = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/k', identity: s.admin });
    expect(d.json<{ created_by: string }>().created_by).toBe(stranger);
    // Without any certificate: identity empty, still served.
    expect((await s.handler.inject({ method: 'GET', path: '/v1/status' })).status).toBe(200);
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/create/anon' })).status).toBe(200);
    const anon = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/anon', identity: s.admin });
    expect(Object.keys(anon.json<object>())).toEqual(['name', 'algorithm', 'created_at']);
    // Other routes still require a certificate.
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/metrics' }), 400, 'tls: client certificate is required', expect);
  });

  it('updates allowsAnonymousHandshake on reload', async () => {
    s = await setup();
    expect(s.handler.allowsAnonymousHandshake).toBe(false);
    await s.handler.update({ admin: s.admin, keyStore: s.store, log: { error: 'off' }, api: { '/v1/ready': { skipAuth: true } } });
    expect(s.handler.allowsAnonymousHandshake).toBe(true);
    expect((await s.handler.inject({ method: 'GET', path: '/v1/ready' })).status).toBe(200);
  });
});

describe('TLS proxy (vectors tls_proxy_forwarded_certificate)', () => {
  const proxyId = randomIdentity();
  const cases = vectors.tls_proxy_forwarded_certificate.cases as any[];

  for (const [i, c] of cases.entries()) {
    it(`case ${i}: ${c.expect_error ? c.expect_error.message : 'forwarded identity'}`, async () => {
      const header = c.cert_header_name || 'X-Tls-Client-Cert';
      const forwarded = c.forwarded_identity ?? randomIdentity();
      s = await setup({
        tls: { proxy: { identities: [proxyId], header } },
        policies: { p: { allow: ['/v1/identity/self/describe'], identities: c.forwarded_identity ? [c.forwarded_identity] : [forwarded] } },
      });
      const res = await s.handler.inject({ method: 'GET', path: '/v1/status', identity: proxyId, headers: c.headers });
      if (c.expect_error) {
        expectError(res, c.expect_error.status, c.expect_error.message, expect);
      } else {
        // The forwarded identity has a policy that does not allow /v1/status: it is the one being authorized.
        expectError(res, 403, NOT_ALLOWED, expect);
        const self = await s.handler.inject({ method: 'GET', path: '/v1/identity/self/describe', identity: proxyId, headers: c.headers });
        expect(self.json<{ identity: string }>().identity).toBe(c.forwarded_identity);
      }
    });
  }

  it('uses the forwarded certificate as the caller and X-Forwarded-For as the audit IP', async () => {
    const client = createSelfSignedCertificate({ commonName: 'client' });
    s = await setup({ tls: { proxy: { identities: [proxyId] } }, policies: { p: { allow: ['/v1/status'], identities: [client.identity] } } });
    const value = encodeURIComponent(client.certificatePem).replace(/%20/g, '+');
    const res = await s.handler.inject({
      method: 'GET',
      path: '/v1/status',
      identity: proxyId,
      remoteAddress: '10.0.0.1',
      headers: { 'X-Tls-Client-Cert': value, 'X-Forwarded-For': '192.0.2.7:4444, 10.0.0.1' },
    });
    expect(res.status).toBe(200);
    const last = s.audits.at(-1) as any;
    expect(last.request).toEqual({ ip: '192.0.2.7', path: '/v1/status', identity: client.identity });
    // A non-proxy identity's header is ignored.
    const other = randomIdentity();
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/status', identity: other, headers: { 'X-Tls-Client-Cert': value } }),
      403,
      NOT_ALLOWED,
      expect,
    );
  });

  it('verifies forwarded certificates against the CA when tls.auth is on', async () => {
    const ca = createSelfSignedCertificate({ isCA: true, commonName: 'ca' });
    const good = createSelfSignedCertificate({
      commonName: 'good',
      issuer: { certificatePem: ca.certificatePem, privateKey: (await import('node:crypto')).createPrivateKey(ca.privateKeyPem) },
    });
    const bad = createSelfSignedCertificate({ commonName: 'bad' });
    s = await setup({
      tls: { auth: 'on', ca: ca.certificatePem, proxy: { identities: [proxyId] } },
      policies: { p: { allow: ['/v1/status'], identities: [good.identity, bad.identity] } },
    });
    const send = (pem: string) =>
      s!.handler.inject({ method: 'GET', path: '/v1/status', identity: proxyId, headers: { 'X-Tls-Client-Cert': encodeURIComponent(pem) } });
    expect(new X509Certificate(good.certificatePem).checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect((await send(good.certificatePem)).status).toBe(200);
    expectError(await send(bad.certificatePem), 403, NOT_ALLOWED, expect);
  });

  it('rejects a proxy identity that is also the admin or in a policy', async () => {
    const admin = randomIdentity();
    await expect(setup({ admin, tls: { proxy: { identities: [admin] } } })).rejects.toMatchObject({ code: 'ERR_KES_INVALID_ARGUMENT' });
    await expect(setup({ tls: { proxy: { identities: [proxyId] } }, policies: { p: { identities: [proxyId] } } })).rejects.toMatchObject({
      code: 'ERR_KES_INVALID_ARGUMENT',
    });
  });
});

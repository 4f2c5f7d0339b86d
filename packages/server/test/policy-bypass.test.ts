// Policy bypass attempts (issue 13, hostile input): an identity whose policy allows only
// `/v1/key/generate/*` (and denies `/v1/key/generate/secret`) tries path tricks that would
// make a delete, create or import look like a generate, or `secret` look like another name:
// `..` (literal and escaped), encoded separators, backslashes, trailing and double slashes,
// case games, look-alike characters, NUL, `;`, query and fragment, absolute-form targets and
// rewrite headers. Each is denied (403), refused (400/404/405) or redirected (301) to a path
// that is denied in turn, and the operation did not happen: the keys are all still there,
// nothing was created, and no data key for `secret` was handed out. In-process and over TLS.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { randomIdentity, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';
import { requestArb, toRequestLine } from './helpers/hostile.js';
import { RawConnection } from './helpers/raw-http.js';
import { createTestPki } from './helpers/tls-client.js';

const POLICY = { allow: ['/v1/key/generate/*'], deny: ['/v1/key/generate/secret'] };
const KEYS = ['x', 'secret', 'victim'];

/**
 * [method, target, extra headers, may be served]: each must not delete `x`, create `y`/`z` or
 * generate with `secret`. "May be served": the request is the allowed generate of `x`; only the
 * smuggled operation (the header's DELETE) must not happen.
 */
const ATTEMPTS: readonly [string, string, Record<string, string>?, true?][] = [
  ['DELETE', '/v1/key/delete/x'],
  ['DELETE', '/v1/key/generate/../delete/x'],
  ['DELETE', '/v1/key/generate/x/../../delete/x'],
  ['DELETE', '/v1/key/generate/./../delete/x'],
  ['DELETE', '/v1/key/generate/*/../../delete/x'],
  ['DELETE', '/v1/key/generate/%2e%2e/delete/x'],
  ['DELETE', '/v1/key/generate/%2E%2E/delete/x'],
  ['DELETE', '/v1/key/generate/.%2e/delete/x'],
  ['DELETE', '/v1/key/generate/..%2fdelete%2fx'],
  ['DELETE', '/v1/key/generate/..%2Fdelete%2Fx'],
  ['DELETE', '/v1/key/generate/%2e%2e%2fdelete%2fx'],
  ['DELETE', '/v1/key/generate%2f..%2fdelete/x'],
  ['DELETE', '/v1/key/generate/..%5cdelete%5cx'],
  ['DELETE', '/v1/key/generate/..\\delete\\x'],
  ['DELETE', '/v1/key/generate/%c0%ae%c0%ae/delete/x'],
  ['DELETE', '/v1/key/generate/\uff0e\uff0e/delete/x'],
  ['DELETE', '/v1/key/generate/..\uff0fdelete\uff0fx'],
  ['DELETE', '/v1/key/delete/x/'],
  ['DELETE', '/v1/key/delete//x'],
  ['DELETE', '/v1/key//delete/x'],
  ['DELETE', '//v1/key/delete/x'],
  ['DELETE', '/v1/key/delete/./x'],
  ['DELETE', '/V1/KEY/DELETE/x'],
  ['DELETE', '/v1/key/DELETE/x'],
  ['DELETE', '/v1/Key/delete/x'],
  ['DELETE', '/v1/key/del%65te/x'],
  ['DELETE', '/v1/key/delete/%78'],
  ['DELETE', '/v1/key/d\u0435lete/x'],
  ['DELETE', '/v1/key/\uff44elete/x'],
  ['DELETE', '/v1/key/delete/x?/v1/key/generate/x'],
  ['DELETE', '/v1/key/delete/x#/v1/key/generate/x'],
  ['DELETE', '/v1/key/delete/x%00/../../generate/x'],
  ['DELETE', '/v1/key/delete/x;/v1/key/generate/x'],
  ['DELETE', '/v1/key/delete;/x'],
  ['DELETE', 'https://kes.example/v1/key/generate/../delete/x'],
  ['DELETE', 'https://kes.example/v1/key/delete/x'],
  ['DELETE', '/v1/key/generate/x', { 'X-Original-URL': '/v1/key/delete/x', 'X-Rewrite-URL': '/v1/key/delete/x' }],
  ['PUT', '/v1/key/generate/x', { 'X-HTTP-Method-Override': 'DELETE', 'X-Method-Override': 'DELETE' }, true],
  ['POST', '/v1/key/delete/x'],
  ['PUT', '/v1/key/delete/x'],
  ['PUT', '/v1/key/generate/../create/y'],
  ['PUT', '/v1/key/generate/%2e%2e/create/y'],
  ['PUT', '/v1/key/generate/..%2fcreate%2fy'],
  ['PUT', '/v1/key/create/y/'],
  ['PUT', '/v1/key/CREATE/y'],
  ['PUT', '/v1/key/generate/../import/z'],
  ['PUT', '/v1/key/import/z'],
  ['PUT', '/v1/key/generate/secret'],
  ['PUT', '/v1/key/generate/%73ecret'],
  ['PUT', '/v1/key/generate/%73%65%63%72%65%74'],
  ['PUT', '/v1/key/generate/secret/'],
  ['PUT', '/v1/key/generate/./secret'],
  ['PUT', '/v1/key/generate/x/../secret'],
  ['PUT', '/v1/key/generate/x%2f..%2fsecret'],
  ['PUT', '/v1/key/generate//secret'],
  ['PUT', '/v1/key/generate/secret/.'],
  ['PUT', '/v1/key/generate/secret%00'],
  ['PUT', '/v1/key/generate/secret%2f'],
  ['PUT', '/v1/key/generate/secret?x=1'],
  ['PUT', '/v1/key/generate/secret;x'],
  ['PUT', '/v1/key/generate/SECRET'],
  ['PUT', '/v1/key/generate/s\u0435cret'],
  ['PUT', '/V1/key/generate/secret'],
  ['PUT', 'https://kes.example/v1/key/generate/secret'],
];

/** Generate requests aimed at `secret` through spellings of its name, and at the allowed keys. */
const generateArb = fc.record({
  method: fc.constantFrom('PUT', 'POST'),
  path: fc
    .tuple(
      fc.constantFrom('/v1/key/generate/', '/v1/key/generate//', '/v1/key/generate/./', '/v1/key/generate/x/../', '/v1/key/generate/%2e/'),
      fc.constantFrom(
        'x',
        'victim',
        'secret',
        '%73ecret',
        'Secret',
        's%65cret',
        'x%2f..%2fsecret',
        '..%2fsecret',
        'secret%00',
        'secre%74',
        '*',
        'secre*',
      ),
      fc.constantFrom('', '', '/', '?a=1', '#', '/.', '/..', '%2f'),
    )
    .map(([a, b, c]) => a + b + c),
  headers: fc.constant({}),
  body: fc.constantFrom(undefined, '{}', '{"context":"YQ=="}'),
  lyingLength: fc.constant(undefined),
});

/** What a reply to a bypass attempt may be: denied, refused, or a redirect (followed separately). */
const REFUSED = new Set([301, 400, 403, 404, 405]);

describe('policy bypass attempts, in-process', () => {
  let s: Setup;
  const gen = randomIdentity();

  beforeAll(async () => {
    s = await setup({ policies: { gen: { ...POLICY, identities: [gen] } } });
    for (const k of KEYS) expect((await s.handler.inject({ method: 'PUT', path: `/v1/key/create/${k}`, identity: s.admin })).status).toBe(200);
  });
  afterAll(() => s.handler.close());

  async function keysAfter(): Promise<string[]> {
    return (await s.store.list('')).names.slice().sort();
  }

  it('the allowed operation works (the policy is not simply broken)', async () => {
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/generate/x', identity: gen })).status).toBe(200);
    expect((await s.handler.inject({ method: 'DELETE', path: '/v1/key/delete/x', identity: gen })).status).toBe(403);
  });

  it('every listed trick is denied, refused or redirected, and a redirect followed is denied too', async () => {
    const outcomes: string[] = [];
    for (const [method, path, headers, mayServe] of ATTEMPTS) {
      const res = await s.handler.inject({ method, path, identity: gen, ...(headers ? { headers } : {}) });
      outcomes.push(`${res.status} ${method} ${path}`);
      expect(REFUSED.has(res.status) || (mayServe === true && res.status === 200), `${method} ${path} -> ${res.status} ${res.text()}`).toBe(true);
      if (res.status === 301) {
        // A client that follows the redirect with the same method gets the denied path's answer.
        const again = await s.handler.inject({ method, path: res.headers.location as string, identity: gen });
        expect(REFUSED.has(again.status) && again.status !== 301, `${method} ${path} -> ${res.headers.location} -> ${again.status}`).toBe(true);
      }
    }
    expect(await keysAfter()).toEqual([...KEYS].sort());
    // Sanity: the redirects seen are to the cleaned paths, never served in place.
    expect(outcomes.some((o) => o.startsWith('301 DELETE /v1/key/generate/../delete/x'))).toBe(true);
  });

  it('generated requests from the limited identity never change the key store and never yield a data key for secret', {
    timeout: 120_000,
  }, async () => {
    let served = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(requestArb({ ascii: false }), generateArb), async (r) => {
        const res = await s.handler.inject({
          method: r.method,
          path: r.path,
          headers: r.headers,
          ...(r.body !== undefined ? { body: r.body } : {}),
          identity: gen,
          signal: AbortSignal.timeout(5_000),
        });
        if (res.status !== 200) return;
        // Answers without a policy check: `/version`, `OPTIONS *` and the caller's own identity.
        if (res.body.length === 0 || res.text().startsWith('{"version":') || res.text().startsWith(`{"identity":"${gen}",`)) return;
        served++;
        // The only thing this identity may get is a data key: for any key but `secret`.
        const dk = res.json<{ plaintext: string; ciphertext: string }>();
        expect(Object.keys(dk)).toEqual(['plaintext', 'ciphertext']);
        const underSecret = await s.handler.inject({
          method: 'PUT',
          path: '/v1/key/decrypt/secret',
          identity: s.admin,
          body: JSON.stringify({ ciphertext: dk.ciphertext }),
        });
        expect(underSecret.status, `${r.method} ${r.path} handed out a data key of 'secret'`).toBe(400);
      }),
      { numRuns: 3_000, seed: 13 },
    );
    expect(await keysAfter()).toEqual([...KEYS].sort());
    console.log(`policy-bypass: 3000 generated requests by the generate-only identity, ${served} data keys served, key store unchanged`);
  });
});

describe('policy bypass attempts, over TLS (Node’s HTTP parser in front)', () => {
  const pki = createTestPki();
  const adminKey = ApiKey.generate();
  const genCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256' });
  let server: KesServer;

  beforeAll(async () => {
    server = await createKesServer({
      admin: adminKey.identity,
      keyStore: createMemoryKeyStore(),
      log: { error: 'off', audit: 'off' },
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
      policies: { gen: { ...POLICY, identities: [genCert.identity] } },
      keys: KEYS.map((name) => ({ name })),
    });
    await server.listen(0, '127.0.0.1');
  });
  afterAll(() => server.close({ timeoutMs: 2_000 }));

  it('every listed trick sent as raw bytes is denied, refused or redirected, and nothing changed', async () => {
    const port = Number(new URL(server.url).port);
    const open = (cert: { certificatePem: string; privateKeyPem: string }) =>
      RawConnection.open(port, { ca: pki.ca.certificatePem, cert: cert.certificatePem, key: cert.privateKeyPem });
    for (const [method, path, headers, mayServe] of ATTEMPTS) {
      const conn = await open(genCert);
      let head = `${method} ${toRequestLine(path)} HTTP/1.1\r\nHost: kes\r\nContent-Length: 0\r\n`;
      for (const [k, v] of Object.entries(headers ?? {})) head += `${k}: ${v}\r\n`;
      conn.write(`${head}\r\n`);
      const out = await conn.read(false, 10_000);
      conn.destroy();
      expect(out.kind, `${method} ${path}`).toBe('reply');
      if (out.kind === 'reply') {
        expect(REFUSED.has(out.status) || (mayServe === true && out.status === 200), `${method} ${path} -> ${out.status} ${out.body}`).toBe(true);
      }
    }
    // The admin still sees every key, and none was added.
    const adminCert = adminKey.createCertificate();
    const conn = await open(adminCert);
    conn.write('GET /v1/key/list/ HTTP/1.1\r\nHost: kes\r\n\r\n');
    const list = await conn.read(false, 10_000);
    conn.destroy();
    expect(list.kind === 'reply' && JSON.parse(list.body).names.sort()).toEqual([...KEYS].sort());
  });
});

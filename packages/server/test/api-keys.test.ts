// Key routes: create, import, describe, list, delete, generate, encrypt, decrypt, hmac (spec §4.7).
import { afterEach, describe, expect, it } from 'vitest';
import { MasterKey } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { FlakyStore, expectError, setup, vectors } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64');

async function create(name: string): Promise<void> {
  const res = await s!.handler.inject({ method: 'POST', path: `/v1/key/create/${name}`, identity: s!.admin });
  expect(res.status).toBe(200);
}

function put(path: string, body: unknown) {
  return s!.handler.inject({ method: 'PUT', path, identity: s!.admin, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

describe('key lifecycle', () => {
  it('creates a key: 200, empty body, Content-Length 0, no Content-Type; second create is 400', async () => {
    s = await setup();
    const res = await s.handler.inject({ method: 'PUT', path: '/v1/key/create/my-key', identity: s.admin });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-length']).toBe('0');
    expect(res.headers['content-type']).toBeUndefined();
    const again = await s.handler.inject({ method: 'PUT', path: '/v1/key/create/my-key', identity: s.admin });
    expectError(again, 400, 'key already exists', expect);
  });

  it('describes a key with created_by = caller and Go time format', async () => {
    s = await setup();
    await create('k1');
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/k1', identity: s.admin });
    expect(res.status).toBe(200);
    const text = res.text();
    expect(text).toMatch(
      new RegExp(
        `^\\{"name":"k1","algorithm":"AES256","created_at":"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z","created_by":"${s.admin}"\\}\\n$`,
      ),
    );
  });

  it('omits created_by when empty', async () => {
    const store = createMemoryKeyStore();
    const key = MasterKey.generate({});
    await store.create('legacy', key.encode());
    s = await setup({ keyStore: store });
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/legacy', identity: s.admin });
    expect(Object.keys(res.json<object>())).toEqual(['name', 'algorithm', 'created_at']);
  });

  it('describe / delete / encrypt of a missing key is 404', async () => {
    s = await setup();
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/key/describe/nope', identity: s.admin }), 404, 'key does not exist', expect);
    expectError(await s.handler.inject({ method: 'DELETE', path: '/v1/key/delete/nope', identity: s.admin }), 404, 'key does not exist', expect);
    expectError(await put('/v1/key/encrypt/nope', { plaintext: '' }), 404, 'key does not exist', expect);
  });

  it('deletes a key and evicts it from the cache', async () => {
    s = await setup();
    await create('gone');
    expect((await put('/v1/key/encrypt/gone', { plaintext: b64('x') })).status).toBe(200); // cached now
    const del = await s.handler.inject({ method: 'DELETE', path: '/v1/key/delete/gone', identity: s.admin });
    expect(del.status).toBe(200);
    expect(del.headers['content-length']).toBe('0');
    expectError(await put('/v1/key/encrypt/gone', { plaintext: b64('x') }), 404, 'key does not exist', expect);
  });

  it('lists keys with prefix semantics (vectors list_route_resource_handling; prefix* is stripped)', async () => {
    s = await setup();
    for (const n of ['my-a', 'my-b', 'other', 'myz']) await create(n);
    const list = async (pattern: string) => {
      const res = await s!.handler.inject({ method: 'GET', path: `/v1/key/list/${pattern}`, identity: s!.admin });
      expect(res.status).toBe(200);
      return res.json<{ names: string[]; continue_at?: string }>();
    };
    const all = ['my-a', 'my-b', 'myz', 'other'];
    for (const c of vectors.list_route_resource_handling.cases.filter((c: any) => c.route === '/v1/key/list/')) {
      const got = await list(c.resource);
      // Our deliberate deviation: a trailing `*` is stripped for keys too.
      const prefix = String(c.keystore_prefix).replace(/\*$/, '');
      expect(got.names, c.resource).toEqual(all.filter((n) => n.startsWith(prefix)));
      expect(got.continue_at).toBeUndefined();
    }
    expect((await list('my-a')).names).toEqual(['my-a']);
    expect((await list('my-*')).names).toEqual(['my-a', 'my-b']);
    expect((await list('nothing')).names).toEqual([]);
    expect((await s.handler.inject({ method: 'GET', path: '/v1/key/list/', identity: s.admin })).text()).toBe(
      '{"names":["my-a","my-b","myz","other"]}\n',
    );
    expectError(
      await s.handler.inject({ method: 'GET', path: '/v1/key/list/a*b', identity: s.admin }),
      400,
      "listing pattern 'a*b' is empty, too long or is invalid",
      expect,
    );
  });

  it('rejects invalid key names on every key route with the exact message', async () => {
    s = await setup();
    const routes: [string, string][] = [
      ['PUT', 'create'],
      ['PUT', 'import'],
      ['GET', 'describe'],
      ['DELETE', 'delete'],
      ['PUT', 'generate'],
      ['PUT', 'encrypt'],
      ['PUT', 'decrypt'],
      ['PUT', 'hmac'],
    ];
    for (const [method, r] of routes) {
      for (const name of ['a.b', '-a', 'a-', '_', 'x'.repeat(81), 'a*', 'hel<lo']) {
        const res = await s.handler.inject({ method, path: `/v1/key/${r}/${encodeURIComponent(name)}`, identity: s.admin, body: '{}' });
        expectError(res, 400, `key name '${name}' is empty, too long or contains invalid characters`, expect);
      }
    }
    // An empty name too.
    expectError(
      await s.handler.inject({ method: 'PUT', path: '/v1/key/create/', identity: s.admin }),
      400,
      "key name '' is empty, too long or contains invalid characters",
      expect,
    );
  });

  it('escapes <, > and & in error messages like Go (vectors error_body_bytes)', async () => {
    s = await setup();
    const c = vectors.error_body_bytes.cases.find((x: any) => x.body_text.includes('hel'));
    const res = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/hel%3Clo', identity: s.admin });
    expect(res.status).toBe(c.status);
    expect(res.text()).toBe(c.body_text);
    expect(res.headers['content-type']).toBe(vectors.error_body_bytes.content_type);
    for (const v of vectors.error_body_bytes.cases.filter((x: any) => x.content_length)) {
      const r =
        v.status === 404
          ? await s.handler.inject({ method: 'GET', path: '/v1/key/describe/missing', identity: s.admin })
          : await s.handler.inject({ method: 'GET', path: '/v1/key/describe/missing', identity: 'f'.repeat(64) });
      expect(r.status).toBe(v.status);
      expect(r.text()).toBe(v.body_text);
      expect(r.headers['content-length']).toBe(String(v.content_length));
    }
  });
});

describe('crypto routes', () => {
  it('generate → decrypt round trip with context; sizes as upstream', async () => {
    s = await setup();
    await create('dek');
    const ctx = b64('{"MinIO admin API":"ServerInfoHandler"}');
    const gen = await put('/v1/key/generate/dek', { context: ctx });
    expect(gen.status).toBe(200);
    const g = gen.json<{ plaintext: string; ciphertext: string }>();
    expect(Object.keys(g)).toEqual(['plaintext', 'ciphertext']);
    expect(g.plaintext).toHaveLength(44);
    expect(g.ciphertext).toHaveLength(104);
    const dec = await put('/v1/key/decrypt/dek', { ciphertext: g.ciphertext, context: ctx, version: 'v1' });
    expect(dec.status).toBe(200);
    expect(dec.text()).toBe(`{"plaintext":"${g.plaintext}"}\n`);
    // Wrong context: not authentic.
    expectError(await put('/v1/key/decrypt/dek', { ciphertext: g.ciphertext }), 400, 'decryption failed: ciphertext is not authentic', expect);
  });

  it('generate accepts an empty body with Content-Length 0 but not an empty chunked body', async () => {
    s = await setup();
    await create('dek');
    const ok = await s.handler.inject({ method: 'POST', path: '/v1/key/generate/dek', identity: s.admin });
    expect(ok.status).toBe(200);
    const chunked = await s.handler.inject({
      method: 'POST',
      path: '/v1/key/generate/dek',
      identity: s.admin,
      headers: { 'Transfer-Encoding': 'chunked' },
      body: '',
    });
    expectError(chunked, 400, 'invalid request body', expect);
  });

  it('encrypt → decrypt round trip, empty plaintext allowed, version accepted and ignored', async () => {
    s = await setup();
    await create('enc');
    const enc = await put('/v1/key/encrypt/enc', { plaintext: b64('hello world'), version: 'whatever' });
    expect(enc.status).toBe(200);
    const { ciphertext } = enc.json<{ ciphertext: string }>();
    expect(Buffer.from(ciphertext, 'base64').length).toBe(11 + 44);
    expect(enc.text()).not.toContain('version');
    const dec = await put('/v1/key/decrypt/enc', { ciphertext });
    expect(Buffer.from(dec.json<{ plaintext: string }>().plaintext, 'base64').toString()).toBe('hello world');
    const empty = await put('/v1/key/encrypt/enc', {});
    expect(Buffer.from(empty.json<{ ciphertext: string }>().ciphertext, 'base64').length).toBe(44);
  });

  it('decodes bodies with Go JSON rules: case-insensitive fields, trailing bytes ignored, last duplicate wins, null ok', async () => {
    s = await setup();
    await create('go');
    const enc = await put('/v1/key/encrypt/go', `{"PlainText":"${b64('abc')}","plaintext":"${b64('xyz')}"} trailing garbage`);
    expect(enc.status).toBe(200);
    const dec = await put('/v1/key/decrypt/go', `{"CIPHERTEXT":"${enc.json<{ ciphertext: string }>().ciphertext}","context":null}`);
    expect(Buffer.from(dec.json<{ plaintext: string }>().plaintext, 'base64').toString()).toBe('xyz');
    expect((await put('/v1/key/encrypt/go', 'null')).status).toBe(200);
  });

  it('bad JSON, wrong types, bad base64 and empty bodies are 400 invalid request body', async () => {
    s = await setup();
    await create('bad');
    const bodies = [
      '',
      '{',
      'not json',
      '[]',
      '"str"',
      '{"plaintext":5}',
      '{"plaintext":"aGVsbG8"}', // unpadded
      '{"plaintext":"a-_b"}', // URL-safe alphabet
      '{"plaintext":"aGVsbG8=","context":true}',
      '{"plaintext":"","version":1}',
    ];
    for (const body of bodies) {
      expectError(await put('/v1/key/encrypt/bad', body), 400, 'invalid request body', expect);
    }
    expectError(await put('/v1/key/decrypt/bad', '{"ciphertext":{}}'), 400, 'invalid request body', expect);
    for (const array of ['[256]', '[-1]', '[1.0]', '[1e0]', '["1"]', '[[1]]', '[true]']) {
      expectError(await put('/v1/key/hmac/bad', `{"message":${array}}`), 400, 'invalid request body', expect);
    }
    expectError(await put('/v1/key/generate/bad', '{"context":1}'), 400, 'invalid request body', expect);
    expectError(await put('/v1/key/import/bad2', '{"key":1}'), 400, 'invalid import key request body', expect);
    expectError(await put('/v1/key/import/bad2', ''), 400, 'invalid import key request body', expect);
  });

  it('decodes at most the first 1,000,000 bytes (decimal MB) of a body, as upstream', async () => {
    s = await setup();
    await create('big');
    const pad = (n: number): string => {
      const head = `{"plaintext":"${b64('x')}"}`;
      return head + ' '.repeat(n - head.length);
    };
    expect((await put('/v1/key/encrypt/big', pad(1_000_000))).status).toBe(200);
    // Whatever follows the first value past the limit is never read.
    expect((await put('/v1/key/encrypt/big', `${pad(1_000_000)}garbage`)).status).toBe(200);
    const unfinished = (n: number): string => `{"plaintext":"${'A'.repeat(n - 16)}"}`;
    expect(unfinished(1_000_000).length).toBe(1_000_000);
    expect((await put('/v1/key/encrypt/big', unfinished(1_000_000))).status).toBe(200);
    expectError(await put('/v1/key/encrypt/big', unfinished(1_000_004)), 400, 'invalid request body', expect);
    // Without a Content-Length (chunked): the reader stops at the limit too.
    const chunked = await s.handler.inject({
      method: 'PUT',
      path: '/v1/key/encrypt/big',
      identity: s.admin,
      headers: { 'transfer-encoding': 'chunked' },
      body: unfinished(1_000_004),
    });
    expectError(chunked, 400, 'invalid request body', expect);
    expectError(await put('/v1/key/import/big2', unfinished(1_000_004)), 400, 'invalid import key request body', expect);
  });

  it('hmac: 32 bytes, deterministic per key', async () => {
    s = await setup();
    await create('mac');
    const a = await put('/v1/key/hmac/mac', { message: b64('msg') });
    const b = await put('/v1/key/hmac/mac', { message: b64('msg') });
    expect(a.status).toBe(200);
    expect(Buffer.from(a.json<{ hmac: string }>().hmac, 'base64')).toHaveLength(32);
    expect(a.text()).toBe(b.text());
  });

  it('hmac with a legacy JSON-stored key is 409', async () => {
    const store = createMemoryKeyStore();
    await store.create('legacy', Buffer.from(`{"bytes":"${b64(new Uint8Array(32))}"}`));
    s = await setup({ keyStore: store });
    expectError(await put('/v1/key/hmac/legacy', { message: '' }), 409, 'key does not support HMAC', expect);
  });
});

describe('import (vectors import_key_cases, ciphertext_decrypt)', () => {
  for (const c of vectors.import_key_cases.cases as any[]) {
    it(`import ${c.key_len} bytes as '${c.cipher}' → ${c.should_fail ? c.expected_status : 200}`, async () => {
      s = await setup();
      const res = await put('/v1/key/import/imp', { key: b64(new Uint8Array(c.key_len).fill(7)), cipher: c.cipher });
      if (c.should_fail) expectError(res, c.expected_status, c.expected_message, expect);
      else {
        expect(res.status).toBe(200);
        expect(res.headers['content-length']).toBe('0');
        const d = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/imp', identity: s.admin });
        expect(d.json<{ algorithm: string; created_by: string }>()).toMatchObject({
          algorithm: vectors.import_key_cases.accepted_cipher_strings[c.cipher],
          created_by: s.admin,
        });
      }
    });
  }

  it('accepts every cipher spelling and rejects an existing name', async () => {
    s = await setup();
    for (const [i, [cipher, alg]] of Object.entries(vectors.import_key_cases.accepted_cipher_strings).entries()) {
      const res = await put(`/v1/key/import/k${i}`, { key: b64(new Uint8Array(32)), cipher });
      expect(res.status).toBe(200);
      const d = await s.handler.inject({ method: 'GET', path: `/v1/key/describe/k${i}`, identity: s.admin });
      expect(d.json<{ algorithm: string }>().algorithm).toBe(alg);
    }
    expectError(await put('/v1/key/import/k0', { key: b64(new Uint8Array(32)), cipher: 'AES256' }), 400, 'key already exists', expect);
  });

  it('checks the cipher before the key size', async () => {
    s = await setup();
    expectError(await put('/v1/key/import/x', { key: b64(new Uint8Array(3)), cipher: 'DES' }), 406, "algorithm 'DES' is not supported", expect);
    expectError(await put('/v1/key/import/x', { cipher: 'AES256' }), 406, "invalid key size for 'AES256'", expect);
  });

  for (const v of vectors.ciphertext_decrypt as any[]) {
    it(`decrypt vector ${v.id} (${v.format}) through the API`, async () => {
      s = await setup();
      expect((await put('/v1/key/import/vec', { key: v.key_b64, cipher: v.cipher })).status).toBe(200);
      const ciphertext = v.ciphertext_b64 ?? b64(v.ciphertext_text);
      const body: Record<string, string> = { ciphertext };
      if (v.associated_data_b64) body.context = v.associated_data_b64;
      const res = await put('/v1/key/decrypt/vec', body);
      if (v.should_fail) expectError(res, 400, 'decryption failed: ciphertext is not authentic', expect);
      else {
        expect(res.status).toBe(200);
        expect(res.text()).toBe(`{"plaintext":"${v.plaintext_b64}"}\n`);
      }
    });
  }
});

describe('key-store failures', () => {
  it('maps key-store errors to the route texts (502) and keeps the detail in the error log only', async () => {
    const store = new FlakyStore();
    s = await setup({ keyStore: store });
    await create('pre');
    store.down = true;
    expectError(await s.handler.inject({ method: 'PUT', path: '/v1/key/create/x', identity: s.admin }), 502, 'failed to create key', expect);
    expectError(await put('/v1/key/import/x', { key: b64(new Uint8Array(32)), cipher: 'AES256' }), 502, 'failed to create key', expect);
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/key/describe/x', identity: s.admin }), 502, 'failed to read key', expect);
    expectError(await s.handler.inject({ method: 'DELETE', path: '/v1/key/delete/x', identity: s.admin }), 502, 'failed to delete key', expect);
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/key/list/', identity: s.admin }), 502, 'failed to list keys', expect);
    expectError(await put('/v1/key/encrypt/x', { plaintext: '' }), 502, 'failed to read key', expect);
    const messages = s.errors.map((e: any) => e.message as string);
    expect(messages).toHaveLength(6);
    for (const m of messages) {
      expect(m).toMatch(
        /^time=\S+ level=ERROR msg="failed to \w+ key\w*" req\.method=\w+ req\.path=\/v1\/key\/\S+ req\.ip=\S* req\.identity=[0-9a-f]{64} err=/,
      );
      expect(m).toContain('refused the connection');
    }
  });

  it('turns uncatalogued errors into a generic 500', async () => {
    const store = createMemoryKeyStore();
    await store.create('corrupt', Buffer.from('%%% not a key %%%'));
    s = await setup({ keyStore: store });
    // A stored value that cannot be parsed is a read failure (502), not a crash.
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/key/describe/corrupt', identity: s.admin }), 502, 'failed to read key', expect);
  });
});

describe('declarative keys', () => {
  it('creates missing keys at start with created_by = admin, keeps existing ones', async () => {
    const store = createMemoryKeyStore();
    const existing = MasterKey.generate({ createdBy: 'someone' });
    await store.create('have', existing.encode());
    s = await setup({ keyStore: store, keys: [{ name: 'have' }, { name: 'new-key' }] });
    const d = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/new-key', identity: s.admin });
    expect(d.json<{ created_by: string }>().created_by).toBe(s.admin);
    const h = await s.handler.inject({ method: 'GET', path: '/v1/key/describe/have', identity: s.admin });
    expect(h.json<{ created_by: string }>().created_by).toBe('someone');
  });

  it('rejects duplicate names', async () => {
    await expect(setup({ keys: [{ name: 'a' }, { name: 'a' }] })).rejects.toMatchObject({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: "invalid server options: keys: key 'a' is listed more than once",
    });
  });
});

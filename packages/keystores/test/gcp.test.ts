// The GCP Secret Manager key store against a FAKE Secret Manager (test/fakes/gcp.ts,
// written from Google's public REST documentation; no emulator exists): the shared
// contract, the layout upstream KES uses (interop), and the store's own rules
// (two-step create undone on failure, version 1 only, checksums, paged listing).
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey, listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createGcpKeyStore } from '@kes/keystores/gcp';
import type { GcpKeyStoreOptions } from '@kes/keystores/gcp';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { FakeGcp, googleErrorBody } from './fakes/gcp.js';
import { crc32c } from '../src/internal/gcp-crc32c.js';
import { loadVectors } from '../../../test/support/index.js';

interface Vectors {
  key_version_encode: { cases: { should_fail: boolean; expected_encoding_text?: string }[] };
  key_version_parse: { cases: { should_fail: boolean; raw_text: string }[] };
}
const vectors = loadVectors<Vectors>();

let fake: FakeGcp;
const stores: KeyStore[] = [];

beforeAll(async () => {
  fake = await FakeGcp.start({ maxPageSize: 300 });
});
afterEach(() => {
  fake.reset();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake.close();
});

function options(extra: Partial<GcpKeyStoreOptions> = {}): GcpKeyStoreOptions {
  return {
    projectId: fake.projectId,
    endpoint: fake.url,
    tokenUrl: fake.tokenUrl,
    credentials: fake.credentials,
    tls: { ca: fake.ca },
    env: {},
    ...extra,
  };
}

function open(extra: Partial<GcpKeyStoreOptions> = {}): KeyStore {
  const store = createGcpKeyStore(options(extra));
  stores.push(store);
  return store;
}

runKeyStoreContract('gcp (fake Secret Manager)', async () => open(), { listSize: 2000 });
runVersionRecordContract('gcp (fake Secret Manager)', async () => open());

describe('gcp key store: layout shared with upstream KES (fake Secret Manager)', () => {
  it('reads key versions upstream KES stored: secret id = key name, version 1 = the value bytes (base64 protobuf and legacy JSON)', async () => {
    // What upstream writes: AddSecretVersion with payload.data = the encoded key version, unchanged.
    const texts = [
      ...vectors.key_version_encode.cases.flatMap((c) => (c.should_fail ? [] : [c.expected_encoding_text!])),
      ...vectors.key_version_parse.cases.flatMap((c) => (c.should_fail ? [] : [c.raw_text])),
    ];
    expect(texts.length).toBeGreaterThan(1);
    const store = open();
    for (const [i, text] of texts.entries()) {
      fake.put(`upstream-${i}`, [Buffer.from(text, 'utf8')]);
      const got = await store.get(`upstream-${i}`);
      expect(Buffer.from(got).toString('utf8')).toBe(text);
      // And the server-side parser accepts what came back.
      if (!text.trimStart().startsWith('{')) expect(() => MasterKey.parse(got).destroy()).not.toThrow();
    }
  });

  it('stores exactly the bytes upstream would store for the same key version', async () => {
    const text = vectors.key_version_encode.cases.find((c) => !c.should_fail)!.expected_encoding_text!;
    await open().create('vector-key', new TextEncoder().encode(text));
    expect(fake.secrets.get('vector-key')!.versions.get(1)!.data.toString('utf8')).toBe(text);
  });

  it('writes what upstream writes: CreateSecret(secretId=name, automatic replication), then AddSecretVersion(value)', async () => {
    const store = open();
    const value = new Uint8Array(randomBytes(80));
    await store.create('our-key', value);
    const calls = fake.requests.filter((r) => r.path.startsWith('/v1/'));
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /v1/projects/${fake.projectId}/secrets`,
      `POST /v1/projects/${fake.projectId}/secrets/our-key:addVersion`,
    ]);
    expect(calls[0]!.query.get('secretId')).toBe('our-key');
    expect(calls[0]!.body).toEqual({ replication: { automatic: {} } });
    expect(calls[1]!.body).toEqual({ payload: { data: Buffer.from(value).toString('base64'), dataCrc32c: String(crc32c(value)) } });
    // Stored bytes are exactly the value: upstream reads them unchanged.
    expect(fake.secrets.get('our-key')!.versions.get(1)!.data).toEqual(Buffer.from(value));
    // Every API call carries the access token from the JWT-bearer grant.
    expect(calls.every((r) => /^Bearer ya29\.fake-/.test(String(r.headers.authorization)))).toBe(true);
  });

  it('reads version 1 only, as upstream: versions added later are ignored', async () => {
    fake.put('versioned', [Buffer.from('first'), Buffer.from('second')]);
    expect(Buffer.from(await open().get('versioned')).toString()).toBe('first');
    expect(fake.requests.at(-1)!.path).toBe(`/v1/projects/${fake.projectId}/secrets/versioned/versions/1:access`);
  });

  it('a secret without version 1 (an upstream create that crashed) reads as not found, refuses create, and can be deleted', async () => {
    fake.put('half-done', []);
    const store = open();
    await expectKesError(store.get('half-done'), 'ERR_KES_KEY_NOT_FOUND');
    await expectKesError(store.create('half-done', new Uint8Array(8)), 'ERR_KES_KEY_EXISTS');
    await store.delete('half-done');
    await store.create('half-done', new Uint8Array([1, 2, 3]));
    expect(await store.get('half-done')).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('a disabled version 1 is an unavailable key store, not a missing key', async () => {
    fake.put('disabled', [Buffer.from('x')]);
    fake.secrets.get('disabled')!.versions.get(1)!.state = 'DISABLED';
    const e = await open()
      .get('disabled')
      .catch((err: unknown) => err);
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toMatch(/HTTP 400: FAILED_PRECONDITION: .*DISABLED state/);
  });
});

describe('gcp key store: two-step create (fake Secret Manager)', () => {
  it('when adding the version fails, the secret is deleted again: no half-written key remains', async () => {
    const store = open();
    fake.fault = (r) =>
      r.path.endsWith(':addVersion')
        ? { status: 503, body: googleErrorBody(503, 'UNAVAILABLE', 'The service is currently unavailable.') }
        : undefined;
    const e = await store.create('step-two-fails', new Uint8Array(32)).catch((err: unknown) => err);
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toBe(
      'Error: gcp: add version to step-two-fails: HTTP 503: UNAVAILABLE: The service is currently unavailable.',
    );
    expect(fake.secrets.has('step-two-fails')).toBe(false);
    expect(fake.requests.at(-1)!.method).toBe('DELETE');
    fake.fault = undefined;
    await store.create('step-two-fails', new Uint8Array([7]));
    expect(await store.get('step-two-fails')).toEqual(new Uint8Array([7]));
  });

  it('when step two hangs past the timeout, the secret is deleted again', async () => {
    const store = open({ requestTimeoutMs: 300 });
    fake.fault = (r) => (r.path.endsWith(':addVersion') ? 'hang' : undefined);
    const e = await store.create('step-two-hangs', new Uint8Array(32)).catch((err: unknown) => err);
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toMatch(/addVersion: no answer within 300 ms/);
    expect(fake.secrets.has('step-two-hangs')).toBe(false);
  });

  it('when the caller aborts during step two, the secret is deleted again and the call rejects with the reason', async () => {
    const store = open();
    const ctl = new AbortController();
    fake.fault = (r) => {
      if (r.path.endsWith(':addVersion')) {
        setTimeout(() => ctl.abort(new Error('caller gave up')), 20);
        return 'hang';
      }
      return undefined;
    };
    await expect(store.create('step-two-aborted', new Uint8Array(32), { signal: ctl.signal })).rejects.toThrow('caller gave up');
    expect(fake.secrets.has('step-two-aborted')).toBe(false);
  });

  it('when the undo fails too, the cause says which secret to remove', async () => {
    const store = open();
    fake.fault = (r) =>
      r.path.endsWith(':addVersion') || r.method === 'DELETE'
        ? { status: 500, body: googleErrorBody(500, 'INTERNAL', 'Internal error.') }
        : undefined;
    const e = await store.create('undo-fails', new Uint8Array(32)).catch((err: unknown) => err);
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toBe(
      "Error: gcp: create undo-fails failed and the half-created secret could not be removed (HTTP 500: INTERNAL: Internal error.); delete it before creating 'undo-fails' again",
    );
    expect(fake.secrets.has('undo-fails')).toBe(true);
  });
});

describe('gcp key store: reads and listings (fake Secret Manager)', () => {
  it('a payload whose CRC32C does not match is refused', async () => {
    fake.put('corrupt', [Buffer.from('value')]);
    fake.fault = (r) =>
      r.path.endsWith(':access')
        ? { status: 200, body: { name: 'x', payload: { data: Buffer.from('value').toString('base64'), dataCrc32c: '1' } } }
        : undefined;
    const e = await open()
      .get('corrupt')
      .catch((err: unknown) => err);
    await expectKesError(Promise.reject(e), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(String((e as Error).cause)).toBe('Error: gcp: get corrupt: payload checksum (CRC32C) mismatch');
  });

  it('follows nextPageToken over many pages, sorts, filters by prefix server-side, skips ids that are no KES names', async () => {
    const prefix = `lp${randomBytes(3).toString('hex')}`;
    const names = Array.from({ length: 650 }, (_, i) => `${prefix}-${String(649 - i).padStart(3, '0')}`);
    for (const n of names) fake.put(n, [Buffer.from('v')]);
    fake.put(`${prefix}_`, [Buffer.from('v')]); // valid
    fake.put(`-${prefix}`, [Buffer.from('v')]); // not a KES name (leading '-')
    const store = open({ listPageSize: 500 });
    fake.requests.length = 0;
    const all = await listAll(store, prefix);
    expect(all).toEqual([...names, `${prefix}_`].sort());
    const lists = fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/secrets'));
    // 651 matches in pages of at most 300 (the fake's cap, below the asked 500): 3 requests, all filtered.
    expect(lists).toHaveLength(3);
    expect(lists.every((r) => r.query.get('filter') === `name:"${prefix}"` && r.query.get('pageSize') === '500')).toBe(true);
  });

  it('a paged listing (continueAt) is served from the first listing, not fetched again', async () => {
    const prefix = `pg${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 30; i++) fake.put(`${prefix}-${String(i).padStart(2, '0')}`, [Buffer.from('v')]);
    const store = open();
    fake.requests.length = 0;
    const first = await store.list(prefix, { limit: 10 });
    expect(first.names).toHaveLength(10);
    const second = await store.list(prefix, { limit: 10, continueAt: first.continueAt });
    expect(second.names[0]).toBe(first.continueAt);
    expect(fake.requests.filter((r) => r.path.endsWith('/secrets'))).toHaveLength(1);
  });

  it('refuses names that could leave the project namespace before any request', async () => {
    const store = open();
    fake.requests.length = 0;
    for (const bad of ['../x', 'a/b', 'a%2Fb', 'x:access', 'a.b', '']) {
      await expectKesError(store.get(bad), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.create(bad, new Uint8Array(1)), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.delete(bad), 'ERR_KES_INVALID_KEY_NAME');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('status() is an authenticated listing of one secret', async () => {
    const store = open();
    fake.requests.length = 0;
    expect((await store.status()).latencyMs).toBeGreaterThanOrEqual(0);
    const last = fake.requests.at(-1)!;
    expect(`${last.method} ${last.path}?${last.query}`).toBe(`GET /v1/projects/${fake.projectId}/secrets?pageSize=1`);
    expect(String(last.headers.authorization)).toMatch(/^Bearer /);
  });

  it('kind names the endpoint host and the project', () => {
    expect(open().kind).toBe(`gcp-secretmanager:${new URL(fake.url).host} project=${fake.projectId}`);
  });
});

describe('gcp key store: version records (fake Secret Manager)', () => {
  const record = (name: string, id: string): string => {
    const base = `${name}--versions--${id}`;
    return base + '-'.repeat(Math.max(1, 81 - base.length));
  };

  it('keeps record <name>/<id> as secret "<name>--versions--<id>" padded with "-" past 80 characters, value in version 1', async () => {
    const store = open();
    const value = new Uint8Array(randomBytes(64));
    await store.versions!.create('vr-layout', '2', value);
    const id = record('vr-layout', '2');
    expect(id).toBe(`vr-layout--versions--2${'-'.repeat(59)}`);
    expect(id).toHaveLength(81);
    expect(fake.secrets.get(id)!.versions.get(1)!.data).toEqual(Buffer.from(value));
    // Written like a key: CreateSecret with automatic replication, then AddSecretVersion.
    const calls = fake.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/'));
    expect(calls.map((r) => r.query.get('secretId') ?? r.path.slice(r.path.lastIndexOf('/') + 1))).toEqual([id, `${id}:addVersion`]);
    // A long key name gives a record id within Secret Manager's 255 characters, still ending in '-'.
    const long = 'L'.repeat(80);
    await store.versions!.create(long, 'c1234567890abcde', new Uint8Array([1]));
    expect(fake.secrets.has(`${long}--versions--c1234567890abcde-`)).toBe(true);
    expect(await store.versions!.list(long)).toEqual(['c1234567890abcde']);
    expect(store.versions!.location).toBe(`${store.kind} secrets <name>--versions--<id>`);
  });

  it('list() never shows records, whatever the prefix, and paging skips them', async () => {
    const store = open({ listPageSize: 7 });
    const p = `vl${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 12; i++) {
      await store.create(`${p}-${i}`, new Uint8Array([i]));
      await store.versions!.create(`${p}-${i}`, '2', new Uint8Array([i]));
      await store.versions!.create(`${p}-${i}`, 'c1', new Uint8Array([i]));
    }
    const keys = Array.from({ length: 12 }, (_, i) => `${p}-${i}`).sort();
    expect(await listAll(store, p)).toEqual(keys);
    expect(await listAll(store, `${p}-1`)).toEqual(keys.filter((k) => k.startsWith(`${p}-1`)));
    const page = await store.list(p, { limit: 5 });
    expect(page.names).toEqual(keys.slice(0, 5));
    expect((await listAll(store, '')).filter((n) => n.includes('--versions--'))).toEqual([]);
  });

  it('versions.list asks for the ids containing "<name>--versions--" and keeps only exact records of that name', async () => {
    const store = open();
    const n = `vx${randomBytes(3).toString('hex')}`;
    await store.versions!.create(n, '2', new Uint8Array([1]));
    await store.versions!.create(`${n}-b`, '2', new Uint8Array([1]));
    await store.versions!.create(`${n}--versions--2`, '3', new Uint8Array([1]));
    // Look-alikes another writer could leave: too little padding, something behind the id, an upper-case id.
    fake.put(`${n}--versions--4`, [Buffer.from('x')]);
    fake.put(`${n}--versions--5-x${'-'.repeat(70)}`, [Buffer.from('x')]);
    fake.put(`${n}--versions--A${'-'.repeat(70)}`, [Buffer.from('x')]);
    fake.put(`x${record(n, '6')}`, [Buffer.from('x')]);
    fake.requests.length = 0;
    expect(await store.versions!.list(n)).toEqual(['2']);
    const lists = fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/secrets'));
    expect(lists.map((r) => r.query.get('filter'))).toEqual([`name:"${n}--versions--"`]);
    expect(await store.versions!.list(`${n}-b`)).toEqual(['2']);
    expect(await store.versions!.list(`${n}--versions--2`)).toEqual(['3']);
  });

  it('a record create whose second step fails is undone like a key create', async () => {
    const store = open();
    fake.fault = (r) => (r.path.endsWith(':addVersion') ? { status: 503, body: googleErrorBody(503, 'UNAVAILABLE', 'down') } : undefined);
    await expectKesError(store.versions!.create('vr-undo', '2', new Uint8Array([1])), 'ERR_KES_KEYSTORE_UNAVAILABLE');
    expect(fake.secrets.has(record('vr-undo', '2'))).toBe(false);
    fake.fault = undefined;
    await store.versions!.create('vr-undo', '2', new Uint8Array([2]));
    expect(await store.versions!.get('vr-undo', '2')).toEqual(new Uint8Array([2]));
  });

  it('refuses bad names and ids before any request', async () => {
    const store = open();
    fake.requests.length = 0;
    await expectKesError(store.versions!.create('a.b', '2', new Uint8Array([1])), 'ERR_KES_INVALID_ARGUMENT');
    await expectKesError(store.versions!.get('ok', '-2'), 'ERR_KES_INVALID_ARGUMENT');
    await expectKesError(store.versions!.list('x'.repeat(81)), 'ERR_KES_INVALID_ARGUMENT');
    expect(fake.requests).toHaveLength(0);
  });
});

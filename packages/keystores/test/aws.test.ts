// The AWS Secrets Manager key store against a real moto server (started by
// test/global-setup.ts): the shared key-store and version-record contract suites with
// and without a KMS key, upstream layout interop, pagination and prefix filtering, and
// version records that never show up as keys.
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isKesError, listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createAwsKeyStore } from '@kes/keystores/aws';
import type { AwsKeyStoreOptions } from '@kes/keystores/aws';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { loadVectors } from '../../../test/support/index.js';
// Brings the `inject()` keys (motoEndpoint, motoSkipReason) declared by the global setup into the type check.
import type {} from '../../../test/global-setup.js';

const endpoint = inject('motoEndpoint');
const skipReason = inject('motoSkipReason');
if (!endpoint) process.stderr.write(`[aws.test] skipped: moto is not available: ${skipReason}\n`);

const REGION = 'us-east-1';
// Static credentials: moto does not check them, and the SDK never probes instance metadata.
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/**
 * Keys created by the contract's listing test. Measured against moto 5.2.5 on
 * this machine (2 cores): 10 000 creates with 32 in flight take about 80 s, and
 * one walk of ListSecrets over 10 000 secrets about 8 s (moto's ListSecrets
 * costs O(all secrets) per page of 100). So the AWS run uses 1 000 keys;
 * `KES_AWS_LIST_SIZE=10000` runs the full size.
 */
const LIST_SIZE = Number(process.env.KES_AWS_LIST_SIZE ?? 1_000);

interface Vectors {
  key_version_encode: { cases: { should_fail: boolean; expected_encoding_text?: string }[] };
  key_version_parse: { cases: { should_fail: boolean; raw_text: string }[] };
}
const vectors = loadVectors<Vectors>();

function openStore(extra: Partial<AwsKeyStoreOptions> = {}): KeyStore {
  return createAwsKeyStore({ endpoint, region: REGION, credentials: CREDENTIALS, ...extra });
}

function sdkClient(): SecretsManagerClient {
  return new SecretsManagerClient({ endpoint, region: REGION, credentials: CREDENTIALS });
}

/** Creates a symmetric KMS key in moto with a plain (unsigned) JSON 1.1 request and returns its ARN. */
async function createKmsKey(): Promise<string> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.CreateKey',
      // moto routes by the service named in the credential scope; it does not check the signature.
      authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/kms/aws4_request, SignedHeaders=host, Signature=00`,
    },
    body: JSON.stringify({ Description: 'kes-ts aws keystore tests' }),
  });
  const body = (await res.json()) as { KeyMetadata?: { Arn?: string } };
  if (!res.ok || !body.KeyMetadata?.Arn) throw new Error(`KMS CreateKey failed: HTTP ${res.status}`);
  return body.KeyMetadata.Arn;
}

function unique(tag: string): string {
  return `aws-${tag}-${randomBytes(4).toString('hex')}`;
}

describe.skipIf(!endpoint)('AWS Secrets Manager key store (moto)', () => {
  runKeyStoreContract('aws (moto)', async () => openStore(), { listSize: LIST_SIZE });

  let kmsKeyArn = '';
  runKeyStoreContract(
    'aws (moto, KMS key)',
    async () => {
      kmsKeyArn ||= await createKmsKey();
      return openStore({ kmsKeyId: kmsKeyArn });
    },
    { listSize: 150 },
  );

  runVersionRecordContract('aws (moto)', async () => openStore());
  runVersionRecordContract('aws (moto, KMS key)', async () => {
    kmsKeyArn ||= await createKmsKey();
    return openStore({ kmsKeyId: kmsKeyArn });
  });

  describe('version records', () => {
    let sdk: SecretsManagerClient;
    let store: KeyStore;
    let kmsKeyId: string;
    const base = unique('vr');
    /** 120 keys (more than one ListSecrets page), each with two records, and decoys around them. */
    const keys = Array.from({ length: 120 }, (_, i) => `${base}-${String(i).padStart(3, '0')}`);

    beforeAll(async () => {
      sdk = sdkClient();
      kmsKeyId = await createKmsKey();
      store = openStore({ kmsKeyId });
      for (let i = 0; i < keys.length; i += 20) {
        await Promise.all(
          keys
            .slice(i, i + 20)
            .flatMap((k) => [
              store.create(k, new Uint8Array([1])),
              store.versions!.create(k, '2', new Uint8Array([2])),
              store.versions!.create(k, 'c1', new Uint8Array([3])),
            ]),
        );
      }
    });
    afterAll(async () => {
      for (const k of keys) {
        await store.delete(k).catch(() => undefined);
        for (const id of ['2', 'c1']) await store.versions!.delete(k, id).catch(() => undefined);
      }
      sdk.destroy();
      await store.close();
    });

    it('are secrets <name>/versions/<id> with the value as SecretString and the store’s KMS key', async () => {
      const name = keys[0]!;
      expect(store.versions!.location).toBe(`aws-secretsmanager:${endpoint} (secrets <name>/versions/<id>)`);
      const out = await sdk.send(new GetSecretValueCommand({ SecretId: `${name}/versions/2` }));
      expect(out.SecretBinary).toBeUndefined();
      expect(Buffer.from(out.SecretString ?? '', 'utf8')).toEqual(Buffer.from([2]));
      const desc = await sdk.send(new DescribeSecretCommand({ SecretId: `${name}/versions/c1` }));
      expect(desc.KmsKeyId).toBe(kmsKeyId);
      expect(desc.Tags ?? []).toEqual([]);
    });

    it('never show up in list(), whatever the prefix or page size, and paging still works', async () => {
      expect(await listAll(store, base)).toEqual(keys);
      expect(await listAll(store, `${keys[5]}`)).toEqual([keys[5]]);
      expect(await listAll(store, `${keys[5]}/`)).toEqual([]);
      const everything = await listAll(store, '');
      for (const n of everything) expect(n).not.toContain('/');
      for (const k of keys) expect(everything).toContain(k);
      const first = await store.list(base, { limit: 50 });
      expect(first).toEqual({ names: keys.slice(0, 50), continueAt: keys[50] });
      const second = await store.list(base, { limit: 50, continueAt: first.continueAt });
      expect(second).toEqual({ names: keys.slice(50, 100), continueAt: keys[100] });
      const third = await store.list(base, { limit: 50, continueAt: second.continueAt });
      expect(third).toEqual({ names: keys.slice(100), continueAt: '' });
    });

    it('list(name) keeps exact <name>/versions/<id> matches only', async () => {
      const name = keys[1]!;
      // Decoys a prefix filter on `<name>/versions/` would return, or that share the key's prefix.
      const decoys = [`${name}/versions/Not-An-Id`, `${name}/versions/2/deeper`, `${name}/versions/`, `${name}/other/2`, `${name}0/versions/2`];
      for (const d of decoys) await sdk.send(new CreateSecretCommand({ Name: d, SecretString: 'x' }));
      try {
        expect((await store.versions!.list(name)).sort()).toEqual(['2', 'c1']);
        expect(await store.versions!.list(`${name}0`)).toEqual(['2']);
        expect(await listAll(store, name)).toEqual([name]);
      } finally {
        for (const d of decoys) await sdk.send(new DeleteSecretCommand({ SecretId: d, ForceDeleteWithoutRecovery: true }));
      }
    });

    it('delete removes the record at once (ForceDeleteWithoutRecovery); a key delete leaves records alone', async () => {
      const name = keys[2]!;
      await store.versions!.delete(name, '2');
      await expect(sdk.send(new DescribeSecretCommand({ SecretId: `${name}/versions/2` }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      await store.versions!.create(name, '2', new Uint8Array([4])); // the name is free again right away
      await store.delete(name);
      expect(await store.versions!.get(name, '2')).toEqual(new Uint8Array([4]));
      await store.create(name, new Uint8Array([1]));
    });

    it('a record scheduled for deletion is not found and its id is taken', async () => {
      const name = keys[3]!;
      await sdk.send(new DeleteSecretCommand({ SecretId: `${name}/versions/c1`, RecoveryWindowInDays: 7 }));
      await expectKesError(store.versions!.get(name, 'c1'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      await expectKesError(store.versions!.delete(name, 'c1'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      await expectKesError(store.versions!.create(name, 'c1', new Uint8Array([1])), 'ERR_KES_KEY_EXISTS', 'key already exists');
      await sdk.send(new DeleteSecretCommand({ SecretId: `${name}/versions/c1`, ForceDeleteWithoutRecovery: true }));
    });
  });

  describe('upstream layout interop', () => {
    let sdk: SecretsManagerClient;
    let store: KeyStore;
    let kmsStore: KeyStore;
    let kmsKeyId: string;
    const created: string[] = [];

    beforeAll(async () => {
      sdk = sdkClient();
      store = openStore();
      kmsKeyId = await createKmsKey();
      kmsStore = openStore({ kmsKeyId });
    });
    afterAll(async () => {
      for (const name of created) {
        await sdk.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
      }
      sdk.destroy();
      await store.close();
      await kmsStore.close();
    });

    it('reads secrets written in upstream layout (SecretString with base64 protobuf or legacy JSON)', async () => {
      const texts = [
        ...vectors.key_version_encode.cases.flatMap((c) => (c.should_fail ? [] : [c.expected_encoding_text!])),
        ...vectors.key_version_parse.cases.flatMap((c) => (c.should_fail ? [] : [c.raw_text])),
      ];
      expect(texts.length).toBeGreaterThan(1);
      for (const [i, text] of texts.entries()) {
        const name = unique(`up${i}`);
        created.push(name);
        await sdk.send(new CreateSecretCommand({ Name: name, SecretString: text }));
        const got = await store.get(name);
        expect(Buffer.from(got).toString('utf8')).toBe(text);
        expect(await listAll(store, name)).toEqual([name]);
      }
    });

    it('reads a secret written as SecretBinary', async () => {
      const name = unique('bin');
      created.push(name);
      const value = new Uint8Array([0, 0xff, 0xfe, 1, 2, 3]);
      await sdk.send(new CreateSecretCommand({ Name: name, SecretBinary: value }));
      expect(await store.get(name)).toEqual(value);
    });

    it('writes upstream layout: secret name = key name, value as SecretString, no tags or description', async () => {
      const name = unique('ours');
      created.push(name);
      const text = vectors.key_version_encode.cases.find((c) => !c.should_fail)!.expected_encoding_text!;
      await store.create(name, new TextEncoder().encode(text));

      const out = await sdk.send(new GetSecretValueCommand({ SecretId: name }));
      expect(out.Name).toBe(name);
      expect(out.SecretString).toBe(text);
      expect(out.SecretBinary).toBeUndefined();
      const desc = await sdk.send(new DescribeSecretCommand({ SecretId: name }));
      expect(desc.Name).toBe(name);
      expect(desc.Tags ?? []).toEqual([]);
      expect(desc.Description ?? '').toBe('');
      expect(desc.KmsKeyId).toBeUndefined();
    });

    it('passes kmsKeyId as KmsKeyId on create', async () => {
      const name = unique('kms');
      created.push(name);
      await kmsStore.create(name, new TextEncoder().encode('{"bytes":"x"}'));
      const desc = await sdk.send(new DescribeSecretCommand({ SecretId: name }));
      expect(desc.KmsKeyId).toBe(kmsKeyId);
      expect(Buffer.from(await kmsStore.get(name)).toString()).toBe('{"bytes":"x"}');
    });

    it('stores values that are not UTF-8 as SecretBinary', async () => {
      const name = unique('raw');
      created.push(name);
      const value = new Uint8Array([0xc3, 0x28, 0x00, 0xff]);
      await store.create(name, value);
      const out = await sdk.send(new GetSecretValueCommand({ SecretId: name }));
      expect(out.SecretString).toBeUndefined();
      expect(out.SecretBinary).toEqual(value);
    });

    it('delete removes the secret at once (ForceDeleteWithoutRecovery)', async () => {
      const name = unique('del');
      created.push(name);
      await store.create(name, new Uint8Array([0x61]));
      await store.delete(name);
      await expect(sdk.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      // The name is free again right away.
      await store.create(name, new Uint8Array([0x62]));
      expect(await store.get(name)).toEqual(new Uint8Array([0x62]));
    });

    it('a secret scheduled for deletion is not found, not listed, and its name is taken', async () => {
      const name = unique('sched');
      created.push(name);
      await sdk.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));
      await sdk.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
      await expectKesError(store.get(name), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      await expectKesError(store.delete(name), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      expect(await listAll(store, name)).toEqual([]);
      await expectKesError(store.create(name, new Uint8Array([1])), 'ERR_KES_KEY_EXISTS', 'key already exists');
    });

    it('errors carry a sanitised cause without the SDK response', async () => {
      const name = unique('cause');
      let error: unknown;
      try {
        await store.get(name);
      } catch (e) {
        error = e;
      }
      expect(isKesError(error, 'ERR_KES_KEY_NOT_FOUND')).toBe(true);
      expect((error as Error).message).toBe('key does not exist');
    });

    it('status() answers with a latency', async () => {
      const s = await store.status();
      expect(s.latencyMs).toBeGreaterThanOrEqual(0);
    });
  });

  describe('listing', () => {
    let store: KeyStore;
    const prefix = unique('pg');
    const names = Array.from({ length: 230 }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
    const decoys = [prefix, `${prefix}_x`, `${prefix}x`, `${prefix.toUpperCase()}-000`, `x${prefix}-000`];

    beforeAll(async () => {
      store = openStore();
      const all = [...names, ...decoys];
      for (let i = 0; i < all.length; i += 20) {
        await Promise.all(all.slice(i, i + 20).map((n) => store.create(n, new Uint8Array([1]))));
      }
    });
    afterAll(async () => {
      for (const n of [...names, ...decoys]) await store.delete(n).catch(() => undefined);
      await store.close();
    });

    it('follows ListSecrets pages (more than 100 secrets) and returns them sorted', async () => {
      const page = await store.list(`${prefix}-`);
      expect(page.names).toEqual(names);
      expect(page.continueAt).toBe('');
      // The unfiltered listing also walks every page.
      const everything = new Set(await listAll(store, ''));
      for (const n of [...names, ...decoys]) expect(everything.has(n), n).toBe(true);
    });

    it('filters by prefix exactly (case-sensitive, no infix matches)', async () => {
      expect(await listAll(store, prefix)).toEqual([...names, prefix, `${prefix}_x`, `${prefix}x`].sort());
      expect(await listAll(store, `${prefix}_`)).toEqual([`${prefix}_x`]);
      expect(await listAll(store, `${prefix.toUpperCase()}-`)).toEqual([`${prefix.toUpperCase()}-000`]);
      expect(await listAll(store, `${prefix}-0`)).toEqual(names.filter((n) => n.startsWith(`${prefix}-0`)));
    });

    it('pages with limit and continueAt like upstream', async () => {
      const first = await store.list(`${prefix}-`, { limit: 100 });
      expect(first.names).toEqual(names.slice(0, 100));
      expect(first.continueAt).toBe(names[100]);
      const second = await store.list(`${prefix}-`, { limit: 100, continueAt: first.continueAt });
      expect(second.names).toEqual(names.slice(100, 200));
      const third = await store.list(`${prefix}-`, { limit: 100, continueAt: second.continueAt });
      expect(third.names).toEqual(names.slice(200));
      expect(third.continueAt).toBe('');
    });
  });
});

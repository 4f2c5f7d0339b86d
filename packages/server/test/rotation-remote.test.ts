// Rotation on the key stores with real servers: OpenBao K/V v1 and v2, and AWS Secrets
// Manager on moto (both started by test/global-setup.ts). See rotation-suite.ts.
import { afterAll, beforeAll, describe, inject } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createAwsKeyStore } from '@kes/keystores/aws';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { baoAddr, baoToken, mountKv, unmount } from '../../keystores/test/vault-harness.js';
import type {} from '../../../test/global-setup.js';
import { runRotationSuite } from './rotation-suite.js';

describe.skipIf(!baoAddr)('OpenBao', () => {
  const mounts: Record<'v1' | 'v2', string> = { v1: '', v2: '' };
  beforeAll(async () => {
    mounts.v1 = await mountKv('v1');
    mounts.v2 = await mountKv('v2');
  });
  afterAll(async () => {
    for (const m of Object.values(mounts)) if (m) await unmount(m);
  });
  const open = (version: 'v1' | 'v2') => async (): Promise<KeyStore> =>
    createVaultKeyStore({ endpoint: baoAddr, token: baoToken, engine: mounts[version], version, prefix: 'kes/keys' });
  // K/V v1 has no compare-and-set: two servers rotating one key at once may both write a
  // version (docs/keystores/vault.md); rotate from one server there.
  runRotationSuite('OpenBao K/V v1', open('v1'), { atomicCreate: false });
  runRotationSuite('OpenBao K/V v2', open('v2'));
});

const endpoint = inject('motoEndpoint');
describe.skipIf(!endpoint)('moto', () => {
  runRotationSuite('AWS Secrets Manager (moto)', async () =>
    createAwsKeyStore({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  );
});

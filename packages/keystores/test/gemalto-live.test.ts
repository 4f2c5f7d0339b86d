// Opt-in: the shared contract suite against a REAL CipherTrust Manager. Skipped unless
// the environment names one (see docs/keystores/gemalto.md):
//   KES_TEST_GEMALTO_ENDPOINT  base URL, e.g. https://ciphertrust.example.net
//   KES_TEST_GEMALTO_TOKEN     refresh token of a user allowed to create, export, delete and list secrets
//   KES_TEST_GEMALTO_DOMAIN    domain (optional; root when unset)
//   KES_TEST_GEMALTO_CA        CA file for the server certificate (optional)
// The suite works on names under a random prefix and deletes what it created.
import { describe, it } from 'vitest';
import { createGemaltoKeyStore } from '@kes/keystores/gemalto';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';

const endpoint = process.env.KES_TEST_GEMALTO_ENDPOINT ?? '';
const token = process.env.KES_TEST_GEMALTO_TOKEN ?? '';
const domain = process.env.KES_TEST_GEMALTO_DOMAIN;
const ca = process.env.KES_TEST_GEMALTO_CA;

if (endpoint && token) {
  const open = () =>
    createGemaltoKeyStore({
      endpoint,
      credentials: { token, ...(domain ? { domain } : {}) },
      ...(ca ? { tls: { ca } } : {}),
      requestTimeoutMs: 30_000,
    });
  runKeyStoreContract('gemalto (LIVE CipherTrust Manager)', open, {
    listSize: Number(process.env.KES_TEST_GEMALTO_LIST_SIZE ?? 300),
    concurrentCreates: 10,
  });
  // Also proves that CipherTrust accepts the record names (`<name>.versions.<id>`).
  runVersionRecordContract('gemalto (LIVE CipherTrust Manager)', open, { concurrentCreates: 10 });
} else {
  describe('gemalto (LIVE CipherTrust Manager)', () => {
    it.skip('needs KES_TEST_GEMALTO_ENDPOINT and KES_TEST_GEMALTO_TOKEN', () => {});
  });
}

// Opt-in test against a REAL Azure Key Vault. Skipped unless KES_TEST_AZURE_ENDPOINT is set.
// Credentials: KES_TEST_AZURE_TENANT_ID, KES_TEST_AZURE_CLIENT_ID, KES_TEST_AZURE_CLIENT_SECRET
// (a service principal with the "Key Vault Secrets Officer" role, which includes purge), or
// none of them to use the default chain (AZURE_* variables, then managed identity).
// Uses small sizes: every test key is soft-deleted and purged again.
import { describe } from 'vitest';
import { createAzureKeyStore } from '@kes/keystores/azure';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';

const endpoint = process.env.KES_TEST_AZURE_ENDPOINT;
const tenantId = process.env.KES_TEST_AZURE_TENANT_ID;
const clientId = process.env.KES_TEST_AZURE_CLIENT_ID;
const clientSecret = process.env.KES_TEST_AZURE_CLIENT_SECRET;

describe.skipIf(!endpoint)('azure live (real Key Vault, opt-in)', () => {
  runKeyStoreContract(
    'azure (real Key Vault)',
    () =>
      createAzureKeyStore({
        endpoint: endpoint ?? '',
        ...(tenantId && clientId && clientSecret ? { credentials: { tenantId, clientId, clientSecret } } : {}),
      }),
    { listSize: 60, concurrentCreates: 5, maxValueSize: 16_384, noUnderscoreNames: true },
  );
  // Also proves that Key Vault accepts the record names (`<name>--versions--<id>-…`).
  runVersionRecordContract(
    'azure (real Key Vault)',
    () =>
      createAzureKeyStore({
        endpoint: endpoint ?? '',
        ...(tenantId && clientId && clientSecret ? { credentials: { tenantId, clientId, clientSecret } } : {}),
      }),
    { concurrentCreates: 5, noUnderscoreNames: true },
  );
});

// Opt-in: the Entrust KeyControl store against a REAL KeyControl secrets vault. Skipped
// unless these are set (tests write and delete keys with a random prefix in the box):
//
//   KES_TEST_ENTRUST_ENDPOINT   e.g. https://keycontrol.example.net
//   KES_TEST_ENTRUST_VAULT_ID   the vault UUID
//   KES_TEST_ENTRUST_BOX_ID     box id or name (use a box for tests only)
//   KES_TEST_ENTRUST_USERNAME   a vault user allowed to manage secrets in that box
//   KES_TEST_ENTRUST_PASSWORD
//   KES_TEST_ENTRUST_CA         optional: CA file of the KeyControl certificate
//   KES_TEST_ENTRUST_LIST_SIZE  optional: keys of the listing test (default 300)
import { describe } from 'vitest';
import { createEntrustKeyStore } from '@kes/keystores/entrust';
import type { EntrustKeyStoreOptions } from '@kes/keystores/entrust';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';

const env = process.env;
const live =
  env.KES_TEST_ENTRUST_ENDPOINT &&
  env.KES_TEST_ENTRUST_VAULT_ID &&
  env.KES_TEST_ENTRUST_BOX_ID &&
  env.KES_TEST_ENTRUST_USERNAME &&
  env.KES_TEST_ENTRUST_PASSWORD
    ? {
        endpoint: env.KES_TEST_ENTRUST_ENDPOINT,
        vaultId: env.KES_TEST_ENTRUST_VAULT_ID,
        boxId: env.KES_TEST_ENTRUST_BOX_ID,
        credentials: { username: env.KES_TEST_ENTRUST_USERNAME, password: env.KES_TEST_ENTRUST_PASSWORD },
        ...(env.KES_TEST_ENTRUST_CA ? { tls: { ca: env.KES_TEST_ENTRUST_CA } } : {}),
      }
    : undefined;

// Skipped (not failed) without the variables; the contract's hooks only run when enabled.
describe.skipIf(live === undefined)('entrust keycontrol (LIVE KeyControl, KES_TEST_ENTRUST_*)', () => {
  runKeyStoreContract('entrust keycontrol (LIVE KeyControl)', () => createEntrustKeyStore(live as EntrustKeyStoreOptions), {
    listSize: Number(env.KES_TEST_ENTRUST_LIST_SIZE ?? 300),
    concurrentCreates: 10,
  });
  // Also proves that KeyControl accepts the record names (`<name>/versions/<id>`).
  runVersionRecordContract('entrust keycontrol (LIVE KeyControl)', () => createEntrustKeyStore(live as EntrustKeyStoreOptions), {
    concurrentCreates: 10,
  });
});

// Opt-in: the shared key-store contract against a REAL Fortanix DSM account. Skipped
// unless the environment names one:
//
//   FORTANIX_ENDPOINT   e.g. https://amer.smartkey.io        (required)
//   FORTANIX_API_KEY    the application's API key             (required)
//   FORTANIX_GROUP_ID   group for the test keys               (optional)
//   FORTANIX_CA         CA PEM file for a private DSM cluster (optional)
//
// Every key the suite creates starts with a random `kct…` prefix and is deleted at the
// end. Use a group that holds nothing else: listing reads every object the app can see.
import { describe, it } from 'vitest';
import { createFortanixKeyStore } from '@kes/keystores/fortanix';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';

const endpoint = process.env.FORTANIX_ENDPOINT ?? '';
const apiKey = process.env.FORTANIX_API_KEY ?? '';
const groupId = process.env.FORTANIX_GROUP_ID ?? '';
const ca = process.env.FORTANIX_CA ?? '';

if (endpoint && apiKey) {
  const open = () =>
    createFortanixKeyStore({
      endpoint,
      apiKey,
      ...(groupId ? { groupId } : {}),
      ...(ca ? { tls: { ca } } : {}),
      requestTimeoutMs: 30_000,
    });
  runKeyStoreContract('fortanix (live DSM)', open, { listSize: 150, concurrentCreates: 10, maxValueSize: 4096 });
  // Also proves that DSM accepts the record names (`<name>.versions.<id>`).
  runVersionRecordContract('fortanix (live DSM)', open, { concurrentCreates: 10 });
} else {
  describe('fortanix (live DSM)', () => {
    it.skip('set FORTANIX_ENDPOINT and FORTANIX_API_KEY to run the contract against a real DSM account', () => {});
  });
}

// Opt-in: the GCP key store against the REAL Secret Manager. Skipped unless
//   KES_GCP_LIVE_PROJECT      the project id to use (secrets are created and deleted there)
// and one of
//   KES_GCP_LIVE_CREDENTIALS  a service-account JSON key file, or
//   GOOGLE_APPLICATION_CREDENTIALS / the metadata server (application default credentials)
// are set. KES_GCP_LIVE_ENDPOINT overrides the endpoint (e.g. a regional one).
// Every name lives under a random prefix and is deleted again afterwards.
import { describe, expect, it } from 'vitest';
import { createGcpKeyStore } from '@kes/keystores/gcp';
import type { GcpKeyStoreOptions } from '@kes/keystores/gcp';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';

const project = process.env.KES_GCP_LIVE_PROJECT ?? '';
const credentialsFile = process.env.KES_GCP_LIVE_CREDENTIALS;
const endpoint = process.env.KES_GCP_LIVE_ENDPOINT;

function options(): GcpKeyStoreOptions {
  return {
    projectId: project,
    ...(credentialsFile ? { credentialsFile } : {}),
    ...(endpoint ? { endpoint } : {}),
    requestTimeoutMs: 20_000,
  };
}

if (project) {
  runKeyStoreContract('gcp (LIVE Secret Manager)', async () => createGcpKeyStore(options()), {
    // Secret Manager quotas (writes per minute) make the default sizes slow and costly.
    listSize: 60,
    concurrentCreates: 5,
  });
  // Also proves that Secret Manager accepts the record ids (`<name>--versions--<id>-…`).
  runVersionRecordContract('gcp (LIVE Secret Manager)', async () => createGcpKeyStore(options()), { concurrentCreates: 5 });
} else {
  describe('gcp (LIVE Secret Manager)', () => {
    it.skip('set KES_GCP_LIVE_PROJECT (and KES_GCP_LIVE_CREDENTIALS or application default credentials) to run', () => {
      expect(project).not.toBe('');
    });
  });
}

// Rotation on the key stores tested against HTTPS fakes of their services (no emulator
// exists; packages/keystores/test/fakes/): GCP, Azure, CipherTrust, Fortanix, Entrust.
// See rotation-suite.ts.
import { afterAll, beforeAll } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createAzureKeyStore } from '@kes/keystores/azure';
import { createEntrustKeyStore } from '@kes/keystores/entrust';
import { createFortanixKeyStore } from '@kes/keystores/fortanix';
import { createGcpKeyStore } from '@kes/keystores/gcp';
import { createGemaltoKeyStore } from '@kes/keystores/gemalto';
import { FakeAzureKeyVault } from '../../keystores/test/fakes/azure.js';
import { startFakeEntrust } from '../../keystores/test/fakes/entrust.js';
import type { FakeEntrust } from '../../keystores/test/fakes/entrust.js';
import { startFakeFortanix } from '../../keystores/test/fakes/fortanix.js';
import type { FakeFortanix } from '../../keystores/test/fakes/fortanix.js';
import { FakeGcp } from '../../keystores/test/fakes/gcp.js';
import { startFakeCipherTrust } from '../../keystores/test/fakes/gemalto.js';
import type { FakeCipherTrust } from '../../keystores/test/fakes/gemalto.js';
import { runRotationSuite } from './rotation-suite.js';

let gcp: FakeGcp;
let azure: FakeAzureKeyVault;
let gemalto: FakeCipherTrust;
let fortanix: FakeFortanix;
let entrust: FakeEntrust;
const TOKEN = 'rotation-refresh-token';

beforeAll(async () => {
  [gcp, azure, gemalto, fortanix, entrust] = await Promise.all([
    FakeGcp.start(),
    FakeAzureKeyVault.start(),
    startFakeCipherTrust({ refreshTokens: { [TOKEN]: '' } }),
    startFakeFortanix(),
    startFakeEntrust(),
  ]);
});
afterAll(async () => {
  await Promise.all([gcp?.close(), azure?.stop(), gemalto?.close(), fortanix?.close(), entrust?.close()]);
});

const traffic = { traffic: 4 };
runRotationSuite(
  'GCP Secret Manager (fake)',
  async (): Promise<KeyStore> =>
    createGcpKeyStore({
      projectId: gcp.projectId,
      endpoint: gcp.url,
      tokenUrl: gcp.tokenUrl,
      credentials: gcp.credentials,
      tls: { ca: gcp.ca },
      env: {},
    }),
  traffic,
);
runRotationSuite(
  'Azure Key Vault (fake)',
  () =>
    createAzureKeyStore({
      endpoint: azure.url,
      credentials: azure.credentials,
      authorityHost: azure.url,
      tls: { ca: azure.caPem },
      environment: {},
      purgeRetryDelayMs: 5,
    }),
  traffic,
);
runRotationSuite(
  'CipherTrust Manager (fake)',
  () => createGemaltoKeyStore({ endpoint: gemalto.url, credentials: { token: TOKEN }, tls: { ca: gemalto.caPem } }),
  traffic,
);
runRotationSuite(
  'Fortanix DSM (fake)',
  () => createFortanixKeyStore({ endpoint: fortanix.endpoint, apiKey: fortanix.apiKey, tls: { ca: fortanix.caPem } }),
  traffic,
);
runRotationSuite(
  'Entrust KeyControl (fake)',
  () =>
    createEntrustKeyStore({
      endpoint: entrust.endpoint,
      vaultId: entrust.vaultId,
      boxId: entrust.boxId,
      credentials: { username: entrust.username, password: entrust.password },
      tls: { ca: entrust.caPem },
    }),
  traffic,
);

// Calling the KES API in-process, without TLS or a socket: handy in an app's tests.
//
//   pnpm build && node examples/in-process.mjs
//
// Authentication still runs: the test names the caller's identity.
import { ApiKey } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';

const admin = ApiKey.generate().identity;
const app = ApiKey.generate().identity;
const kes = await createKesHandler({
  admin,
  keyStore: createMemoryKeyStore(),
  policies: {
    'my-app': { allow: ['/v1/key/generate/app-*', '/v1/key/decrypt/app-*'], identities: [app] },
  },
});

console.log((await kes.inject({ method: 'PUT', path: '/v1/key/create/app-key', identity: admin })).status); // 200
const dek = await kes.inject({ method: 'PUT', path: '/v1/key/generate/app-key', identity: app, body: '{}' });
console.log(dek.status, Object.keys(dek.json())); // 200 [ 'plaintext', 'ciphertext' ]
const denied = await kes.inject({ method: 'DELETE', path: '/v1/key/delete/app-key', identity: app });
console.log(denied.status, denied.text()); // 403 {"message":"not authorized: insufficient permissions"\n}

await kes.close();

// Embedding a KES server in your own Node app.
//
//   pnpm build && node examples/embedded-server.mjs
//
// Starts an mTLS server on 127.0.0.1 with an in-memory key store and a fresh admin
// API key, then talks to it with a client certificate derived from that key.
import https from 'node:https';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';

const admin = ApiKey.generate();
const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });

const server = await createKesServer({
  admin: admin.identity,
  keyStore: createMemoryKeyStore(),
  tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
  keys: [{ name: 'my-app-key' }], // created at start if missing
});
const { port } = await server.listen(0, '127.0.0.1');
server.handler.on('audit', (event) => console.log('audit:', JSON.stringify(event)));

// A client: the admin's API key doubles as an Ed25519 client certificate.
const client = admin.createCertificate();
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path, cert: client.certificatePem, key: client.privateKeyPem, ca: serverCert.certificatePem },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const context = Buffer.from('bucket/object').toString('base64');
const dek = await call('POST', '/v1/key/generate/my-app-key', { context });
console.log('generate:', dek.status, `(plaintext ${Buffer.from(dek.body.plaintext, 'base64').length} bytes)`);
const back = await call('POST', '/v1/key/decrypt/my-app-key', { ciphertext: dek.body.ciphertext, context });
console.log('decrypt round trip ok:', back.body.plaintext === dek.body.plaintext);

await server.close();

// Files encrypted with DEKs from a real KES server (mTLS on 127.0.0.1), decrypted later —
// by a new client, as after a restart of the app.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createKesClient } from '@kes/client';
import type { KesClient } from '@kes/client';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { decryptFile, encryptFile } from '../src/envelope.js';

describe('envelope encryption of files with DEKs from KES', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kes-envelope-'));
  const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const admin = ApiKey.generate();
  const app = ApiKey.generate();
  let server: KesServer;
  const clients: KesClient[] = [];
  /** A client for the app's identity, as the app would create it at start. */
  const appClient = (apiKey = app) => {
    const c = createKesClient({ endpoints: server.url, apiKey, ca: serverCert.certificatePem });
    clients.push(c);
    return c;
  };
  const file = (name: string) => join(dir, name);
  // 1 MiB of a repeating pattern (easy to spot if it leaked), plus a tail that is not a multiple of the block size.
  const original = Buffer.concat([Buffer.alloc(1 << 20, 'kes'), Buffer.from('tail')]);

  beforeAll(async () => {
    server = await createKesServer({
      admin: admin.identity,
      keyStore: createMemoryKeyStore(),
      tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
      keys: [{ name: 'files-key' }],
      // The app may make and open DEKs under files-*, nothing more.
      policies: { files: { allow: ['/v1/key/generate/files-*', '/v1/key/decrypt/files-*'], identities: [app.identity] } },
      log: { error: 'off', audit: 'off' },
    });
    await server.listen(0, '127.0.0.1');
    writeFileSync(file('report.pdf'), original);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('encrypts a file and decrypts it later with a new client', async () => {
    await encryptFile(appClient(), 'files-key', file('report.pdf'), file('report.pdf.enc'), { label: 'report.pdf' });
    const encrypted = readFileSync(file('report.pdf.enc'));
    expect(encrypted.includes(Buffer.from('kes'.repeat(10)))).toBe(false);
    const header = JSON.parse(encrypted.subarray(0, encrypted.indexOf(0x0a)).toString());
    expect(header).toMatchObject({ v: 1, key: 'files-key' });

    await decryptFile(appClient(), file('report.pdf.enc'), file('report.out'), { label: 'report.pdf' });
    expect(readFileSync(file('report.out')).equals(original)).toBe(true);
  });

  it('every file gets its own DEK', async () => {
    await encryptFile(appClient(), 'files-key', file('report.pdf'), file('a.enc'), { label: 'same' });
    await encryptFile(appClient(), 'files-key', file('report.pdf'), file('b.enc'), { label: 'same' });
    const dek = (f: string) =>
      JSON.parse(
        readFileSync(file(f))
          .subarray(0, readFileSync(file(f)).indexOf(0x0a))
          .toString(),
      ).dek;
    expect(dek('a.enc')).not.toBe(dek('b.enc'));
  });

  it('a file under another label does not decrypt: KES refuses the DEK', async () => {
    await encryptFile(appClient(), 'files-key', file('report.pdf'), file('label.enc'), { label: 'invoices/17' });
    await expect(decryptFile(appClient(), file('label.enc'), file('label.out'), { label: 'invoices/18' })).rejects.toMatchObject({
      code: 'ERR_KES_DECRYPT',
      message: 'decryption failed: ciphertext is not authentic',
    });
  });

  it('a modified file does not decrypt', async () => {
    await encryptFile(appClient(), 'files-key', file('report.pdf'), file('tamper.enc'), { label: 't' });
    const bytes = readFileSync(file('tamper.enc'));
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(file('tamper.enc'), bytes);
    await expect(decryptFile(appClient(), file('tamper.enc'), file('tamper.out'), { label: 't' })).rejects.toThrow(
      `${file('tamper.enc')}: file was modified (authentication failed)`,
    );
  });

  it('only callers the policy allows get DEKs', async () => {
    const stranger = appClient(ApiKey.generate());
    await expect(encryptFile(stranger, 'files-key', file('report.pdf'), file('x.enc'), { label: 'x' })).rejects.toMatchObject({
      code: 'ERR_KES_NOT_ALLOWED',
    });
    await encryptFile(appClient(), 'files-key', file('report.pdf'), file('y.enc'), { label: 'y' });
    await expect(decryptFile(stranger, file('y.enc'), file('y.out'), { label: 'y' })).rejects.toMatchObject({ code: 'ERR_KES_NOT_ALLOWED' });
  });

  it('a file that is not encrypted is named as such', async () => {
    await expect(decryptFile(appClient(), file('report.pdf'), file('z.out'), { label: 'z' })).rejects.toThrow(
      `${file('report.pdf')}: not an encrypted file (no version 1 header)`,
    );
  });
});

// No secret leaves through a side channel. A full workload over real TLS with known key
// bytes, plaintexts, HMAC messages and API keys — successes, client mistakes, refusals and
// key-store failures — then every console log line, audit record (console, file, stream),
// error event, metric, status and error body is searched for each secret as raw text,
// hex (both cases), base64 and base64url (with and without padding).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '@kes/core';
import { createKesClient } from '@kes/client';
import type { KesClient } from '@kes/client';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { FlakyStore } from './api-helpers.js';
import { createTestPki, credentials, request } from './helpers/tls-client.js';

const pki = createTestPki();
const admin = ApiKey.generate();
const app = ApiKey.generate();
const dir = mkdtempSync(join(tmpdir(), 'kes-secrets-'));

/** Every secret of the workload, by what it is. */
const secrets = new Map<string, Uint8Array>();
function secret(label: string, bytes: Uint8Array = randomBytes(32)): Uint8Array {
  secrets.set(label, bytes);
  return bytes;
}

/** The spellings a secret could leak in. */
function spellings(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  const b64 = b.toString('base64');
  return [b.toString('latin1'), b.toString('hex'), b.toString('hex').toUpperCase(), b64, b64.replace(/=+$/, ''), b.toString('base64url')];
}

function capture(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('latin1') };
}

const errorConsole = capture();
const auditConsole = capture();
const auditPath = join(dir, 'audit.log');
/** Every reply body the clients saw for a failed request, and everything the server exposes. */
const observed: string[] = [];
let server: KesServer;
let store: FlakyStore;
let adminClient: KesClient;
let appClient: KesClient;

beforeAll(async () => {
  store = new FlakyStore(await createFsKeyStore({ path: join(dir, 'keys') }));
  server = await createKesServer({
    admin: admin.identity,
    keyStore: store,
    policies: {
      app: { allow: ['/v1/key/generate/app-*', '/v1/key/decrypt/app-*', '/v1/key/encrypt/app-*'], identities: [app.identity] },
    },
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    keyVersions: { enabled: true },
    log: { error: 'DEBUG', audit: 'INFO', errorStream: errorConsole.stream, auditStream: auditConsole.stream, auditFile: { path: auditPath } },
  });
  await server.listen(0, '127.0.0.1');
  adminClient = createKesClient({ endpoints: server.url, apiKey: admin.toString(), ca: pki.ca.certificatePem, retries: 0 });
  appClient = createKesClient({ endpoints: server.url, apiKey: app.toString(), ca: pki.ca.certificatePem, retries: 0 });
  secrets.set('admin API key', Buffer.from(admin.toString()));
  secrets.set('app API key', Buffer.from(app.toString()));
});

afterAll(async () => {
  adminClient?.close();
  appClient?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `p`, expecting a failure; keeps the error message the client got. */
async function failing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    observed.push(String((e as Error).message));
    return;
  }
  throw new Error('expected the call to fail');
}

/** A raw request with the admin's certificate; keeps the body and returns the status class (4 for 4xx). */
async function raw(method: string, path: string, body: string): Promise<number> {
  const cert = admin.createCertificate();
  const res = await request(server.url, credentials(pki, cert), { method, path, body, headers: { 'content-type': 'application/json' } });
  observed.push(res.text());
  return Math.trunc(res.status / 100);
}

describe('secrets never leave through logs, audit, metrics or errors', () => {
  it('runs the workload and finds none of its secrets anywhere', async () => {
    const ac = new AbortController();
    const streamed: string[] = [];
    const pump = async (it: AsyncIterable<object>) => {
      try {
        for await (const e of it) streamed.push(JSON.stringify(e));
      } catch {
        /* aborted */
      }
    };
    const streams = [pump(adminClient.auditLog({ signal: ac.signal })), pump(adminClient.errorLog({ signal: ac.signal }))];
    await new Promise((r) => setTimeout(r, 200));

    const ctx = secret('context', Buffer.from(`ctx-${randomBytes(16).toString('hex')}`));
    // Successes: import with known bytes, encrypt, decrypt, data keys, HMAC.
    const keyBytes = secret('imported key');
    await adminClient.importKey('imp', { bytes: new Uint8Array(keyBytes) });
    const plaintext = secret('plaintext', randomBytes(64));
    const ct = await adminClient.encrypt('imp', plaintext, ctx);
    expect(Buffer.from(await adminClient.decrypt('imp', ct, ctx))).toEqual(Buffer.from(plaintext));
    for (let i = 0; i < 5; i++) {
      const dek = await adminClient.generateKey('imp', ctx);
      secret(`data key ${i}`, Buffer.from(dek.plaintext));
      expect(Buffer.from(await adminClient.decrypt('imp', dek.ciphertext, ctx))).toEqual(secrets.get(`data key ${i}`));
    }
    const message = secret('hmac message', randomBytes(48));
    await adminClient.hmac('imp', message);
    // Key versions: a rotation with known material, data keys and a rewrap under it.
    const rotatedBytes = secret('rotated key material');
    await adminClient.rotateKey('imp', { bytes: new Uint8Array(rotatedBytes) });
    const wrapped = await adminClient.rewrap('imp', ct, ctx);
    expect(Buffer.from(await adminClient.decrypt('imp', wrapped.ciphertext, ctx))).toEqual(Buffer.from(plaintext));
    const v2dek = await adminClient.generateKey('imp', ctx);
    secret('version 2 data key', Buffer.from(v2dek.plaintext));
    await adminClient.listKeyVersions('imp');
    await failing(adminClient.rotateKey('imp', { bytes: new Uint8Array(secret('short rotated key', randomBytes(16))) }));
    await adminClient.createKey('app-k');
    const appDek = await appClient.generateKey('app-k', ctx);
    secret('app data key', Buffer.from(appDek.plaintext));
    const textSecret = secret('text plaintext', Buffer.from(`TOPSECRET-${randomBytes(12).toString('hex')}`));
    await appClient.encrypt('app-k', textSecret);

    // Client mistakes whose bodies carry secrets.
    await failing(adminClient.importKey('imp', { bytes: new Uint8Array(keyBytes) })); // exists
    const shortKey = secret('31-byte key', randomBytes(31));
    expect(await raw('PUT', '/v1/key/import/bad', JSON.stringify({ key: Buffer.from(shortKey).toString('base64'), cipher: 'AES256' }))).toBe(4);
    const truncated = secret('plaintext of a truncated body', randomBytes(40));
    expect(await raw('PUT', '/v1/key/encrypt/imp', `{"plaintext":"${Buffer.from(truncated).toString('base64')}"`)).toBe(4);
    const wrongType = secret('context of a wrong-typed body', Buffer.from(`ctx-${randomBytes(20).toString('hex')}`));
    expect(await raw('PUT', '/v1/key/encrypt/imp', JSON.stringify({ plaintext: 12, context: Buffer.from(wrongType).toString('base64') }))).toBe(4);
    const notBase64 = secret('plaintext sent as text', Buffer.from(`PLAIN-${randomBytes(20).toString('hex')}!`));
    expect(await raw('PUT', '/v1/key/encrypt/imp', JSON.stringify({ plaintext: Buffer.from(notBase64).toString('latin1') }))).toBe(4);
    const huge = secret('secret in an oversized body', Buffer.from(`HUGE-${randomBytes(20).toString('hex')}`));
    expect(await raw('PUT', '/v1/key/encrypt/imp', `{"plaintext":"${Buffer.from(huge).toString('base64')}","pad":"${'A'.repeat(1_100_000)}"}`)).toBe(
      4,
    );
    const tampered = new Uint8Array(ct);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    await failing(adminClient.decrypt('imp', tampered, ctx));
    await failing(adminClient.decrypt('imp', ct, new TextEncoder().encode('wrong context')));
    // Refusals: the app may not import, and its key bytes are not echoed.
    const refusedKey = secret('key of a refused import');
    await failing(appClient.importKey('app-x', { bytes: new Uint8Array(refusedKey) }));
    // Key-store failures on a key not in the cache (the error log gets the backend's detail).
    await adminClient.importKey('cold', { bytes: new Uint8Array(secret('key never cached')) });
    store.down = true;
    await failing(adminClient.encrypt('cold', plaintext, ctx));
    await failing(adminClient.generateKey('cold', ctx));
    await failing(adminClient.ready());
    store.down = false;

    observed.push(await adminClient.metrics());
    observed.push(JSON.stringify(await adminClient.status()));
    observed.push(JSON.stringify(await adminClient.apis()));
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    await Promise.all(streams);

    const sources: Record<string, string> = {
      'error log (console)': errorConsole.text(),
      'audit log (console)': auditConsole.text(),
      'audit file': readFileSync(auditPath, 'latin1'),
      '/v1/log/audit and /v1/log/error streams': streamed.join('\n'),
      'error bodies, metrics, status, api': observed.join('\n'),
    };
    // The channels really carried the workload (the search below is not over empty text).
    expect(sources['audit file']).toContain('/v1/key/import/imp');
    expect(sources['audit log (console)']).toContain('/v1/key/generate/app-k');
    expect(sources['error log (console)']).toContain('backend at 10.0.0.7 refused the connection');
    expect(sources['/v1/log/audit and /v1/log/error streams']).toContain('/v1/key/decrypt/imp');
    expect(sources['error bodies, metrics, status, api']).toContain('kes_http_request_success');
    expect(secrets.size).toBeGreaterThanOrEqual(17);

    const leaks: string[] = [];
    for (const [label, bytes] of secrets) {
      for (const spelling of spellings(bytes)) {
        for (const [where, text] of Object.entries(sources)) if (text.includes(spelling)) leaks.push(`${label} in ${where}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});

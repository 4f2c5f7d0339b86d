// Shared helpers of the in-process API tests (packages/server/test/api-*.test.ts).
import { randomBytes } from 'node:crypto';
import { KesError } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions, KeyStoreListOptions, KeyStoreListResult, KeyStoreStatus } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';
import type { KesHandler, KesServerOptions } from '@kes/server';
import { loadVectors } from '../../../test/support/index.js';

/** vectors.json, read as it is at test time. */
export const vectors = loadVectors();

/** A random identity (64 lowercase hex). */
export function randomIdentity(): string {
  return randomBytes(32).toString('hex');
}

/** A key store wrapper that can be switched "down" (every call fails) and counts calls. */
export class FlakyStore implements KeyStore {
  readonly kind = 'flaky';
  readonly inner: KeyStore;
  down = false;
  gets = 0;
  /** Delay of `get` in ms (for single-flight tests). */
  getDelayMs = 0;

  constructor(inner: KeyStore = createMemoryKeyStore()) {
    this.inner = inner;
  }

  /** The inner store's version records (not switched off by `down`). */
  get versions(): KeyStore['versions'] {
    return this.inner.versions;
  }

  #fail(): never {
    // The detail (a "backend" message) must only reach the server error log.
    throw new KesError('ERR_KES_KEYSTORE_UNREACHABLE', [], { cause: new Error('backend at 10.0.0.7 refused the connection') });
  }

  async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    if (this.down) this.#fail();
    return this.inner.create(name, value, options);
  }

  async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    this.gets++;
    if (this.getDelayMs > 0) await new Promise((r) => setTimeout(r, this.getDelayMs));
    if (this.down) this.#fail();
    return this.inner.get(name, options);
  }

  async delete(name: string, options?: KeyStoreCallOptions): Promise<void> {
    if (this.down) this.#fail();
    return this.inner.delete(name, options);
  }

  async list(prefix: string, options?: KeyStoreListOptions): Promise<KeyStoreListResult> {
    if (this.down) this.#fail();
    return this.inner.list(prefix, options);
  }

  async status(options?: KeyStoreCallOptions): Promise<KeyStoreStatus> {
    if (this.down) this.#fail();
    return this.inner.status(options);
  }

  async close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Setup {
  handler: KesHandler;
  admin: string;
  store: KeyStore;
  errors: object[];
  audits: object[];
}

/** A handler with a memory store, a random admin, console logs off; events collected. */
export async function setup(extra: Partial<KesServerOptions> = {}): Promise<Setup> {
  const admin = extra.admin ?? randomIdentity();
  const store = extra.keyStore ?? createMemoryKeyStore();
  const handler = await createKesHandler({
    admin,
    keyStore: store,
    log: { error: 'off', audit: 'off' },
    ...extra,
  });
  const errors: object[] = [];
  const audits: object[] = [];
  handler.on('error', (e) => errors.push(e));
  handler.on('audit', (e) => audits.push(e));
  return { handler, admin, store, errors, audits };
}

/** Asserts the exact upstream error reply. */
export function expectError(
  res: { status: number; headers: Record<string, string>; text(): string },
  status: number,
  message: string,
  expectFn: (v: unknown) => any,
): void {
  const body = `{"message":${JSON.stringify(message).replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n}`;
  expectFn({ status: res.status, body: res.text(), type: res.headers['content-type'], len: res.headers['content-length'] }).toEqual({
    status,
    body,
    type: 'application/json',
    len: String(Buffer.byteLength(body)),
  });
}

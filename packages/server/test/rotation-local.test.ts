// Rotation on the memory and fs key stores (see rotation-suite.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { runRotationSuite } from './rotation-suite.js';

const memory = createMemoryKeyStore();
// Every server gets its own handle on one store; closing one must not wipe the shared data.
runRotationSuite('memory', async () => ({ ...bind(memory), close: async () => undefined }));

const dir = mkdtempSync(join(tmpdir(), 'kes-rotation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
runRotationSuite('fs', async () => createFsKeyStore({ path: join(dir, 'keys') }));

/** The memory store's methods bound to it, as a plain object (so `close` can be replaced). */
function bind(store: ReturnType<typeof createMemoryKeyStore>) {
  return {
    kind: store.kind,
    versions: store.versions,
    create: store.create.bind(store),
    get: store.get.bind(store),
    delete: store.delete.bind(store),
    list: store.list.bind(store),
    status: store.status.bind(store),
  };
}

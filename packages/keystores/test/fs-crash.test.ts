/**
 * Crash safety of the fs store: a child process writes keys and version records in a
 * loop and is SIGKILLed at random moments. Afterwards every file with a valid key name
 * (or record id) must hold a complete value, every acknowledged create must be present,
 * leftover temp files must never show up as keys or records, and the key directory
 * holds nothing but keys and temp files (records live in `<keys>.versions`).
 */
import { spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidName, isValidRecordId, listAll } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { bundleKeyStores } from './fixtures/bundle.js';

const work = mkdtempSync(join(tmpdir(), 'kes-fs-crash-'));
const bundleDir = join(work, 'bundle');
const keyDir = join(work, 'keys');
const versionsDir = join(work, 'keys.versions');
const writer = fileURLToPath(new URL('./fixtures/crash-writer.mjs', import.meta.url));

beforeAll(async () => {
  await bundleKeyStores(bundleDir, ['fs']);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** True if `value` is `<payload><sha256(payload)>`. */
function isComplete(value: Buffer): boolean {
  if (value.length <= 32) return false;
  const payload = value.subarray(0, value.length - 32);
  return createHash('sha256')
    .update(payload)
    .digest()
    .equals(value.subarray(value.length - 32));
}

/** Runs the writer until it has acknowledged at least one key, waits a random moment, SIGKILLs it. */
async function crashRound(round: number): Promise<{ keys: string[]; records: string[] }> {
  const child = spawn(process.execPath, [writer, bundleDir, keyDir, `r${round}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acknowledged: string[] = [];
  const records: string[] = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const firstAck = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ok ')) {
          acknowledged.push(line.slice(3));
          resolve();
        } else if (line.startsWith('rec ')) {
          records.push(line.slice(4));
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    void exited.then(({ code }) => reject(new Error(`writer exited early (code ${code}): ${stderr}`)));
  });
  await firstAck;
  await new Promise((r) => setTimeout(r, randomInt(5, 250)));
  process.kill(child.pid!, 'SIGKILL');
  const { signal } = await exited;
  expect(signal, stderr).toBe('SIGKILL');
  return { keys: acknowledged, records };
}

describe('fs key store crash safety', () => {
  it('a SIGKILL during creates leaves every key complete or absent', async () => {
    const acknowledged: string[] = [];
    const recorded: string[] = [];
    for (let round = 0; round < 8; round++) {
      const { keys, records } = await crashRound(round);
      acknowledged.push(...keys);
      recorded.push(...records);
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(recorded.length).toBeGreaterThan(0);

    const entries = readdirSync(keyDir, { withFileTypes: true });
    const keys = entries.filter((e) => isValidName(e.name)).map((e) => e.name);
    const others = entries.filter((e) => !isValidName(e.name)).map((e) => e.name);
    // Anything else in the directory is a leftover temp file of a killed create.
    for (const name of others) expect(name.startsWith('.tmp-'), name).toBe(true);

    for (const name of keys) expect(isComplete(readFileSync(join(keyDir, name))), name).toBe(true);
    const present = new Set(keys);
    for (const name of acknowledged) expect(present.has(name), name).toBe(true);

    // Records: only name directories and temp files in the versions directory; in each
    // name directory only complete records. Every acknowledged record is there.
    const roots = readdirSync(versionsDir, { withFileTypes: true });
    for (const e of roots) {
      if (e.isDirectory()) expect(isValidName(e.name), e.name).toBe(true);
      else expect(e.name.startsWith('.tmp-'), e.name).toBe(true);
    }
    for (const e of roots.filter((r) => r.isDirectory())) {
      for (const id of readdirSync(join(versionsDir, e.name))) {
        expect(isValidRecordId(id), `${e.name}/${id}`).toBe(true);
        expect(isComplete(readFileSync(join(versionsDir, e.name, id))), `${e.name}/${id}`).toBe(true);
      }
    }

    const store = createFsKeyStore({ path: keyDir });
    for (const name of recorded) expect(await store.versions!.list(name), name).toEqual(['2']);
    for (const name of recorded.slice(0, 50)) expect(isComplete(Buffer.from(await store.versions!.get(name, '2')))).toBe(true);
    expect(await listAll(store, '')).toEqual([...keys].sort());
    for (const name of acknowledged.slice(0, 50)) expect(isComplete(Buffer.from(await store.get(name)))).toBe(true);
    // The store keeps working in a directory with leftovers.
    await store.create('after-crash', new Uint8Array([1]));
    expect(await store.get('after-crash')).toEqual(new Uint8Array([1]));
    await store.close();
  }, 120_000);
});

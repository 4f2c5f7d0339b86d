// What the client commands print on a terminal (text, not JSON), run in-process through
// main() against a real server over TLS: tables, the live metric view (stopped with a
// simulated Ctrl-C), the migrate progress bar, and colour rules.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '@kes/cli';
import { ApiKey, MasterKey, createSelfSignedCertificate } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import type { CliContext } from '../src/internal/context.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-terminal-'));
const admin = ApiKey.generate();
let server: KesServer;
let ca = '';

beforeAll(async () => {
  const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
  ca = join(dir, 'ca.crt');
  writeFileSync(ca, tls.certificatePem);
  server = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    policies: { app: { allow: ['/v1/key/generate/app-*'], deny: ['/v1/key/generate/app-secret'], identities: [] } },
    tls: { cert: tls.certificatePem, key: tls.privateKeyPem },
    log: { error: 'off', audit: 'off' },
  });
  await server.listen(0, '127.0.0.1');
});
afterAll(async () => {
  await server?.close({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

/** A terminal-like context; `signal(name)` fires what the command registered (Ctrl-C). */
function terminal(options: { color?: boolean; env?: Record<string, string> } = {}) {
  const out = new PassThrough();
  const err = Object.assign(new PassThrough(), { isTTY: true, columns: 60 });
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => (o += c.toString()));
  err.on('data', (c: Buffer) => (e += c.toString()));
  const listeners = new Map<string, Set<() => void>>();
  const ctx: CliContext = {
    env: { KES_SERVER: server.url, KES_API_KEY: admin.toString(), ...options.env },
    stdout: out,
    stderr: err,
    stdoutIsTTY: true,
    color: options.color ?? false,
    onSignal(signal, listener) {
      const set = listeners.get(signal) ?? new Set();
      set.add(listener);
      listeners.set(signal, set);
      return () => set.delete(listener);
    },
  };
  return {
    ctx,
    stdout: () => o,
    stderr: () => e,
    signal: (name: string) => [...(listeners.get(name) ?? [])].forEach((l) => l()),
  };
}

async function run(args: string[], t = terminal()) {
  const code = await main([...args, '--ca', ca], t.ctx);
  return { code, stdout: t.stdout(), stderr: t.stderr() };
}

describe('kes client commands on a terminal', () => {
  it('key create/ls/info/rm print text', async () => {
    expect(await run(['key', 'create', 'tty-a', 'tty-b'])).toEqual({ code: 0, stdout: "Created key 'tty-a'\nCreated key 'tty-b'\n", stderr: '' });
    expect((await run(['key', 'ls', 'tty-'])).stdout).toBe('Key\n─────\ntty-a\ntty-b\n');
    expect((await run(['ls', 'tty-a'])).stdout).toBe('Key\n─────\ntty-a\n');
    const info = await run(['key', 'info', 'tty-a']);
    expect(info.stdout).toMatch(/^Name: {6}tty-a\nAlgorithm: (AES256|ChaCha20)\nDate: {6}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\nOwner: {5}[0-9a-f]{64}\n$/);
    expect((await run(['key', 'rm', 'tty-b'])).stdout).toBe("Deleted key 'tty-b'\n");
  });

  it('encrypt/decrypt/dek print `name: value` lines', async () => {
    const enc = await run(['key', 'encrypt', 'tty-a', 'hi']);
    const ct = /^ciphertext: (\S+)\n$/.exec(enc.stdout)?.[1];
    expect(ct).toBeDefined();
    expect((await run(['key', 'decrypt', 'tty-a', ct as string])).stdout).toBe(`plaintext: ${Buffer.from('hi').toString('base64')}\n`);
    expect((await run(['key', 'dek', 'tty-a'])).stdout).toMatch(/^plaintext: {2}\S{44}\nciphertext: \S+\n$/);
  });

  it('policy show prints the rules; identity info the caller', async () => {
    expect((await run(['policy', 'show', 'app'])).stdout).toMatch(
      /^Allow:\n {2}· \/v1\/key\/generate\/app-\*\nDeny:\n {2}· \/v1\/key\/generate\/app-secret\n\nDate: {7}.+\nCreated by: [0-9a-f]{64}\n$/,
    );
    expect((await run(['identity', 'info'])).stdout).toMatch(new RegExp(`^Identity: {3}${admin.identity}\\nAdmin: {6}yes\\nPolicy: {5}-\\n`));
  });

  it('colour only when allowed, never with NO_COLOR, --color never/always', async () => {
    const coloured = await run(['key', 'ls', 'tty-'], terminal({ color: true }));
    expect(coloured.stdout).toContain('\x1b[1mKey');
    expect((await run(['key', 'ls', 'tty-', '--color', 'never'], terminal({ color: true }))).stdout).not.toContain('\x1b[');
    expect((await run(['key', 'ls', 'tty-', '--color', 'always'], terminal({ color: false }))).stdout).toContain('\x1b[1mKey');
    expect((await run(['key', 'ls', 'tty-', '--color', 'always'], terminal({ color: false, env: { NO_COLOR: '1' } }))).stdout).not.toContain('\x1b[');
  });

  it('status prints a block per server; two servers, one down: both shown, exit 1', async () => {
    const one = await run(['status']);
    expect(one.stdout).toMatch(
      /^● 127\.0\.0\.1:\d+\n {2}Version: {3}\S+\n {2}Uptime: {4}\S+.*\n {2}Latency: {3}\S+\n {2}Key store: ok, latency \S+\n/,
    );
    const down = 'https://127.0.0.1:1';
    const two = await run(['status', '--server', `${server.url},${down}`]);
    expect(two.code).toBe(1);
    expect(two.stdout).toContain(`● ${server.url.slice('https://'.length)}\n`);
    expect(two.stdout).toMatch(/● 127\.0\.0\.1:1 {2}cannot reach a KES server at https:\/\/127\.0\.0\.1:1 \(connection refused\)/);
    // stderr is a terminal here, so the prefix is red.
    expect(two.stderr).toBe('\x1b[31mError:\x1b[39m 1 of 2 servers did not answer (see above)\n');
  });

  it('metric: a live view redrawn every --rate until Ctrl-C (exit 0)', async () => {
    const t = terminal();
    const running = main(['metric', '--rate', '100ms', '--ca', ca], t.ctx);
    // Wait for two frames with figures, then press Ctrl-C.
    for (let i = 0; i < 100 && (t.stdout().match(/Requests/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    t.signal('SIGINT');
    expect(await running).toBe(0);
    const out = t.stdout();
    expect(out.startsWith('\x1b[?25l')).toBe(true); // cursor hidden while drawing …
    expect(out.endsWith('\x1b[?25h')).toBe(true); // … and shown again
    expect(out).toMatch(/\x1b\[\d+A\r\x1b\[J/); // frames are redrawn in place
    for (const label of ['Requests', 'Success', 'Errors 4xx', 'Failed 5xx', 'Active', 'Latency', 'Memory']) expect(out).toContain(label);
    expect(out).toContain('every 100ms · Ctrl-C to quit');
  });
});

describe('kes migrate on a terminal', () => {
  it('draws a progress bar on stderr and prints the summary', async () => {
    const from = join(dir, 'from');
    const to = join(dir, 'to');
    mkdirSync(from, { mode: 0o700 });
    const store = createFsKeyStore({ path: from });
    for (let i = 0; i < 30; i++) {
      const k = MasterKey.generate();
      await store.create(`k${i}`, k.encode());
      k.destroy();
    }
    await store.close();
    const config = (name: string, path: string) => {
      const file = join(dir, `${name}.yml`);
      writeFileSync(file, `admin: {identity: disabled}\ntls: {key: x, cert: y}\nkeystore: {fs: {path: ${path}}}\n`);
      return file;
    };
    const t = terminal();
    const code = await main(['migrate', '--from', config('from', from), '--to', config('to', to)], t.ctx);
    expect(code).toBe(0);
    // The last frame: a full bar.
    expect(t.stderr()).toMatch(/\r\x1b\[K\[#+\] 30\/30 {2}30 copied, 0 skipped\n$/);
    expect(t.stdout()).toMatch(/\nDone: 30 copied of 30 keys\n$/);
  });
});

// The standalone bundle (`npm run bundle`, docs/install.md): one file that runs with Node
// alone, in a directory without node_modules — the CLI, certificates (node-forge inlined),
// and a server with a config file, several workers and keys on disk.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKesClient } from '@kes/client';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const version = (JSON.parse(readFileSync(join(repo, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string }).version;

describe('the standalone kes bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kes-bundle-'));
  const kes = join(dir, 'kes');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') && !k.startsWith('KES_')));

  beforeAll(async () => {
    await run(process.execPath, [join(repo, 'scripts', 'bundle.mjs'), '--outfile', kes], { cwd: repo, env });
    chmodSync(kes, 0o755);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs as a command without node_modules', async () => {
    const { stdout } = await run(kes, ['--version'], { cwd: dir, env, encoding: 'utf8' });
    expect(stdout.trim()).toBe(version);
  });

  it('serves keys from a config file, with workers, to a client', async () => {
    await run(kes, ['identity', 'new', 'localhost', '--key', 'server.key', '--cert', 'server.crt', '--ip', '127.0.0.1'], { cwd: dir, env });
    const { stdout } = await run(kes, ['identity', 'new', '--json'], { cwd: dir, env, encoding: 'utf8' });
    const admin = JSON.parse(stdout) as { api_key: string; identity: string };
    writeFileSync(
      join(dir, 'kes.yml'),
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${admin.identity}}`,
        'tls: {key: server.key, cert: server.crt}',
        'workers: 2',
        'keys: [{name: my-key}]',
        'keystore: {fs: {path: ./keys}}',
        '',
      ].join('\n'),
    );
    const server = spawn(kes, ['server', '--config', 'kes.yml'], { cwd: dir, env });
    try {
      let out = '';
      server.stdout.on('data', (c: Buffer) => (out += c.toString()));
      server.stderr.on('data', (c: Buffer) => (out += c.toString()));
      await expect.poll(() => out, { timeout: 30_000, interval: 100 }).toContain('"msg":"server started"');
      const url = /"urls":\["([^"]+)"/.exec(out)![1]!;
      const client = createKesClient({ endpoints: url, apiKey: admin.api_key, ca: readFileSync(join(dir, 'server.crt')) });
      try {
        const dek = await client.generateKey('my-key');
        expect(await client.decrypt('my-key', dek.ciphertext)).toEqual(dek.plaintext);
        expect((await client.version()).version).toBe(version);
      } finally {
        client.close();
      }
    } finally {
      server.kill('SIGTERM');
      if (server.exitCode === null) await once(server, 'exit');
    }
    expect(readFileSync(join(dir, 'keys', 'my-key')).length).toBeGreaterThan(0);
  }, 60_000);
});

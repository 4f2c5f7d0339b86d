// End-to-end: spawn the BUILT CLI (`node packages/cli/bin/kes.js …`, needs `pnpm build`)
// and talk to the server over real TLS on 127.0.0.1.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '@kes/core';
import { call, freePort, kesBin, killAll, runKes, runKesOnce } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-e2e-'));
const serverKey = join(dir, 'server.key');
const serverCert = join(dir, 'server.cert');
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

const started = (r: Record<string, unknown>) => r.msg === 'server started';

describe.skipIf(!built)('kes server (built CLI)', () => {
  beforeAll(async () => {
    // The server certificate comes from `kes identity new`, as a user would make it.
    const r = await runKesOnce(['identity', 'new', '--key', serverKey, '--cert', serverCert, '--ip', '127.0.0.1', '--dns', 'localhost', 'localhost']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('seed syntax: --cert --key --root --port serves the API with that admin', async () => {
    const port = await freePort();
    const kes = runKes(['server', '--cert', serverCert, '--key', serverKey, '--root', admin.identity, '--port', String(port), '--addr', '127.0.0.1']);
    const rec = await kes.waitFor(started);
    expect(rec).toMatchObject({ port, admin: admin.identity, keystore: 'In Memory (keys are NOT persisted)', policies: 0 });
    expect(kes.stderr()).toContain('using the IN-MEMORY key store. Keys are NOT persisted');
    const url = `https://127.0.0.1:${port}`;
    expect((await call(url, 'POST', '/v1/key/create/seed-key', adminCert)).status).toBe(200);
    expect((await call(url, 'GET', '/v1/key/describe/seed-key', adminCert)).status).toBe(200);
    const other = await call(url, 'POST', '/v1/key/create/x', ApiKey.generate().createCertificate());
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body)).toEqual({ message: 'not authorized: insufficient permissions' });
    kes.child.kill('SIGTERM');
    expect(await kes.exited()).toBe(0);
    expect(kes.stderr()).toContain('"msg":"server stopped"');
  });

  it('--dev prints an API key that works as a client certificate', async () => {
    const kes = runKes(['server', '--dev', '--port', '0']);
    const rec = await kes.waitFor(started);
    const apiKey = ApiKey.parse(String(rec.api_key));
    expect(apiKey.identity).toBe(rec.admin);
    const port = Number(rec.port);
    expect(rec.export).toBe(`export KES_SERVER=https://127.0.0.1:${port} KES_API_KEY=${apiKey.toString()}`);
    const url = `https://127.0.0.1:${port}`;
    const client = apiKey.createCertificate();
    expect((await call(url, 'POST', '/v1/key/create/dev-key', client)).status).toBe(200);
    const dek = await call(url, 'POST', '/v1/key/generate/dev-key', client, '{}');
    expect(dek.status).toBe(200);
    expect(Object.keys(JSON.parse(dek.body) as object)).toEqual(['plaintext', 'ciphertext']);
    kes.child.kill('SIGINT');
    expect(await kes.exited()).toBe(0);
  });

  it('--config with an fs key store keeps keys across a restart', async () => {
    const keys = join(dir, 'keys');
    const config = join(dir, 'fs.yml');
    writeFileSync(
      config,
      [
        'version: v1',
        'address: 127.0.0.1:0',
        'admin:',
        `  identity: \${ADMIN_ID}`,
        'tls:',
        `  key: ${serverKey}`,
        `  cert: ${serverCert}`,
        'keystore:',
        '  fs:',
        `    path: ${keys}`,
        '',
      ].join('\n'),
    );
    const env = { ADMIN_ID: admin.identity };
    const first = runKes(['server', '--config', config], env);
    const r1 = await first.waitFor(started);
    expect(r1.keystore).toBe(`Filesystem: ${keys}`);
    expect((await call(`https://127.0.0.1:${Number(r1.port)}`, 'POST', '/v1/key/create/persisted', adminCert)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited()).toBe(0);

    const second = runKes(['server', '--config', config], env);
    const r2 = await second.waitFor(started);
    const d = await call(`https://127.0.0.1:${Number(r2.port)}`, 'GET', '/v1/key/describe/persisted', adminCert);
    expect(d.status).toBe(200);
    expect(JSON.parse(d.body)).toMatchObject({ name: 'persisted', created_by: admin.identity });
    second.child.kill('SIGTERM');
    expect(await second.exited()).toBe(0);
  });

  it('SIGHUP applies a new policy and rejects a broken file, keeping the old config', async () => {
    const app = ApiKey.generate();
    const appCert = app.createCertificate();
    const config = join(dir, 'reload.yml');
    const write = (allow: string) =>
      writeFileSync(
        config,
        [
          'address: 127.0.0.1:0',
          `admin: {identity: ${admin.identity}}`,
          `tls: {key: ${serverKey}, cert: ${serverCert}}`,
          'policy:',
          '  app:',
          `    allow: [${allow}]`,
          `    identities: [${app.identity}]`,
          'keystore: {memory: {}}',
          '',
        ].join('\n'),
      );
    write('/v1/key/describe/*');
    const kes = runKes(['server', '--config', config]);
    const rec = await kes.waitFor(started);
    const url = `https://127.0.0.1:${Number(rec.port)}`;
    expect((await call(url, 'POST', '/v1/key/create/app-key', appCert)).status).toBe(403);

    write('/v1/key/create/app-*');
    kes.child.kill('SIGHUP');
    await kes.waitFor((r) => r.msg === 'configuration reloaded');
    expect((await call(url, 'POST', '/v1/key/create/app-key', appCert)).status).toBe(200);

    writeFileSync(config, readFileSync(config, 'utf8').replace('address: 127.0.0.1:0', 'address: 127.0.0.1:0\ncache: {expiry: {any: soon}}'));
    kes.child.kill('SIGHUP');
    const failed = await kes.waitFor((r) => r.msg === 'reload failed, keeping the current configuration');
    expect(failed.problems).toEqual([`${config}:2: cache.expiry.any: 'soon' is not a duration (use e.g. 30s, 5m, 1h30m)`]);
    expect((await call(url, 'POST', '/v1/key/create/app-key2', appCert)).status).toBe(200);

    kes.child.kill('SIGTERM');
    expect(await kes.exited()).toBe(0);
  });

  it('start-up errors: config problems exit 1 with every line, usage errors exit 2', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'admin: {identity: ""}\ntls: {auth: maybe}\n');
    const r = await runKesOnce(['server', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `Error: ${bad}:1: admin.identity: must not be empty`,
        `Error: ${bad}:2: tls.cert: is required`,
        `Error: ${bad}:2: tls.key: is required`,
        `Error: ${bad}:2: tls.auth: must be 'on' or 'off', not 'maybe'`,
        `Error: ${bad}: keystore: no key store is configured: add one (e.g. keystore: {fs: {path: ./keys}}); for a throw-away store whose keys are lost on exit use \`keystore: {memory: {}}\` explicitly, or \`kes server --dev\``,
        '',
      ].join('\n'),
    );
    const u = await runKesOnce(['server', '--dev', '--config', bad]);
    expect(u.code).toBe(2);
    expect(u.stderr.split('\n')[0]).toBe('Error: --dev cannot be combined with --config');
    const p = await runKesOnce(['server', '--cert', serverCert, '--key', serverKey]);
    expect(p.code).toBe(2);
    expect(p.stderr.split('\n')[0]).toBe('Error: without --config, --root is required as well');
    const c = await runKesOnce(['server', '--dev', '--addr', '127.0.0.1:7000', '--port', '7001']);
    expect(c.code).toBe(2);
    expect(c.stderr.split('\n')[0]).toBe('Error: conflicting ports: --addr 127.0.0.1:7000 and --port 7001 (give the port once)');
  });

  it('refuses a config whose key store section is misspelled, and a key store that does not work', async () => {
    const typo = join(dir, 'typo.yml');
    writeFileSync(
      typo,
      [
        `admin: {identity: ${admin.identity}}`,
        `tls: {key: ${serverKey}, cert: ${serverCert}}`,
        'keystor:',
        `  fs: {path: ${join(dir, 'typo-keys')}}`,
        '',
      ].join('\n'),
    );
    const r = await runKesOnce(['server', '--config', typo]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').slice(0, 2)).toEqual([
      `Error: ${typo}:3: keystor: unknown field 'keystor' (did you mean 'keystore'?)`,
      `Error: ${typo}: keystore: no key store is configured: add one (e.g. keystore: {fs: {path: ./keys}}); for a throw-away store whose keys are lost on exit use \`keystore: {memory: {}}\` explicitly, or \`kes server --dev\``,
    ]);
    expect(existsSync(join(dir, 'typo-keys'))).toBe(false);

    const blocker = join(dir, 'blocker-file');
    writeFileSync(blocker, 'not a directory');
    const broken = join(dir, 'broken-store.yml');
    writeFileSync(
      broken,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${admin.identity}}`,
        `tls: {key: ${serverKey}, cert: ${serverCert}}`,
        `keystore: {fs: {path: ${blocker}}}`,
        '',
      ].join('\n'),
    );
    const b = await runKesOnce(['server', '--config', broken]);
    expect(b.code).toBe(1);
    expect(b.stdout).toBe('');
    expect(b.stderr).toBe(
      `Error: ${broken}: keystore.fs: key store check failed: Filesystem: ${blocker}: '${blocker}' is not a directory and cannot be created as one (a file is in the way)\n`,
    );
  });

  it('works from the repository root as `npx kes`', () => {
    // The root package depends on @kes/cli, so node_modules/.bin/kes points at bin/kes.js.
    expect(existsSync(new URL('../../../node_modules/.bin/kes', import.meta.url))).toBe(true);
    expect(kesBin.endsWith('packages/cli/bin/kes.js')).toBe(true);
  });
});

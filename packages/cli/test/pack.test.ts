// Packaging: every package, packed as it would be published, installs from its tarball
// into an empty directory (its other dependencies from the npm registry) and runs there.
// `pnpm pack` is what `pnpm publish` (and so `changeset publish`) uploads: it applies
// `publishConfig` and rewrites `workspace:*` to the sibling's version, which `npm pack`
// would not. The same tarballs then go through what docs/install.md tells users to do:
// an app that depends on @kes/server and @kes/client, `npm install -g`, and `npx -p`.
// Needs `pnpm build` (skipped without it, except in CI) and the npm registry; takes about
// 60 s (each npm install resolves the third-party dependencies again).
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '@kes/core';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = ['core', 'client', 'keystores', 'server', 'cli'] as const;
type Dir = (typeof PACKAGES)[number];

interface Manifest {
  name: string;
  version: string;
  exports: Record<string, unknown>;
  publishConfig?: { exports?: unknown };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const manifest = (p: Dir): Manifest => readJson(join(repo, 'packages', p, 'package.json'));
// Outside CI a missing build skips the install tests (as the other end-to-end tests do); in CI it fails them.
const built = PACKAGES.every((p) => existsSync(join(repo, 'packages', p, 'dist', 'index.js'))) || !!process.env.CI;

/** The pnpm of the workspace, from the one place its version is written (root `packageManager`). */
const pnpmSpec = readJson<{ packageManager: string }>(join(repo, 'package.json')).packageManager.split('+')[0]!;

/** `exports` as published: the private `kes-source` condition (it points at src/, which is not shipped) removed. */
function withoutSourceCondition(exports: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(exports).map(([path, target]) => {
      if (typeof target !== 'object' || target === null) return [path, target];
      const { 'kes-source': _source, ...rest } = target as Record<string, unknown>;
      return [path, rest];
    }),
  );
}

/** Every file an `exports` map points at. */
function exportTargets(exports: Record<string, unknown>): string[] {
  return Object.values(exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t as Record<string, string>)));
}

/** The environment for child processes: without the npm_* variables of an enclosing `npm test`. */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

describe('package manifests', () => {
  it.each(PACKAGES)('%s: publishConfig.exports is exports without the kes-source condition', (p) => {
    const m = manifest(p);
    // A subpath added to `exports` must be added to `publishConfig.exports` too (without `kes-source`).
    expect(m.publishConfig?.exports).toEqual(withoutSourceCondition(m.exports));
    expect(m.exports['./package.json']).toBe('./package.json');
    for (const target of exportTargets(m.exports)) {
      if (target.startsWith('./src/')) expect(existsSync(join(repo, 'packages', p, target)), target).toBe(true);
    }
  });

  it('the AWS SDK is an optional peer dependency of @kes/keystores only', () => {
    const sdk = '@aws-sdk/client-secrets-manager';
    const m = manifest('keystores');
    expect(m.dependencies?.[sdk]).toBeUndefined();
    expect(m.peerDependencies?.[sdk]).toMatch(/^\^3\./);
    expect(m.peerDependenciesMeta?.[sdk]?.optional).toBe(true);
    for (const p of PACKAGES) expect(manifest(p).dependencies?.[sdk], p).toBeUndefined();
  });
});

describe.skipIf(!built)('packed tarballs install and run in an empty directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kes-pack-'));
  const modules = join(dir, 'node_modules');
  const installed = (p: Dir) => join(modules, '@kes', p);
  const kes = (args: string[]) => run(join(modules, '.bin', 'kes'), args, { cwd: dir, env: childEnv, encoding: 'utf8' });
  const node = (script: string) => run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: childEnv, encoding: 'utf8' });
  const tarballs = join(dir, 'tarballs');
  const tarball = (p: Dir) => join(tarballs, `kes-${p}-${manifest(p).version}.tgz`);

  beforeAll(async () => {
    mkdirSync(tarballs);
    await Promise.all(
      PACKAGES.map((p) => run('npx', ['-y', pnpmSpec, 'pack', '--pack-destination', tarballs], { cwd: join(repo, 'packages', p), env: childEnv })),
    );
    const files = readdirSync(tarballs).map((f) => join(tarballs, f));
    expect(files).toHaveLength(PACKAGES.length);
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'kes-pack-test', private: true, type: 'module' })}\n`);
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], { cwd: dir, env: childEnv });
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(PACKAGES)('%s: the published manifest has real versions, exports only shipped files, no sources', (p) => {
    const m = readJson<Manifest>(join(installed(p), 'package.json'));
    expect(m.version).toBe(manifest(p).version);
    for (const [name, range] of Object.entries(m.dependencies ?? {})) {
      expect(range, name).not.toMatch(/^workspace:/);
      if (name.startsWith('@kes/')) expect(range, name).toBe(manifest(name.slice('@kes/'.length) as Dir).version);
    }
    expect(JSON.stringify(m.exports)).not.toMatch(/kes-source|\.\/src\//);
    for (const target of [...exportTargets(m.exports), ...Object.values(m.bin ?? {})]) {
      expect(existsSync(join(installed(p), target)), `${m.name}: ${target}`).toBe(true);
    }
    expect(existsSync(join(installed(p), 'src'))).toBe(false);
  });

  it('the build output imports Node built-ins with node: specifiers', () => {
    const builtins = new Set(builtinModules.filter((b) => !b.startsWith('node:')));
    const bare: string[] = [];
    for (const p of PACKAGES) {
      const dist = join(installed(p), 'dist');
      for (const f of readdirSync(dist).filter((f) => f.endsWith('.js'))) {
        const text = readFileSync(join(dist, f), 'utf8');
        for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) {
          if (builtins.has(m[1]!)) bare.push(`${relative(modules, join(dist, f))}: '${m[1]}'`);
        }
      }
    }
    expect(bare).toEqual([]);
  });

  it('the optional AWS SDK is not installed', () => {
    expect(existsSync(join(modules, '@aws-sdk'))).toBe(false);
  });

  it('the libraries import and work', async () => {
    const { stdout } = await node(`
      import { ApiKey } from '@kes/core';
      import core from '@kes/core/package.json' with { type: 'json' };
      import { createKeyStore, keyStoreTypes } from '@kes/keystores';
      import { createKesServer } from '@kes/server';
      const store = await createKeyStore({ type: 'memory' });
      await store.create('k', new Uint8Array([1, 2, 3]));
      const value = [...(await store.get('k'))];
      console.log(JSON.stringify({
        identity: ApiKey.generate().identity,
        version: core.version,
        types: keyStoreTypes(),
        value,
        server: typeof createKesServer,
      }));
    `);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ version: manifest('core').version, value: [1, 2, 3], server: 'function' });
    expect(out.identity).toMatch(/^[0-9a-f]{64}$/);
    expect(out.types).toEqual(expect.arrayContaining(['memory', 'fs', 'vault', 'aws']));
  });

  it('an AWS store without the SDK fails its first call, naming the package to install', async () => {
    const { stdout } = await node(`
      import { createKeyStore } from '@kes/keystores';
      const store = await createKeyStore({ type: 'aws', options: { region: 'us-east-1', endpoint: 'http://127.0.0.1:9' } });
      try {
        await store.status();
        console.log('null');
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, message: err.message, cause: err.cause?.message }));
      }
    `);
    expect(JSON.parse(stdout)).toEqual({
      code: 'ERR_KES_KEYSTORE_UNAVAILABLE',
      message: 'key store is unavailable',
      cause:
        '@aws-sdk/client-secrets-manager is not installed: the AWS Secrets Manager key store needs it ' +
        "(an optional peer dependency of @kes/keystores); install it with 'npm install @aws-sdk/client-secrets-manager'",
    });
  });

  it('kes --version prints the version of @kes/cli', async () => {
    const { stdout } = await kes(['--version']);
    expect(stdout.trim()).toBe(manifest('cli').version);
  });

  it('the client commands load @kes/client from its tarball', async () => {
    const failed = await kes(['status', '--server', '127.0.0.1:9', '--api-key', ApiKey.generate().toString()]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toBe(
      'Error: cannot reach a KES server at https://127.0.0.1:9 (connection refused): start it, or set its address with --server or KES_SERVER\n',
    );
  });

  it('kes identity new writes a key and certificate; kes server starts on them', async () => {
    const { stdout } = await kes(['identity', 'new', 'localhost', '--key', 'server.key', '--cert', 'server.cert', '--ip', '127.0.0.1']);
    expect(stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const config = (keystore: string) =>
      ['address: 127.0.0.1:0', `admin: {identity: ${'a'.repeat(64)}}`, 'tls: {key: server.key, cert: server.cert}', keystore, ''].join('\n');
    writeFileSync(join(dir, 'memory.yml'), config('keystore: {memory: {}}'));
    writeFileSync(
      join(dir, 'aws.yml'),
      config(
        'keystore: {aws: {secretsmanager: {endpoint: "http://127.0.0.1:9", region: us-east-1, credentials: {accesskey: AKIATEST, secretkey: test}}}}',
      ),
    );

    const server = spawn(join(modules, '.bin', 'kes'), ['server', '--config', 'memory.yml'], { cwd: dir, env: childEnv });
    try {
      let out = '';
      server.stdout.on('data', (c: Buffer) => (out += c.toString()));
      server.stderr.on('data', (c: Buffer) => (out += c.toString()));
      await expect.poll(() => out, { timeout: 20_000, interval: 100 }).toContain('"msg":"server started"');
    } finally {
      server.kill('SIGTERM');
      if (server.exitCode === null) await once(server, 'exit');
    }

    // Without the optional SDK, an AWS key store stops the start with one line naming the package.
    const failed = await kes(['server', '--config', 'aws.yml']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(
      'key store check failed: AWS SecretsManager: http://127.0.0.1:9: @aws-sdk/client-secrets-manager is not installed',
    );
  });

  // docs/install.md, "Depending on @kes/server from your app": the app as written there.
  it('an app that depends on the packages starts a server and talks to it with @kes/client', async () => {
    const app = join(dir, 'my-app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'my-app', private: true, type: 'module', dependencies: Object.fromEntries(PACKAGES.filter((p) => p !== 'cli').map((p) => [`@kes/${p}`, `file:${tarball(p)}`])) })}\n`,
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env: childEnv });
    writeFileSync(
      join(app, 'server.mjs'),
      `import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createKesClient } from '@kes/client';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';

const admin = ApiKey.generate();
const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const server = await createKesServer({
  admin: admin.identity,
  keyStore: createMemoryKeyStore(),
  tls: { cert: tls.certificatePem, key: tls.privateKeyPem },
  keys: [{ name: 'my-app-key' }],
  log: { error: 'off', audit: 'off' },
});
await server.listen(0, '127.0.0.1');

const client = createKesClient({ endpoints: server.url, apiKey: admin, ca: tls.certificatePem });
const dek = await client.generateKey('my-app-key');
const back = await client.decrypt('my-app-key', dek.ciphertext);
console.log(JSON.stringify({ bytes: dek.plaintext.length, roundTrip: Buffer.from(back).equals(Buffer.from(dek.plaintext)), version: (await client.version()).version }));
client.close();
await server.close();
`,
    );
    const { stdout } = await run(process.execPath, ['server.mjs'], { cwd: app, env: childEnv, encoding: 'utf8' });
    expect(JSON.parse(stdout)).toEqual({ bytes: 32, roundTrip: true, version: manifest('server').version });
  }, 180_000);

  // docs/install.md: `npm install -g` of all tarballs at once (here into a temporary prefix).
  it('npm install -g of the tarballs gives a working kes command', async () => {
    const prefix = join(dir, 'global');
    await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', ...PACKAGES.map(tarball)], {
      cwd: dir,
      env: childEnv,
    });
    const { stdout } = await run(join(prefix, 'bin', 'kes'), ['identity', 'new', '--json'], { cwd: dir, env: childEnv, encoding: 'utf8' });
    expect(JSON.parse(stdout)).toMatchObject({ api_key: expect.stringMatching(/^kes:v1:/), identity: expect.stringMatching(/^[0-9a-f]{64}$/) });
  }, 180_000);

  // docs/install.md: `npx -p` with the package (the tarballs stand in for the registry), from
  // a directory without any kes: the scoped name is what makes npx run ours, not the
  // unrelated `kes` package on the registry.
  it('npx -p <the @kes/cli package> kes runs our kes', async () => {
    const empty = join(dir, 'elsewhere');
    mkdirSync(empty);
    const cache = join(dir, 'npm-cache'); // a cache of its own, so no earlier npx run is reused
    const { stdout } = await run('npx', ['-y', '--cache', cache, ...PACKAGES.flatMap((p) => ['-p', tarball(p)]), 'kes', '--version'], {
      cwd: empty,
      env: childEnv,
      encoding: 'utf8',
    });
    expect(stdout.trim()).toBe(manifest('cli').version);
  }, 180_000);
});

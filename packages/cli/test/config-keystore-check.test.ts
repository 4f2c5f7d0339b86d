// `kes server` checks its key store before it starts: a store that cannot work is a
// start error naming the store and the reason, not a server that answers 502 to
// every request. Against real backends: a temp directory, the OpenBao dev server and
// moto servers started by test/global-setup.ts (plus one moto with IAM auth on).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isConfigError } from '@kes/cli';
import type { ConfigError } from '@kes/cli';
import { createSelfSignedCertificate } from '@kes/core';
import { runServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';
import { freePort } from './helpers/spawn.js';
import { startMoto } from '../../../test/servers/moto.js';
// Brings the `inject()` keys declared by the global setup into the type check.
import type {} from '../../../test/global-setup.js';

const baoAddr = inject('baoAddr');
const baoToken = inject('baoToken');
const motoEndpoint = inject('motoEndpoint');

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-keystore-check-'));
const ADMIN = 'a'.repeat(64);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  const c = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(dir, 'server.cert'), c.certificatePem);
  writeFileSync(join(dir, 'server.key'), c.privateKeyPem);
});

/** Writes a config with `keystore` lines and returns its path. */
function config(name: string, keystore: string[]): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    [
      'address: 127.0.0.1:0',
      `admin: {identity: ${ADMIN}}`,
      `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
      'keystore:',
      ...keystore.map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
  return file;
}

/** Starts `kes server --config file` in-process; resolves with the start error's problems, or stops the server and fails. */
async function startFails(file: string): Promise<readonly string[]> {
  const t = testContext({ tty: false });
  let running: Awaited<ReturnType<typeof runServer>> | undefined;
  try {
    running = await runServer({ config: file }, t.ctx);
  } catch (err) {
    expect(isConfigError(err)).toBe(true);
    expect(t.stdout()).not.toContain('server started');
    return (err as ConfigError).problems;
  }
  await running.stop();
  throw new Error('the server started');
}

async function startsAndStops(file: string): Promise<void> {
  const t = testContext({ tty: false });
  const running = await runServer({ config: file }, t.ctx);
  expect(t.stdout()).toContain('"msg":"server started"');
  await running.stop();
}

describe('fs key store', () => {
  it('a path that is a regular file refuses the start', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const cfg = config('fs-file', [`fs: {path: ${file}}`]);
    expect(await startFails(cfg)).toEqual([
      `${cfg}: keystore.fs: key store check failed: Filesystem: ${file}: '${file}' is not a directory and cannot be created as one (a file is in the way)`,
    ]);
  });

  it('a path that cannot be created (below a regular file) refuses the start', async () => {
    const file = join(dir, 'blocker');
    writeFileSync(file, 'x');
    const keys = join(file, 'keys');
    const cfg = config('fs-below-file', [`fs: {path: ${keys}}`]);
    expect(await startFails(cfg)).toEqual([
      `${cfg}: keystore.fs: key store check failed: Filesystem: ${keys}: '${keys}' is not a directory and cannot be created as one (a file is in the way)`,
    ]);
  });

  it('a directory that does not exist yet is created and the server starts', async () => {
    await startsAndStops(config('fs-ok', [`fs: {path: ${join(dir, 'new', 'keys')}}`]));
  });
});

/** One raw call to OpenBao with the root token. */
async function bao(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baoAddr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': baoToken, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!baoAddr)('vault key store (OpenBao)', () => {
  const suffix = randomBytes(4).toString('hex');
  const engine = `kv-check-${suffix}`;
  const approle = `approle-check-${suffix}`;
  let roleId = '';

  beforeAll(async () => {
    expect((await bao('POST', `sys/mounts/${engine}`, { type: 'kv', options: { version: '1' } })).status).toBe(204);
    expect((await bao('POST', `sys/auth/${approle}`, { type: 'approle' })).status).toBe(204);
    expect((await bao('POST', `auth/${approle}/role/kes`, { token_policies: ['default'] })).status).toBe(204);
    roleId = (await bao('GET', `auth/${approle}/role/kes/role-id`)).body.data.role_id as string;
  });
  afterAll(async () => {
    await bao('DELETE', `sys/mounts/${engine}`).catch(() => undefined);
    await bao('DELETE', `sys/auth/${approle}`).catch(() => undefined);
  });

  it('a rejected token refuses the start (sys/health alone would not notice: it needs no token)', async () => {
    const token = `s.wrong-${randomBytes(8).toString('hex')}`;
    const cfg = config('vault-token', ['vault:', `  endpoint: ${baoAddr}`, `  engine: ${engine}`, `  token: ${token}`]);
    const problems = await startFails(cfg);
    expect(problems).toEqual([
      `${cfg}: keystore.vault: key store check failed: Hashicorp Vault: ${baoAddr}: vault: get kes-start-check: HTTP 403: permission denied (the login or token was rejected, or its Vault policy does not allow reading keys)`,
    ]);
    expect(problems.join('\n')).not.toContain(token);
  });

  it('a refused AppRole login refuses the start', async () => {
    const secret = randomBytes(16).toString('hex');
    const cfg = config('vault-approle', [
      'vault:',
      `  endpoint: ${baoAddr}`,
      `  engine: ${engine}`,
      '  approle:',
      `    engine: ${approle}`,
      `    id: ${roleId}`,
      `    secret: ${secret}`,
    ]);
    const problems = await startFails(cfg);
    expect(problems).toEqual([
      `${cfg}: keystore.vault: key store check failed: Hashicorp Vault: ${baoAddr}: vault: approle login at auth/${approle} failed: HTTP 400: invalid role or secret ID (the login was rejected: check the AppRole IDs or the Kubernetes role and JWT)`,
    ]);
    expect(problems.join('\n')).not.toContain(secret);
  });

  it('a K/V engine that is not mounted refuses the start', async () => {
    const cfg = config('vault-engine', ['vault:', `  endpoint: ${baoAddr}`, `  engine: no-such-${suffix}`, `  token: ${baoToken}`]);
    const [problem] = await startFails(cfg);
    expect(problem).toMatch(
      /^.*: keystore\.vault: key store check failed: Hashicorp Vault: .*: vault: get kes-start-check: HTTP 404: no handler for route .*\(no such engine or auth mount: check engine, approle\.engine \/ kubernetes\.engine and namespace\)$/,
    );
  });

  it('an unreachable Vault refuses the start (as upstream)', async () => {
    const port = await freePort();
    const cfg = config('vault-down', ['vault:', `  endpoint: http://127.0.0.1:${port}`, `  token: ${baoToken}`]);
    expect(await startFails(cfg)).toEqual([
      `${cfg}: keystore.vault: key store check failed: Hashicorp Vault: http://127.0.0.1:${port}: vault: GET sys/health: connect ECONNREFUSED 127.0.0.1:${port} (the key store is unreachable; like upstream KES, the server does not start without it)`,
    ]);
  });

  it('a working token and engine: the server starts', async () => {
    await startsAndStops(config('vault-ok', ['vault:', `  endpoint: ${baoAddr}`, `  engine: ${engine}`, `  token: ${baoToken}`]));
  });
});

describe('aws key store (moto)', () => {
  const secretKey = `wrong-${randomBytes(8).toString('hex')}`;
  const aws = (name: string, endpoint: string): string =>
    config(name, [
      'aws:',
      '  secretsmanager:',
      `    endpoint: ${endpoint}`,
      '    region: us-east-1',
      '    credentials:',
      '      accesskey: AKIAWRONGWRONGWRONG1',
      `      secretkey: ${secretKey}`,
    ]);

  it.skipIf(!motoEndpoint)('the shared moto server accepts any credentials, so the server starts', async () => {
    await startsAndStops(aws('aws-any', motoEndpoint));
  });

  it('credentials rejected by a moto server with IAM auth on refuse the start', async () => {
    // moto checks credentials only when INITIAL_NO_AUTH_ACTION_COUNT is set, so this
    // test runs its own moto instead of switching the shared one (other tests use it).
    const moto = await startMoto({ env: { INITIAL_NO_AUTH_ACTION_COUNT: '0' }, logName: 'moto-auth.log' });
    if ('error' in moto) {
      console.warn(`[config-keystore-check] skipped: ${moto.error}`);
      return;
    }
    const endpoint = moto.endpoint;
    try {
      const cfg = aws('aws-rejected', endpoint);
      const problems = await startFails(cfg);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        new RegExp(
          `^${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: keystore\\.aws\\.secretsmanager: key store check failed: AWS SecretsManager: ${endpoint}: aws secretsmanager: .* \\(HTTP 403\\): .*\\(the credentials were rejected or lack permission\\)$`,
        ),
      );
      expect(problems[0]).not.toContain(secretKey);
    } finally {
      await moto.stop();
    }
  }, 90_000);

  it('an unreachable endpoint refuses the start (as upstream)', async () => {
    const port = await freePort();
    const [problem] = await startFails(aws('aws-down', `http://127.0.0.1:${port}`));
    expect(problem).toContain(`key store check failed: AWS SecretsManager: http://127.0.0.1:${port}: aws secretsmanager: ECONNREFUSED`);
    expect(problem).toContain('(the key store is unreachable; like upstream KES, the server does not start without it)');
  }, 60_000);
});

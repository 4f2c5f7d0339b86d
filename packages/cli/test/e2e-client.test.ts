// End-to-end: the BUILT `kes` client commands (`node packages/cli/bin/kes.js …`, needs
// `pnpm build`) against a real server started here, over TLS on 127.0.0.1, once with an
// API key and once with a client certificate. `--json` output is parsed and checked.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate, identityOfCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { freePort, killAll, runKes, runKesOnce } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-client-'));
const admin = ApiKey.generate();
const reader = ApiKey.generate();
const serverCa = join(dir, 'server.crt');
const readerCert = join(dir, 'reader.crt');
const readerKey = join(dir, 'reader.key');
let server: KesServer;
let url = '';

afterAll(async () => {
  killAll();
  await server?.close({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  if (!built) return;
  const tls = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'localhost', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
  writeFileSync(serverCa, tls.certificatePem);
  const r = reader.createCertificate();
  writeFileSync(readerCert, r.certificatePem);
  writeFileSync(readerKey, r.privateKeyPem);
  server = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    policies: {
      reader: {
        allow: ['/v1/key/describe/*', '/v1/key/list/*', '/v1/identity/self/describe'],
        deny: ['/v1/key/describe/secret-*'],
        identities: [reader.identity],
      },
    },
    tls: { cert: tls.certificatePem, key: tls.privateKeyPem },
    log: { error: 'off', audit: 'off' },
  });
  await server.listen(0, '127.0.0.1');
  url = server.url;
});

/** Runs the built CLI with `env` plus the test server's address. */
async function kes(args: string[], env: Record<string, string>) {
  return runKesOnce(args, { KES_SERVER: url, ...env });
}

/** Runs it, expects exit code 0 and returns stdout parsed as JSON. */
async function json<T = any>(args: string[], env: Record<string, string>): Promise<T> {
  const r = await kes([...args, '--json'], env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** Its one stderr line (the error), after checking the exit code. */
async function failure(args: string[], env: Record<string, string>, code = 1): Promise<string> {
  const r = await kes(args, env);
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  return r.stderr.split('\n')[0] ?? '';
}

describe.skipIf(!built)('kes client commands (built CLI)', () => {
  // The certificate mode uses `kes identity new --api-key`: a key pair whose identity is
  // the admin API key's, as a user of an API-key server would make one for curl.
  const modes = [
    { name: 'API key (env), --ca', prefix: 'ak', env: () => ({ KES_API_KEY: admin.toString() }), tls: () => ['--ca', serverCa] },
    {
      name: 'client certificate (env), -k',
      prefix: 'cert',
      env: () => ({ KES_CLIENT_CERT: join(dir, 'admin.crt'), KES_CLIENT_KEY: join(dir, 'admin.key') }),
      tls: () => ['-k'],
    },
  ];

  beforeAll(async () => {
    const r = await runKesOnce(['identity', 'new', '--api-key', admin.toString(), '--key', join(dir, 'admin.key'), '--cert', join(dir, 'admin.crt')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(admin.identity);
  });

  describe.each(modes)('$name', ({ prefix, env: envOf, tls }) => {
    const k = (n: string) => `${prefix}-${n}`;

    it('key create, ls (and list), info (and describe), rm (and delete)', async () => {
      const env = envOf();
      const created = await kes(['key', 'create', k('one'), k('two'), k('three'), ...tls()], env);
      expect(created).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await json(['key', 'ls', `${prefix}-*`, ...tls()], env)).toEqual([k('one'), k('three'), k('two')]);
      expect(await json(['key', 'list', `${prefix}-t`, ...tls()], env)).toEqual([k('three'), k('two')]);
      const text = await kes(['key', 'ls', `${prefix}-`, ...tls()], env);
      expect(text.stdout).toBe(`${k('one')}\n${k('three')}\n${k('two')}\n`);

      const info = await json(['key', 'info', k('one'), ...tls()], env);
      expect(info).toEqual({
        name: k('one'),
        algorithm: expect.stringMatching(/^(AES256|ChaCha20)$/),
        created_at: expect.any(String),
        created_by: admin.identity,
      });
      expect(Date.now() - Date.parse(info.created_at)).toBeLessThan(60_000);
      expect(await json(['key', 'describe', k('one'), ...tls()], env)).toEqual(info);
      const infoText = await kes(['key', 'info', k('one'), ...tls()], env);
      expect(infoText.stdout).toMatch(
        new RegExp(`^Name: +${k('one')}\\nAlgorithm: +\\S+\\nDate: +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\nOwner: +${admin.identity}\\n$`),
      );

      expect((await kes(['key', 'rm', k('two'), ...tls()], env)).code).toBe(0);
      expect((await kes(['key', 'delete', k('three'), ...tls()], env)).code).toBe(0);
      expect(await json(['ls', `${prefix}-`, ...tls()], env)).toEqual([k('one')]);
    });

    it('key encrypt, decrypt (with context), dek', async () => {
      const env = envOf();
      await kes(['key', 'create', k('crypt'), ...tls()], env);
      const { ciphertext } = await json(['key', 'encrypt', k('crypt'), 'hello world', ...tls()], env);
      expect(typeof ciphertext).toBe('string');
      expect(await json(['key', 'decrypt', k('crypt'), ciphertext, ...tls()], env)).toEqual({
        plaintext: Buffer.from('hello world').toString('base64'),
      });

      const context = Buffer.from('bucket/object').toString('base64');
      const withContext = await json(['key', 'encrypt', k('crypt'), 'secret', context, ...tls()], env);
      expect(await json(['key', 'decrypt', k('crypt'), withContext.ciphertext, context, ...tls()], env)).toEqual({
        plaintext: Buffer.from('secret').toString('base64'),
      });
      expect(await failure(['key', 'decrypt', k('crypt'), withContext.ciphertext, ...tls()], env)).toBe(
        'Error: decryption failed: ciphertext is not authentic (wrong key, ciphertext or context)',
      );

      const dek = await json(['key', 'dek', k('crypt'), context, ...tls()], env);
      expect(Object.keys(dek)).toEqual(['plaintext', 'ciphertext']);
      expect(Buffer.from(dek.plaintext, 'base64')).toHaveLength(32);
      expect(await json(['key', 'decrypt', k('crypt'), dek.ciphertext, context, ...tls()], env)).toEqual({ plaintext: dek.plaintext });
      // `derive` is the v0.10 name of dek; without --json and not on a terminal the output is JSON too (as upstream).
      const derived = await kes(['key', 'derive', k('crypt'), ...tls()], env);
      expect(Object.keys(JSON.parse(derived.stdout))).toEqual(['plaintext', 'ciphertext']);
    });

    it('key import', async () => {
      const env = envOf();
      const bytes = Buffer.alloc(32, 7).toString('base64');
      expect((await kes(['key', 'import', k('imported'), bytes, '--cipher', 'ChaCha20', ...tls()], env)).code).toBe(0);
      expect(await json(['key', 'info', k('imported'), ...tls()], env)).toMatchObject({ name: k('imported'), algorithm: 'ChaCha20' });
      // Same key, same ciphertext decrypts with a second import of the bytes under another name.
      await kes(['key', 'import', k('imported2'), bytes, '--cipher', 'ChaCha20', ...tls()], env);
      const { ciphertext } = await json(['key', 'encrypt', k('imported'), 'x', ...tls()], env);
      expect(await json(['key', 'decrypt', k('imported2'), ciphertext, ...tls()], env)).toEqual({ plaintext: 'eA==' });
      expect(await failure(['key', 'import', k('bad'), 'not base64!', ...tls()], env, 2)).toBe(
        'Error: the key is not valid base64 (standard alphabet, with = padding)',
      );
    });

    it('policy ls, info, show', async () => {
      const env = envOf();
      expect(await json(['policy', 'ls', ...tls()], env)).toEqual(['reader']);
      expect(await json(['ls', '-p', ...tls()], env)).toEqual(['reader']);
      expect(await json(['policy', 'info', 'reader', ...tls()], env)).toEqual({
        name: 'reader',
        created_at: expect.any(String),
        created_by: admin.identity,
      });
      expect(await json(['policy', 'show', 'reader', ...tls()], env)).toEqual({
        allow: ['/v1/identity/self/describe', '/v1/key/describe/*', '/v1/key/list/*'],
        deny: ['/v1/key/describe/secret-*'],
        created_at: expect.any(String),
        created_by: admin.identity,
      });
      expect(await failure(['policy', 'info', 'nope', ...tls()], env)).toBe(
        "Error: policy 'nope' does not exist: list the policies with 'kes policy ls'",
      );
    });

    it('identity info (self and another), identity ls, ls -i', async () => {
      const env = envOf();
      expect(await json(['identity', 'info', ...tls()], env)).toEqual({
        identity: admin.identity,
        admin: true,
        created_at: expect.any(String),
        created_by: '',
      });
      expect(await json(['identity', 'info', reader.identity, ...tls()], env)).toEqual({
        identity: reader.identity,
        admin: false,
        policy: 'reader',
        created_at: expect.any(String),
        created_by: admin.identity,
      });
      expect(await json(['identity', 'ls', ...tls()], env)).toEqual([admin.identity, reader.identity].sort());
      expect(await json(['ls', '-i', reader.identity.slice(0, 6), ...tls()], env)).toEqual([reader.identity]);
    });

    it('status (--json, text, --short, --api)', async () => {
      const env = envOf();
      const s = await json(['status', ...tls()], env);
      expect(s).toMatchObject({
        endpoint: url,
        version: expect.any(String),
        uptime: expect.any(Number),
        keystore_latency: expect.any(Number),
        os: expect.any(String),
      });
      expect(s.latency).toBeGreaterThan(0);
      const text = await kes(['status', ...tls()], env);
      expect(text.code).toBe(0);
      expect(text.stdout.split('\n')[0]).toBe(`● ${url.replace('https://', '')}`);
      for (const label of ['Version:', 'Uptime:', 'Latency:', 'Key store: ok, latency', 'OS:', 'CPUs:', 'Memory:'])
        expect(text.stdout).toContain(label);
      expect((await kes(['status', '-s', ...tls()], env)).stdout).toBe(`● ${url.replace('https://', '')}\n`);
      const api = await json(['status', '--api', ...tls()], env);
      expect(api).toContainEqual({ method: 'PUT', path: '/v1/key/create/', max_body: 0, timeout: 15 });
    });

    it('metric --json: a snapshot over --rate', async () => {
      const env = envOf();
      const m = await json(['metric', '--rate', '200ms', ...tls()], env);
      expect(m).toMatchObject({
        endpoint: url,
        requests: { total: expect.any(Number), by_code: expect.any(Object) },
        rates: { requests: expect.any(Number) },
      });
      expect(m.requests.total).toBeGreaterThan(0);
      expect(m.interval).toBeGreaterThanOrEqual(0.2);
      expect(Object.keys(m.latency_ms)).toEqual(['avg', 'p50', 'p90', 'p99']);
    });

    it('log --json follows the audit log until Ctrl-C (exit 0)', async () => {
      const env = envOf();
      const log = runKes(['log', '--json', ...tls()], { KES_SERVER: url, ...env });
      // The stream is open once an event of ours arrives: keep calling until one does.
      const name = k('audited');
      let seen = false;
      for (let i = 0; i < 50 && !seen; i++) {
        await kes(['key', 'info', name, ...tls()], env);
        seen = log.stdout().includes(`/v1/key/describe/${name}`);
        if (!seen) await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toBe(true);
      const event = log
        .stdout()
        .split('\n')
        .filter((l) => l.includes(name))
        .map((l) => JSON.parse(l))[0];
      expect(event).toMatchObject({
        time: expect.any(String),
        request: { path: `/v1/key/describe/${name}`, identity: admin.identity },
        response: { code: 404 },
      });
      log.child.kill('SIGINT');
      expect(await log.exited()).toBe(0);
      expect(log.stderr()).toBe('');
      const errorLog = runKes(['log', '--error', ...tls()], { KES_SERVER: url, ...env });
      await new Promise((r) => setTimeout(r, 500));
      errorLog.child.kill('SIGINT');
      expect(await errorLog.exited()).toBe(0);
      expect(errorLog.stderr()).toBe('');
    });

    it('404 and "exists" name the key and say what to do', async () => {
      const env = envOf();
      expect(await failure(['key', 'info', k('missing'), ...tls()], env)).toBe(
        `Error: key '${k('missing')}' does not exist: list the keys with 'kes key ls'`,
      );
      await kes(['key', 'create', k('dup'), ...tls()], env);
      expect(await failure(['key', 'create', k('dup'), ...tls()], env)).toBe(`Error: key '${k('dup')}' already exists: choose another name`);
    });
  });

  describe('a non-admin identity (client certificate from the command line)', () => {
    const flags = () => ['--client-cert', readerCert, '--client-key', readerKey, '--ca', serverCa];

    it('may do what its policy allows', async () => {
      await kes(['key', 'create', 'readable', '--ca', serverCa], { KES_API_KEY: admin.toString() });
      expect(await json(['key', 'info', 'readable', ...flags()], {})).toMatchObject({ name: 'readable' });
      const self = await json(['identity', 'info', ...flags()], {});
      expect(self).toMatchObject({
        identity: reader.identity,
        admin: false,
        policy: { name: 'reader', allow: expect.any(Array), deny: expect.any(Array) },
      });
    });

    it('a 403 names the identity and says what to do', async () => {
      expect(await failure(['key', 'create', 'forbidden', ...flags()], {})).toBe(
        `Error: not authorized: insufficient permissions (identity ${reader.identity}): use the admin's API key, or ask for a policy that allows this (see 'kes identity info')`,
      );
    });
  });

  describe('connection problems: one line that says what to do next', () => {
    const env = () => ({ KES_API_KEY: admin.toString() });

    it('an unreachable server', async () => {
      const port = await freePort();
      const line = await failure(['key', 'ls'], { ...env(), KES_SERVER: `127.0.0.1:${port}` });
      expect(line).toBe(
        `Error: cannot reach a KES server at https://127.0.0.1:${port} (connection refused): start it, or set its address with --server or KES_SERVER`,
      );
    });

    it('an untrusted server certificate', async () => {
      expect(await failure(['key', 'ls'], env())).toBe(
        `Error: TLS with ${url} failed: its certificate is self-signed: pass the CA certificate that signed it with --ca FILE (or -k/--insecure for a test server such as 'kes server --dev')`,
      );
      // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
      const other = url.replace('127.0.0.1', '127.0.0.2');
      if (other !== url) {
        const line = await failure(['key', 'ls', '--ca', serverCa], { ...env(), KES_SERVER: other });
        expect(line).toMatch(
          /^Error: (TLS with .* failed: its certificate does not name this host: use a host name or IP address from the server's certificate|cannot reach)/,
        );
      }
    });

    it('no credentials, broken credentials, a port out of range', async () => {
      expect(await failure(['key', 'ls'], {})).toBe(
        'Error: no credentials: set KES_API_KEY (or pass --api-key), or set KES_CLIENT_CERT and KES_CLIENT_KEY (or pass --client-cert and --client-key)',
      );
      expect(await failure(['key', 'ls'], { KES_API_KEY: 'kes:v1:AAAA' })).toBe(
        "Error: KES_API_KEY: invalid API key: invalid length (create one with 'kes identity new')",
      );
      expect(await failure(['key', 'ls'], { KES_CLIENT_CERT: join(dir, 'nope.crt'), KES_CLIENT_KEY: readerKey })).toBe(
        `Error: cannot read the client certificate '${join(dir, 'nope.crt')}' (KES_CLIENT_CERT): no such file`,
      );
      expect(await failure(['key', 'ls', '--server', '127.0.0.1:99999'], env(), 2)).toBe(
        "Error: --server: port '99999' of '127.0.0.1:99999' is out of range (1–65535)",
      );
      expect(await failure(['status'], { ...env(), KES_SERVER: '127.0.0.1:70000' }, 2)).toBe(
        "Error: KES_SERVER: port '70000' of '127.0.0.1:70000' is out of range (1–65535)",
      );
    });
  });

  describe('usage', () => {
    it('`kes` alone prints the command overview (exit 2)', async () => {
      const r = await runKesOnce([]);
      expect(r.code).toBe(2);
      for (const c of ['server', 'key', 'policy', 'identity', 'ls', 'status', 'metric', 'log', 'migrate', 'completion'])
        expect(r.stderr).toContain(`kes ${c}`);
    });

    it('an unknown command suggests the nearest one (exit 2)', async () => {
      expect((await runKesOnce(['stauts'])).stderr.split('\n')[0]).toBe("Error: unknown command 'stauts' (did you mean 'status'?)");
      const sub = await runKesOnce(['key', 'craete', 'x']);
      expect(sub.code).toBe(2);
      expect(sub.stderr.split('\n')[0]).toBe("Error: unknown command 'craete' (did you mean 'create'?)");
      expect((await runKesOnce(['key'])).code).toBe(2);
    });

    it('a port out of range for kes server is a usage error, not a bug report', async () => {
      for (const args of [
        ['server', '--dev', '--port', '99999'],
        ['server', '--dev', '--addr', '127.0.0.1:99999'],
      ]) {
        const r = await runKesOnce(args);
        expect(r.code).toBe(2);
        expect(r.stderr).not.toContain('This is a bug');
        expect(r.stderr.split('\n')).toHaveLength(3);
      }
    });

    it('shell completion', async () => {
      const script = await runKesOnce(['completion'], { SHELL: '/bin/bash' });
      expect(script.code).toBe(0);
      expect(script.stdout).toContain('complete -o bashdefault -o default -F _kes_yargs_completions kes');
      const words = await runKesOnce(['--get-yargs-completions', 'key', '']);
      expect(words.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'import', 'info', 'ls', 'rm', 'encrypt', 'decrypt', 'dek']));
    });

    it('--version', async () => {
      const r = await runKesOnce(['--version']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
    });
  });

  describe('kes identity new / of (files)', () => {
    it('repeated --ip/--dns take one value each: the positional is the subject', async () => {
      const key = join(dir, 'srv.key');
      const cert = join(dir, 'srv.crt');
      const r = await runKesOnce([
        'identity',
        'new',
        '--key',
        key,
        '--cert',
        cert,
        '--ip',
        '127.0.0.1',
        '--dns',
        'localhost',
        '--dns',
        'kes.local',
        'localhost',
      ]);
      expect(r.code).toBe(0);
      const x = new X509Certificate(readFileSync(cert));
      expect(x.subject).toBe('CN=localhost');
      expect(x.issuer).toBe('CN=localhost');
      expect(x.subjectAltName).toBe('DNS:localhost, DNS:kes.local, IP Address:127.0.0.1');
      expect(r.stdout.trim()).toBe(identityOfCertificate(readFileSync(cert, 'utf8')));
    });

    it('of an Ed25519 private key file: the identity only, the API key with --api-key', async () => {
      const key = join(dir, 'admin.key');
      expect((await runKesOnce(['identity', 'of', key])).stdout).toBe(`${admin.identity}\n`);
      expect(JSON.parse((await runKesOnce(['identity', 'of', key, '--api-key', '--json'])).stdout)).toEqual({
        api_key: admin.toString(),
        identity: admin.identity,
      });
    });
  });
});

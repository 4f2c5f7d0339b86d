// `kes identity new` and `kes identity of`, run in-process through main().
import { linkSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, identityOfCertificate } from '@kes/core';
import { main } from '@kes/cli';
import { testContext } from './helpers/context.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-cli-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], tty = false) {
  const t = testContext({ tty });
  const code = await main(args, t.ctx);
  return { code, stdout: t.stdout(), stderr: t.stderr() };
}

describe('kes identity new', () => {
  it('writes a 0600 private key and a self-signed certificate with the requested SANs', async () => {
    const key = join(dir, 'a.key');
    const cert = join(dir, 'a.cert');
    const r = await run(['identity', 'new', '--key', key, '--cert', cert, '--ip', '127.0.0.1', '--dns', 'localhost', '--expiry', '48h', 'my-server']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const x = new X509Certificate(readFileSync(cert));
    expect(x.subject).toContain('CN=my-server');
    expect(x.subjectAltName).toContain('DNS:localhost');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    const days = (Date.parse(x.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(1.9);
    expect(days).toBeLessThan(2.1);
    // Not a TTY: just the identity, which matches the certificate and the key.
    const identity = r.stdout.trim();
    expect(identity).toBe(identityOfCertificate(readFileSync(cert, 'utf8')));
    expect(ApiKey.fromPrivateKey(readFileSync(key, 'utf8')).identity).toBe(identity);
  });

  it('refuses to overwrite without --force and leaves the files alone', async () => {
    const key = join(dir, 'b.key');
    const cert = join(dir, 'b.cert');
    expect((await run(['identity', 'new', '--key', key, '--cert', cert])).code).toBe(0);
    const before = readFileSync(key, 'utf8');
    const r = await run(['identity', 'new', '--key', key, '--cert', cert]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: refusing to overwrite '${key}': it already exists (use --force to replace it)\n`);
    expect(readFileSync(key, 'utf8')).toBe(before);
    const forced = await run(['identity', 'new', '--key', key, '--cert', cert, '-f']);
    expect(forced.code).toBe(0);
    expect(readFileSync(key, 'utf8')).not.toBe(before);
    expect(statSync(key).mode & 0o777).toBe(0o600);
  });

  it('--force replaces a symlink at the key path itself and leaves its target untouched', async () => {
    const target = join(dir, 'victim.txt');
    writeFileSync(target, 'do not touch', { mode: 0o644 });
    const key = join(dir, 'link.key');
    const cert = join(dir, 'link.cert');
    symlinkSync(target, key);
    const r = await run(['identity', 'new', '--key', key, '--cert', cert, '--force']);
    expect(r.code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('do not touch');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    const st = lstatSync(key);
    expect(st.isFile()).toBe(true); // a regular file now, not the symlink
    expect(st.mode & 0o777).toBe(0o600);
    expect(ApiKey.fromPrivateKey(readFileSync(key, 'utf8')).identity).toBe(r.stdout.trim());
    // No temp file is left behind.
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('--force never writes the new private key into the old (0644, hard-linked) file', async () => {
    const key = join(dir, 'old.key');
    const cert = join(dir, 'old.cert');
    writeFileSync(key, 'old world-readable key', { mode: 0o644 });
    const other = join(dir, 'old-key-elsewhere');
    linkSync(key, other); // a second name for the same inode, e.g. a backup someone can read
    const before = statSync(key).ino;
    const r = await run(['identity', 'new', '--key', key, '--cert', cert, '--force']);
    expect(r.code).toBe(0);
    expect(readFileSync(other, 'utf8')).toBe('old world-readable key');
    expect(statSync(key).ino).not.toBe(before); // a fresh file, 0600 from its creation
    expect(statSync(key).mode & 0o777).toBe(0o600);
  });

  it('without --force refuses a symlink at the key path, also a dangling one', async () => {
    const cert = join(dir, 'd.cert');
    writeFileSync(join(dir, 'victim2.txt'), 'do not touch');
    for (const target of [join(dir, 'does-not-exist'), join(dir, 'victim2.txt')]) {
      const key = join(dir, `d-${target.endsWith('exist') ? 'dangling' : 'live'}.key`);
      symlinkSync(target, key);
      const r = await run(['identity', 'new', '--key', key, '--cert', cert]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Error: refusing to overwrite '${key}': it already exists (use --force to replace it)\n`);
      expect(readlinkSync(key)).toBe(target);
    }
    expect(() => statSync(join(dir, 'does-not-exist'))).toThrow();
    expect(readFileSync(join(dir, 'victim2.txt'), 'utf8')).toBe('do not touch');
    expect(() => statSync(cert)).toThrow();
  });

  it('--api-key: the files hold the key pair of that API key, so their identity is the same', async () => {
    const k = ApiKey.generate();
    const key = join(dir, 'from-api-key.key');
    const cert = join(dir, 'from-api-key.cert');
    const r = await run(['identity', 'new', '--api-key', k.toString(), '--key', key, '--cert', cert]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${k.identity}\n`);
    expect(identityOfCertificate(readFileSync(cert, 'utf8'))).toBe(k.identity);
    expect(ApiKey.fromPrivateKey(readFileSync(key, 'utf8')).toString()).toBe(k.toString());
    expect(statSync(key).mode & 0o777).toBe(0o600);
  });

  it('each --ip/--dns takes one value: a word after them is the subject', async () => {
    const key = join(dir, 'sub.key');
    const cert = join(dir, 'sub.cert');
    const r = await run(['identity', 'new', '--key', key, '--cert', cert, '--ip', '127.0.0.1', '--ip', '::1', '--dns', 'localhost', 'localhost']);
    expect(r.code).toBe(0);
    const x = new X509Certificate(readFileSync(cert));
    expect(x.subject).toBe('CN=localhost');
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    const two = await run([
      'identity',
      'new',
      '--key',
      join(dir, 'two.key'),
      '--cert',
      join(dir, 'two.cert'),
      '--ip',
      '127.0.0.1',
      'localhost',
      'extra',
    ]);
    expect(two.code).toBe(2);
    expect(two.stderr.split('\n')[0]).toBe('Error: Unknown argument: extra');
  });

  it('prints --json', async () => {
    const key = join(dir, 'c.key');
    const cert = join(dir, 'c.cert');
    const r = await run(['identity', 'new', '--key', key, '--cert', cert, '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ identity: identityOfCertificate(readFileSync(cert, 'utf8')), private_key: key, certificate: cert });
  });

  it('without --key/--cert prints a new API key and its identity', async () => {
    const r = await run(['identity', 'new', '--json']);
    const { api_key, identity } = JSON.parse(r.stdout) as { api_key: string; identity: string };
    expect(api_key).toMatch(/^kes:v1:/);
    expect(ApiKey.parse(api_key).identity).toBe(identity);
    const text = await run(['identity', 'new'], true);
    expect(text.stdout).toMatch(/^Your API key:\n\n {3}kes:v1:\S+\n\nThis is the only time it is shown/);
  });

  it('usage errors exit 2', async () => {
    const r = await run(['identity', 'new', '--key', join(dir, 'x.key')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("Error: --key and --cert must be given together\nRun 'kes --help' (or 'kes <command> --help') for usage.\n");
    const ip = await run(['identity', 'new', '--ip', '1.2.3.4']);
    expect(ip.code).toBe(2);
    expect(ip.stderr.split('\n')[0]).toBe('Error: --ip need --key and --cert');
    const unknown = await run(['identity', 'new', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe('Error: Unknown argument: bogus');
    const none = await run(['identity']);
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe("Error: 'kes identity' needs a subcommand: new, of, info or ls");
    const apiKeyAlone = await run(['identity', 'new', '--api-key', ApiKey.generate().toString()]);
    expect(apiKeyAlone.code).toBe(2);
    expect(apiKeyAlone.stderr.split('\n')[0]).toBe('Error: --api-key need --key and --cert');
    const badKey = await run(['identity', 'new', '--api-key', 'kes:v1:AAAA', '--key', join(dir, 'y.key'), '--cert', join(dir, 'y.cert')]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr.split('\n')[0]).toBe('Error: --api-key: invalid API key: invalid length');
  });
});

describe('kes identity of', () => {
  it('of an API key (with and without the kes:v1: prefix)', async () => {
    const k = ApiKey.generate();
    expect((await run(['identity', 'of', k.toString()])).stdout).toBe(`${k.identity}\n`);
    expect((await run(['identity', 'of', k.toString().slice('kes:v1:'.length)])).stdout).toBe(`${k.identity}\n`);
    expect((await run(['identity', 'of', k.toString(), '--json'])).stdout).toBe(`${JSON.stringify({ identity: k.identity })}\n`);
    expect((await run(['identity', 'of', k.toString()], true)).stdout).toBe(`Identity: ${k.identity}\n`);
  });

  it('of a certificate file', async () => {
    const k = ApiKey.generate();
    const { certificatePem } = k.createCertificate();
    const f = join(dir, 'client.cert');
    writeFileSync(f, certificatePem);
    expect((await run(['identity', 'of', f])).stdout).toBe(`${k.identity}\n`);
  });

  it('of an Ed25519 private key file: the identity; its API key only with --api-key', async () => {
    const k = ApiKey.generate();
    const f = join(dir, 'client.key');
    writeFileSync(f, k.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect((await run(['identity', 'of', f])).stdout).toBe(`${k.identity}\n`);
    expect(JSON.parse((await run(['identity', 'of', f, '--json'])).stdout)).toEqual({ identity: k.identity });
    const r = await run(['identity', 'of', f, '--api-key', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ api_key: k.toString(), identity: k.identity });
    expect((await run(['identity', 'of', f, '--api-key'])).stdout).toBe(`API key:  ${k.toString()}\nIdentity: ${k.identity}\n`);
  });

  it('errors', async () => {
    const bad = await run(['identity', 'of', 'kes:v1:AAAA']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('Error: invalid API key: invalid length\n');
    const missing = await run(['identity', 'of', join(dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`Error: '${join(dir, 'nope')}' is neither an API key nor an existing file\n`);
    const secretish = ApiKey.generate().toString().slice('kes:v1:'.length, -4);
    const notEchoed = await run(['identity', 'of', secretish]);
    expect(notEchoed.stderr).toBe('Error: the argument is neither an API key nor an existing file\n');
    const txt = join(dir, 'plain.txt');
    writeFileSync(txt, 'hello');
    expect((await run(['identity', 'of', txt])).stderr).toBe(
      `Error: '${txt}' contains no PEM block (expected a CERTIFICATE or an Ed25519 PRIVATE KEY)\n`,
    );
  });
});

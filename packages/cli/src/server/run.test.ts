import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { UsageError } from '../internal/usage-error.js';
import { testContext } from '../../test/helpers/context.js';
import { resolveListenAddress } from './listen-address.js';
import { runServer } from './run.js';

/** A temp directory holding a throw-away server certificate `c.pem` and key `k.pem` for 127.0.0.1. */
function tempDirWithServerCertificate(): string {
  const d = mkdtempSync(join(tmpdir(), 'kes-run-'));
  const c = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(d, 'c.pem'), c.certificatePem);
  writeFileSync(join(d, 'k.pem'), c.privateKeyPem);
  return d;
}

describe('resolveListenAddress', () => {
  it('combines --addr, --port and the file address', () => {
    expect(resolveListenAddress({}, undefined, '0.0.0.0')).toBe('0.0.0.0:7373');
    expect(resolveListenAddress({ port: 9000 }, undefined, '0.0.0.0')).toBe('0.0.0.0:9000');
    expect(resolveListenAddress({ port: 9000 }, '127.0.0.1:7000', '0.0.0.0')).toBe('127.0.0.1:9000');
    expect(resolveListenAddress({ addr: '127.0.0.1' }, ':7000', '0.0.0.0')).toBe('127.0.0.1:7000');
    expect(resolveListenAddress({ addr: ':8000' }, '127.0.0.1:7000', '0.0.0.0')).toBe(':8000');
    expect(resolveListenAddress({ addr: '[::1]:8000', port: 8000 }, undefined, '0.0.0.0')).toBe('[::1]:8000');
    expect(resolveListenAddress({ addr: '::1' }, undefined, '0.0.0.0')).toBe('[::1]:7373');
  });

  it('reports conflicts and bad hosts as usage errors', () => {
    expect(() => resolveListenAddress({ addr: '127.0.0.1:1', port: 2 }, undefined, '')).toThrow(
      new UsageError('conflicting ports: --addr 127.0.0.1:1 and --port 2 (give the port once)'),
    );
    expect(() => resolveListenAddress({ addr: 'localhost:1' }, undefined, '')).toThrow(
      new UsageError("listen address: host 'localhost' must be an IP address or empty (host names are not allowed)"),
    );
  });
});

describe('runServer in-process', () => {
  it('prints the text banner on a terminal, with the dev API key and export line', async () => {
    const t = testContext({ tty: true });
    const running = await runServer({ dev: true, port: 0 }, t.ctx);
    try {
      const out = t.stdout();
      const key = /API key\s+(kes:v1:\S+)/.exec(out)?.[1] ?? '';
      const identity = ApiKey.parse(key).identity;
      expect(out).toContain('KES server started');
      expect(out).toContain(`Address    https://127.0.0.1:${running.port}`);
      expect(out).toContain(`Admin      ${identity}`);
      expect(out).toContain('Key store  In Memory (keys are NOT persisted)');
      expect(out).toContain('Policies   0');
      expect(out).toContain('Patterns   prefix (kes ≥ v0.23: a trailing * matches any suffix)');
      expect(out).toContain('TLS        mTLS: any client certificate');
      expect(out).toContain(`  export KES_SERVER=https://127.0.0.1:${running.port} KES_API_KEY=${key}\n`);
      // The key is printed once.
      expect(out.split(key).length - 1).toBe(2);
    } finally {
      await running.stop();
    }
  });

  it('shows a disabled admin as <disabled>', async () => {
    const t = testContext({ tty: true });
    const d = tempDirWithServerCertificate();
    const running = await runServer({ cert: join(d, 'c.pem'), key: join(d, 'k.pem'), root: 'disabled', addr: '127.0.0.1:0' }, t.ctx);
    try {
      expect(t.stdout()).toContain('Admin      <disabled>');
      expect(t.stderr()).toContain('WARNING: no config file, so no key store: using the IN-MEMORY key store.');
    } finally {
      await running.stop();
    }
  });

  it('says at start which policy-pattern semantics the config uses', async () => {
    const d = tempDirWithServerCertificate();
    const tls = `tls: {key: ${join(d, 'k.pem')}, cert: ${join(d, 'c.pem')}}`;
    const admin = 'a'.repeat(64);
    // A current file that still carries a field of upstream's sample configs (cache.expiry.all): prefix.
    writeFileSync(
      join(d, 'current.yml'),
      ['address: 127.0.0.1:0', `admin: {identity: ${admin}}`, tls, 'cache: {expiry: {all: 5m}}', 'keystore: {memory: {}}', ''].join('\n'),
    );
    // A v0.14 file (root, policy paths): glob, with the markers named.
    writeFileSync(
      join(d, 'old.yml'),
      ['address: 127.0.0.1:0', `root: ${admin}`, tls, 'policy: {p: {paths: [/v1/key/*/k]}}', 'keystore: {memory: {}}', ''].join('\n'),
    );

    const text = testContext({ tty: true });
    const current = await runServer({ config: join(d, 'current.yml') }, text.ctx);
    try {
      expect(text.stdout()).toContain('Patterns   prefix (kes ≥ v0.23: a trailing * matches any suffix)\n');
    } finally {
      await current.stop();
    }
    const json = testContext({ tty: false });
    const old = await runServer({ config: join(d, 'old.yml') }, json.ctx);
    try {
      const rec = JSON.parse(
        json
          .stdout()
          .split('\n')
          .find((l) => l.includes('"server started"')) ?? '{}',
      ) as Record<string, unknown>;
      expect(rec.policy_patterns).toBe('glob (kes v0.x config: root, policy.p.paths; * ? [..] match within one path segment)');
    } finally {
      await old.stop();
    }
  });
});

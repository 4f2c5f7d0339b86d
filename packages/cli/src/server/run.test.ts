import { describe, expect, it } from 'vitest';
import { ApiKey } from '@kes/core';
import { UsageError } from '../internal/usage-error.js';
import { testContext } from '../../test/helpers/context.js';
import { resolveListenAddress, runServer } from './run.js';

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
    expect(() => resolveListenAddress({ addr: '127.0.0.1:1', port: 2 }, undefined, '')).toThrow(new UsageError('conflicting ports: --addr 127.0.0.1:1 and --port 2 (give the port once)'));
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
    const { createSelfSignedCertificate } = await import('@kes/core');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const d = mkdtempSync(join(tmpdir(), 'kes-run-'));
    const c = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(d, 'c.pem'), c.certificatePem);
    writeFileSync(join(d, 'k.pem'), c.privateKeyPem);
    const running = await runServer({ cert: join(d, 'c.pem'), key: join(d, 'k.pem'), root: 'disabled', addr: '127.0.0.1:0' }, t.ctx);
    try {
      expect(t.stdout()).toContain('Admin      <disabled>');
      expect(t.stderr()).toContain('WARNING: no key store is configured: using the IN-MEMORY key store.');
    } finally {
      await running.stop();
    }
  });
});

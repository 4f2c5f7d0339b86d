import { describe, expect, it } from 'vitest';
import { ApiKey } from '@kes/core';
import { CliFailure } from '../internal/failure.js';
import { UsageError } from '../internal/usage-error.js';
import { parseEndpoint, resolveClientSettings } from './settings.js';

// Generated per run: no private key is committed.
const KEY = ApiKey.generate().toString();

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('endpoints', () => {
  it('adds https://, drops http://, keeps ports and IPv6 brackets', () => {
    expect(parseEndpoint('127.0.0.1:7373', 'x')).toBe('https://127.0.0.1:7373');
    expect(parseEndpoint('http://kes.local:7373', 'x')).toBe('https://kes.local:7373');
    expect(parseEndpoint(' https://kes.local:7373/ ', 'x')).toBe('https://kes.local:7373');
    expect(parseEndpoint('[::1]:7373', 'x')).toBe('https://[::1]:7373');
    expect(parseEndpoint('kes.example.com', 'x')).toBe('https://kes.example.com');
  });

  it('a port out of range is a usage error naming where the address came from', () => {
    const e = thrown(() => parseEndpoint('127.0.0.1:99999', 'KES_SERVER'));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("KES_SERVER: port '99999' of '127.0.0.1:99999' is out of range (1–65535)");
    expect(thrown(() => parseEndpoint('127.0.0.1:0', '--server')).message).toBe("--server: port '0' of '127.0.0.1:0' is out of range (1–65535)");
    expect(thrown(() => parseEndpoint('a b', '--server')).message).toBe(
      "--server: 'a b' is not a server address (expected HOST[:PORT], e.g. 127.0.0.1:7373)",
    );
  });
});

describe('resolveClientSettings', () => {
  it('reads the environment in upstream order: MINIO_KES_SERVER, KES_SERVER, MINIO_KMS_KES_ENDPOINT', () => {
    const env = { MINIO_KMS_KES_ENDPOINT: 'c:3', KES_SERVER: 'b:2', MINIO_KES_SERVER: 'a:1', KES_API_KEY: KEY };
    expect(resolveClientSettings({}, env).endpoints).toEqual(['https://a:1']);
    expect(resolveClientSettings({}, { ...env, MINIO_KES_SERVER: undefined }).endpoints).toEqual(['https://b:2']);
    expect(resolveClientSettings({}, { MINIO_KMS_KES_ENDPOINT: 'c:3', KES_API_KEY: KEY }).endpoints).toEqual(['https://c:3']);
    expect(resolveClientSettings({ server: 'd:4' }, env)).toMatchObject({ endpoints: ['https://d:4'], endpointSource: '--server' });
    expect(resolveClientSettings({}, { KES_API_KEY: KEY })).toMatchObject({ endpoints: ['https://127.0.0.1:7373'], endpointSource: 'default' });
    expect(resolveClientSettings({}, { KES_SERVER: 'a:1, b:2,', KES_API_KEY: KEY }).endpoints).toEqual(['https://a:1', 'https://b:2']);
  });

  it('the first variable that is set wins, even when empty (as upstream)', () => {
    const e = thrown(() => resolveClientSettings({}, { MINIO_KES_API_KEY: '', KES_API_KEY: KEY }));
    expect(e).toBeInstanceOf(CliFailure);
    expect(e.message).toMatch(/^no credentials: set KES_API_KEY/);
  });

  it('API key from MINIO_KES_API_KEY, KES_API_KEY, MINIO_KMS_KES_API_KEY; --api-key wins', () => {
    expect(resolveClientSettings({}, { MINIO_KMS_KES_API_KEY: KEY }).credentials).toEqual({
      kind: 'api-key',
      apiKey: KEY,
      source: 'MINIO_KMS_KES_API_KEY',
    });
    expect(resolveClientSettings({}, { KES_API_KEY: KEY, MINIO_KES_API_KEY: `${KEY} ` }).credentials.source).toBe('MINIO_KES_API_KEY');
    expect(resolveClientSettings({ apiKey: KEY }, { KES_CLIENT_CERT: 'c', KES_CLIENT_KEY: 'k' }).credentials.source).toBe('--api-key');
  });

  it('certificate and key files, including the MINIO_KES_*_FILE forms', () => {
    expect(resolveClientSettings({}, { KES_CLIENT_CERT: 'c.pem', KES_CLIENT_KEY: 'k.pem' }).credentials).toEqual({
      kind: 'certificate',
      certFile: 'c.pem',
      keyFile: 'k.pem',
      source: 'KES_CLIENT_CERT',
    });
    expect(
      resolveClientSettings({}, { MINIO_KES_CERT_FILE: 'c1', KES_CLIENT_CERT: 'c2', MINIO_KES_KEY_FILE: 'k1', MINIO_KES_CLIENT_KEY: 'k3' })
        .credentials,
    ).toMatchObject({ certFile: 'c1', keyFile: 'k1' });
    expect(resolveClientSettings({ clientCert: 'fc', clientKey: 'fk' }, { KES_API_KEY: KEY }).credentials).toMatchObject({
      certFile: 'fc',
      keyFile: 'fk',
    });
  });

  it('one credential kind only; half a key pair is an error', () => {
    const mixed = thrown(() => resolveClientSettings({}, { KES_API_KEY: KEY, KES_CLIENT_CERT: 'c', KES_CLIENT_KEY: 'k' }));
    expect(mixed).toBeInstanceOf(CliFailure);
    expect(mixed.message).toBe('KES_API_KEY and KES_CLIENT_CERT are both set: use an API key or a client certificate and key, not both');
    const flags = thrown(() => resolveClientSettings({ apiKey: KEY, clientKey: 'k' }, {}));
    expect(flags).toBeInstanceOf(UsageError);
    expect(flags.message).toBe('--api-key and --client-key are both set: use an API key or a client certificate and key, not both');
    expect(thrown(() => resolveClientSettings({}, { KES_CLIENT_CERT: 'c' })).message).toBe(
      'KES_CLIENT_CERT is set but no client key is (--client-key or KES_CLIENT_KEY)',
    );
    expect(thrown(() => resolveClientSettings({ clientKey: 'k' }, {})).message).toBe(
      '--client-key is set but no client certificate is (--client-cert or KES_CLIENT_CERT)',
    );
  });

  it('--ca and --insecure', () => {
    expect(resolveClientSettings({ ca: 'ca.pem', insecure: true }, { KES_API_KEY: KEY })).toMatchObject({ caFile: 'ca.pem', insecure: true });
    expect(resolveClientSettings({}, { KES_API_KEY: KEY })).toMatchObject({ insecure: false });
  });
});

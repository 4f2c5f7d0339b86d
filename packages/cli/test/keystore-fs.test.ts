// `keystore.fs` in the config file: `path`, and `versions_path` (kes-ts: where the records
// of rotated keys live), their resolution against the config directory and their messages.
import { describe, expect, it } from 'vitest';
import { isConfigError, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';

const ADMIN = 'a'.repeat(64);
const HEAD = [`admin: {identity: ${ADMIN}}`, 'tls: {key: k.pem, cert: c.pem}', 'keystore:', '  fs:'];

function parse(lines: string[]) {
  return parseConfigText([...HEAD, ...lines.map((l) => `    ${l}`), ''].join('\n'), { file: 'kes.yml', env: {}, baseDir: '/etc/kes' });
}

function problems(lines: string[]): readonly string[] {
  try {
    parse(lines);
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    return (e as ConfigError).problems;
  }
  throw new Error('the config loaded');
}

describe('keystore.fs: config section', () => {
  it('path alone: the store defaults the versions directory to <path>.versions', async () => {
    const c = parse(['path: keys']);
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: '/etc/kes/keys' } });
    const store = await openKeyStore(c);
    expect(store.versions?.location).toBe('fs:/etc/kes/keys.versions');
    await store.close();
  });

  it('versions_path is resolved against the config directory like path', async () => {
    const c = parse(['path: keys', 'versions_path: ../kes-records']);
    expect(c.keyStore).toEqual({ type: 'fs', options: { path: '/etc/kes/keys', versionsPath: '/etc/kes/../kes-records' } });
    const store = await openKeyStore(c);
    expect(store.versions?.location).toBe('fs:/etc/kes-records');
    await store.close();
    expect(parse(['path: /var/kes/keys', 'versions_path: /var/kes/versions']).keyStore).toEqual({
      type: 'fs',
      options: { path: '/var/kes/keys', versionsPath: '/var/kes/versions' },
    });
    // Empty means "not set", as for the other optional fields.
    expect(parse(['path: keys', 'versions_path: ""']).keyStore).toEqual({ type: 'fs', options: { path: '/etc/kes/keys' } });
  });

  it.each([
    [
      ['path: keys', 'versions_path: keys'],
      ["kes.yml:6: keystore.fs.versions_path: must be outside the key directory 'path' (upstream KES lists every entry in it)"],
    ],
    [
      ['path: keys', 'versions_path: keys/v'],
      ["kes.yml:6: keystore.fs.versions_path: must be outside the key directory 'path' (upstream KES lists every entry in it)"],
    ],
    [
      ['path: /k/keys', 'versions_path: /k/keys/'],
      ["kes.yml:6: keystore.fs.versions_path: must be outside the key directory 'path' (upstream KES lists every entry in it)"],
    ],
    [['path: keys', 'versions_path: .'], ["kes.yml:6: keystore.fs.versions_path: must not contain the key directory 'path'"]],
    [['path: /k/keys', 'versions_path: /'], ["kes.yml:6: keystore.fs.versions_path: must not contain the key directory 'path'"]],
    [['versions_path: /v'], ['kes.yml:4: keystore.fs.path: is required']],
    [['path: keys', 'versions_path: [a]'], ['kes.yml:6: keystore.fs.versions_path: must be a string']],
  ])('%j → %j', (lines, expected) => {
    expect(problems(lines)).toEqual(expected);
  });

  it('unknown fields are errors with a hint', () => {
    expect(problems(['path: keys', 'version_path: v'])).toEqual([
      "kes.yml:6: keystore.fs.version_path: unknown field 'version_path' (did you mean 'versions_path'?)",
    ]);
  });
});

// Broken config files: every problem is reported at once, as `file:line: path: message`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';

const dir = new URL('./fixtures/configs/broken/', import.meta.url).pathname;

async function problemsOf(p: Promise<unknown>): Promise<readonly string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isConfigError(err)).toBe(true);
  expect((err as ConfigError).code).toBe('ERR_KES_INVALID_CONFIG');
  expect((err as ConfigError).message).toBe((err as ConfigError).problems.join('\n'));
  return (err as ConfigError).problems;
}

describe('broken config files', () => {
  it('lists every problem of many-problems.yml with its line', async () => {
    const f = `${dir}many-problems.yml`;
    expect(await problemsOf(loadConfigFile(f, { env: {} }))).toEqual([
      `${f}:1: version: unsupported config version 'v2': only 'v1' is supported`,
      `${f}:2: address: host 'localhost' must be an IP address or empty (host names are not allowed)`,
      `${f}:4: admin.identity: must not be empty`,
      `${f}:5: tls.key: is required`,
      `${f}:7: tls.auth: must be 'on' or 'off', not 'maybe'`,
      `${f}:10: cache.expiry.any: '5 minutes' is not a duration (use e.g. 30s, 5m, 1h30m)`,
      `${f}:11: cache.expiry.unused: must not be negative`,
      `${f}:13: log.error: 'LOUD' is not a log level (on, off, DEBUG, INFO, WARN, ERROR, LEVEL+N or a number)`,
      `${f}:16: api["/v1/status"].timeout: '17' is not a duration (use e.g. 30s, 5m, 1h30m)`,
      `${f}:18: policy["bad name!"]: invalid policy name: use 1–80 letters, digits, _ or - (not first or last)`,
      `${f}:19: policy["bad name!"].allow: must be a list`,
      `${f}:25: policy.third.identities[0]: identity is already assigned to policy 'other'`,
      `${f}:28: keys[1].name: duplicate key 'a'`,
      `${f}:29: keystore: more than one key store is configured (fs, vault): keep exactly one`,
    ]);
  });

  it('names every unset environment variable', async () => {
    const f = `${dir}unset-env.yml`;
    expect(await problemsOf(loadConfigFile(f, { env: {} }))).toEqual([
      `${f}:2: admin.identity: environment variable 'KES_TEST_UNSET_ADMIN' is not set`,
      `${f}:5: tls.cert: environment variable 'KES_TEST_UNSET_CERT' is not set`,
    ]);
  });

  it('an empty variable is an empty value (then a required field complains)', () => {
    expect(() => parseConfigText('admin: {identity: "${A}"}\ntls: {key: k, cert: c}\n', { file: 'f.yml', env: { A: '' } })).toThrow(
      'f.yml:1: admin.identity: must not be empty',
    );
  });

  it('YAML syntax errors carry the line', async () => {
    const f = `${dir}bad-yaml.yml`;
    expect(await problemsOf(loadConfigFile(f, { env: {} }))).toEqual([`${f}:5: invalid YAML: missed comma between flow collection entries`]);
  });

  it('two key stores', async () => {
    const f = `${dir}two-keystores.yml`;
    expect(await problemsOf(loadConfigFile(f, { env: {} }))).toEqual([
      `${f}:8: keystore: more than one key store is configured (fs, vault): keep exactly one`,
    ]);
  });

  it('a missing file', async () => {
    expect(await problemsOf(loadConfigFile(`${dir}nope.yml`, { env: {} }))).toEqual([`${dir}nope.yml: cannot read config file: no such file`]);
  });

  it('TOML files (kes v0.1–v0.7) are refused with a hint', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'kes-toml-')), 'kes.toml');
    writeFileSync(f, 'root = "x"\n');
    expect(await problemsOf(loadConfigFile(f, { env: {} }))).toEqual([
      `${f}: TOML config files (kes v0.1–v0.7) are not supported: convert the file to YAML`,
    ]);
  });

  it('key-store and policy value rules', () => {
    const text = [
      'admin: {identity: ' + 'a'.repeat(64) + '}',
      'tls: {key: k, cert: c}',
      'policy:',
      '  p:',
      '    identities: [' + 'a'.repeat(64) + ', "not valid!"]',
      'keystore:',
      '  vault:',
      '    endpoint: https://v',
      '    version: v3',
      '    approle: {id: x}',
      '    kubernetes: {jwt: y}',
    ].join('\n');
    let err: unknown;
    try {
      parseConfigText(text, { file: 'v.yml' });
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).problems).toEqual([
      'v.yml:5: policy.p.identities[0]: the admin identity must not be assigned to a policy',
      "v.yml:5: policy.p.identities[1]: invalid identity 'not valid!'",
      'v.yml:7: keystore.vault: only one authentication method may be configured, found: approle, kubernetes',
      "v.yml:9: keystore.vault.version: must be 'v1' or 'v2', not 'v3'",
      'v.yml:10: keystore.vault.approle.secret: is required',
    ]);
  });
});

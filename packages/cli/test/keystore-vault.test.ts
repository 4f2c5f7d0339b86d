// `keystore.vault` in the config file: the kes-ts fields `versions_prefix` and
// `versions_engine` (where the records of rotated keys live), their defaults as the store
// applies them, and the exact messages for places that would collide with the keys.
import { describe, expect, it } from 'vitest';
import { isConfigError, openKeyStore, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';

const ADMIN = 'a'.repeat(64);
const HEAD = [
  `admin: {identity: ${ADMIN}}`,
  'tls: {key: k.pem, cert: c.pem}',
  'keystore:',
  '  vault:',
  '    endpoint: http://127.0.0.1:8200',
  '    token: t',
];

function parse(lines: string[]) {
  return parseConfigText([...HEAD, ...lines.map((l) => `    ${l}`), ''].join('\n'), { file: 'kes.yml', env: {} });
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

/** Where the opened store keeps its version records (`undefined`: it has none). */
async function location(lines: string[]): Promise<string | undefined> {
  const store = await openKeyStore(parse(lines));
  try {
    return store.versions?.location;
  } finally {
    await store.close();
  }
}

describe('keystore.vault: version-record fields', () => {
  it('are passed to the store options when set, and left out when empty', () => {
    expect(parse(['prefix: kes', 'versions_prefix: kes-records', 'versions_engine: kv-records']).keyStore).toEqual({
      type: 'vault',
      options: { endpoint: 'http://127.0.0.1:8200', token: 't', prefix: 'kes', versionsPrefix: 'kes-records', versionsEngine: 'kv-records' },
    });
    expect(parse(['prefix: kes', 'versions_prefix: ""', 'versions_engine: ""']).keyStore).toEqual({
      type: 'vault',
      options: { endpoint: 'http://127.0.0.1:8200', token: 't', prefix: 'kes' },
    });
  });

  it('default to <prefix>.versions in the key engine; none with an empty prefix unless set', async () => {
    const at = (w: string): string => `vault:http://127.0.0.1:8200 ${w} (kv v1)`;
    expect(await location(['prefix: kes'])).toBe(at('kv/kes.versions'));
    expect(await location(['engine: secret', 'prefix: team/kes'])).toBe(at('secret/team/kes.versions'));
    expect(await location([])).toBeUndefined();
    expect(await location(['versions_prefix: kes.versions'])).toBe(at('kv/kes.versions'));
    expect(await location(['versions_engine: kes-versions'])).toBe(at('kes-versions'));
    expect(await location(['prefix: kes', 'versions_engine: other', 'versions_prefix: kes'])).toBe(at('other/kes'));
  });

  it.each([
    [
      ['prefix: kes', 'versions_prefix: kes'],
      [
        "kes.yml:8: keystore.vault.versions_prefix: must not be the key prefix 'kes' or lie inside it: the version records would show up in key listings",
      ],
    ],
    [
      ['prefix: /kes/', 'versions_prefix: kes/versions'],
      [
        "kes.yml:8: keystore.vault.versions_prefix: must not be the key prefix 'kes' or lie inside it: the version records would show up in key listings",
      ],
    ],
    [
      ['versions_prefix: /'],
      [
        "kes.yml:7: keystore.vault.versions_prefix: must not be the key prefix '' or lie inside it: the version records would show up in key listings",
      ],
    ],
    [
      ['prefix: a/b', 'versions_prefix: a'],
      ["kes.yml:8: keystore.vault.versions_prefix: must not contain the key prefix 'a/b': a version record could take the place of a key"],
    ],
    [
      ['engine: kv', 'prefix: kes', 'versions_engine: kv/records'],
      ["kes.yml:9: keystore.vault.versions_engine: must be the key engine or another mount, not a path inside or around 'kv'"],
    ],
    [
      ['engine: team/kv', 'versions_engine: team'],
      ["kes.yml:8: keystore.vault.versions_engine: must be the key engine or another mount, not a path inside or around 'team/kv'"],
    ],
    [['prefix: kes', 'versions_prefix: [a]'], ['kes.yml:8: keystore.vault.versions_prefix: must be a string']],
  ])('%j → %j', (lines, expected) => {
    expect(problems(lines)).toEqual(expected);
  });

  it('another engine accepts any prefix', () => {
    expect(parse(['prefix: kes', 'versions_engine: other', 'versions_prefix: kes']).keyStore).toMatchObject({
      options: { versionsEngine: 'other', versionsPrefix: 'kes' },
    });
  });

  it('unknown fields are errors with a hint', () => {
    expect(problems(['prefix: kes', 'version_prefix: v'])).toEqual([
      "kes.yml:8: keystore.vault.version_prefix: unknown field 'version_prefix' (did you mean 'versions_prefix'?)",
    ]);
  });
});

// The configuration details of issue 12: each test is named after a difference a side-by-side
// comparison with upstream KES found, and pins either upstream's behaviour or the deliberate
// difference listed in docs/compatibility.md.
import { describe, expect, it } from 'vitest';
import { isConfigError, parseConfigText } from '@kes/cli/config';
import type { ConfigError, LoadedConfig } from '@kes/cli/config';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';

const ADMIN = 'a'.repeat(64);
const MINIO = '2'.repeat(64);
const OTHER = '3'.repeat(64);
const THIRD = '4'.repeat(64);

const lines = (...l: string[]): string => `${l.join('\n')}\n`;
const base = [`admin: {identity: ${ADMIN}}`, 'tls: {key: k, cert: c}', 'keystore: {memory: {}}'];

function parse(...l: string[]): LoadedConfig {
  return parseConfigText(lines(...base, ...l), { file: 'f.yml', env: { SKIP: 'true' } });
}

function problemsOf(...l: string[]): readonly string[] {
  try {
    parse(...l);
  } catch (err) {
    expect(isConfigError(err)).toBe(true);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('YAML merge keys (<<: *anchor), as yaml.v3 applies them upstream', () => {
  const policies = [
    'policy:',
    '  minio: &common',
    '    allow: [/v1/key/generate/*, /v1/key/decrypt/*]',
    `    identities: [${MINIO}]`,
    '  other:',
    '    <<: *common',
    `    identities: [${OTHER}]`,
    '  merged-list:',
    '    <<: [*common]',
    '    deny: [/v1/key/decrypt/secret]',
    `    identities: [${THIRD}]`,
  ];

  it('a policy sharing an anchor gets every merged field; fields written beside the merge win', () => {
    const c = parse(...policies);
    expect(c.options.policies.other).toEqual({ allow: ['/v1/key/generate/*', '/v1/key/decrypt/*'], deny: [], identities: [OTHER] });
    expect(c.options.policies['merged-list']).toEqual({
      allow: ['/v1/key/generate/*', '/v1/key/decrypt/*'],
      deny: ['/v1/key/decrypt/secret'],
      identities: [THIRD],
    });
  });

  it('and the merged policy applies: the identity of the merging policy is allowed (no 403 for MinIO)', async () => {
    const c = parse(...policies);
    const handler = await createKesHandler({ ...c.options, keyStore: createMemoryKeyStore(), keys: [{ name: 'k' }], log: { error: 'off' } });
    try {
      expect((await handler.inject({ method: 'POST', path: '/v1/key/generate/k', identity: OTHER })).status).toBe(200);
      expect((await handler.inject({ method: 'POST', path: '/v1/key/decrypt/secret', identity: THIRD })).status).toBe(403);
    } finally {
      await handler.close();
    }
  });

  it('reads every merged scalar as text, then by its field (like yaml.v3 into Go fields)', () => {
    const c = parse(
      'api:',
      '  /v1/status: &probe {timeout: 1m, skip_auth: on}',
      '  /v1/ready: {<<: *probe, timeout: 2m}',
      '  /v1/metrics: {<<: *probe}',
    );
    expect(c.options.api['/v1/ready']).toEqual({ timeoutMs: 120_000, skipAuth: true });
    expect(c.options.api['/v1/metrics']).toEqual({ timeoutMs: 60_000, skipAuth: true });
  });

  it('a quoted "<<" is a plain key (here: an unknown field), as in yaml.v3', () => {
    expect(problemsOf('log:', '  "<<": {error: on}')).toEqual([`f.yml:5: log["<<"]: unknown field '<<'`]);
  });

  it('refuses recursive aliases and documents that expand past 100,000 nodes ("billion laughs")', () => {
    expect(problemsOf('policy:', '  p: &p', '    allow: [*p]')[0]).toMatch(/an alias refers to a node that contains it/);
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      laughs.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const text = lines(...base, ...laughs);
    const err = (() => {
      try {
        parseConfigText(text, { file: 'f.yml' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err.problems).toEqual(['f.yml: invalid YAML: the document expands to more than 100000 nodes (excessive aliasing)']);
  });
});

describe('cache expiry of zero', () => {
  it('0s for any and unused means the default (5m / 30s), as upstream: keys never stay cached forever by a typo', () => {
    expect(parse('cache:', '  expiry: {any: 0s, unused: 0, offline: 0s}').options.cache).toEqual({
      expiryAnyMs: 300_000,
      expiryUnusedMs: 30_000,
      expiryOfflineMs: 0,
    });
    expect(parse('cache:', '  expiry: {any: 1m, unused: 10s, offline: 1h}').options.cache).toEqual({
      expiryAnyMs: 60_000,
      expiryUnusedMs: 10_000,
      expiryOfflineMs: 3_600_000,
    });
  });
});

describe('api values upstream refuses', () => {
  it('skip_auth: "true" (quoted) and true from ${VAR} are accepted (upstream: config error)', () => {
    const c = parse('api:', '  /v1/ready: {skip_auth: "true"}', '  /v1/status: {skip_auth: "${SKIP}"}', '  /v1/metrics: {skip_auth: "false"}');
    expect(c.options.api['/v1/ready']).toEqual({ skipAuth: true });
    expect(c.options.api['/v1/status']).toEqual({ skipAuth: true });
    expect(c.options.api['/v1/metrics']).toEqual({});
  });

  it('timeout: 0 (a bare integer) is accepted and keeps the route default (upstream: config error)', () => {
    const c = parse('api:', '  /v1/key/create/: {timeout: 0}', '  /v1/status: {timeout: 0s}');
    expect(c.options.api['/v1/key/create/']).toEqual({});
    expect(c.options.api['/v1/status']).toEqual({});
    expect(problemsOf('api:', '  /v1/status: {timeout: 30}')).toEqual([
      'f.yml:5: api["/v1/status"].timeout: \'30\' is not a duration (use e.g. 30s, 5m, 1h30m)',
    ]);
  });

  it('skip_auth on /version relaxes the handshake like on any other route (as upstream)', async () => {
    const c = parse('api:', '  /version: {skip_auth: true}');
    expect(c.options.api['/version']).toEqual({ skipAuth: true });
    const handler = await createKesHandler({ ...c.options, keyStore: createMemoryKeyStore(), log: { error: 'off' } });
    try {
      expect(handler.allowsAnonymousHandshake).toBe(true);
    } finally {
      await handler.close();
    }
  });
});

// Configs that used to lose keys or change what a policy means without an error:
// no (or a misspelled) key store section, unknown fields, upstream sample-config
// fields that flipped policies to v0.x globs, and admin identities that silently
// disabled admin access. Each is now an error (or a notice without side effects).
import { describe, expect, it } from 'vitest';
import { isConfigError, loadConfigFile, parseConfigText } from '@kes/cli/config';
import type { ConfigError, ParseConfigOptions } from '@kes/cli/config';
import { ApiKey } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';

const dir = new URL('./fixtures/configs/', import.meta.url).pathname;
const ADMIN = 'a'.repeat(64);
const MINIO = '2'.repeat(64);
const NO_STORE =
  'no key store is configured: add one (e.g. keystore: {fs: {path: ./keys}}); for a throw-away store whose keys are lost on exit use `keystore: {memory: {}}` explicitly, or `kes server --dev`';

function problemsOf(text: string, options: ParseConfigOptions = {}): readonly string[] {
  try {
    parseConfigText(text, { file: 'f.yml', ...options });
  } catch (err) {
    expect(isConfigError(err)).toBe(true);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const lines = (...l: string[]): string => `${l.join('\n')}\n`;
const base = [`admin: {identity: ${ADMIN}}`, 'tls: {key: k, cert: c}'];

describe('no implicit in-memory key store', () => {
  it('a config file without a keystore section is refused, naming the fix', async () => {
    const f = `${dir}no-keystore.yml`;
    const err = await loadConfigFile(f, { env: {} }).catch((e: unknown) => e);
    expect(isConfigError(err)).toBe(true);
    expect((err as ConfigError).problems).toEqual([`${f}: keystore: ${NO_STORE}`]);
  });

  it('a misspelled section (keystor:, fss:) is refused with a hint, every problem at once', () => {
    expect(problemsOf(lines(...base, 'keystor:', '  fs: {path: /tmp/k}'))).toEqual([
      "f.yml:3: keystor: unknown field 'keystor' (did you mean 'keystore'?)",
      `f.yml: keystore: ${NO_STORE}`,
    ]);
    expect(problemsOf(lines(...base, 'keystore:', '  fss:', '    path: /tmp/k'))).toEqual([
      `f.yml:3: keystore: ${NO_STORE}`,
      "f.yml:4: keystore.fss: unknown field 'fss' (did you mean 'fs'?)",
    ]);
  });

  it('an old file whose backends are all empty is refused too', () => {
    expect(problemsOf(lines(...base, 'keystore:', '  fs: {path: ""}', '  vault: {endpoint: ""}'))).toEqual([`f.yml:3: keystore: ${NO_STORE}`]);
  });

  it('an explicit `keystore: {memory: {}}` is the in-memory store, without a warning', () => {
    const c = parseConfigText(lines(...base, 'keystore: {memory: {}}'), { file: 'f.yml' });
    expect(c.keyStore).toEqual({ type: 'memory' });
    expect(c.implicitMemoryStore).toBe(false);
    expect(c.warnings).toEqual([]);
  });

  it('only the seed flags without a file (implicitMemoryStore) fall back to memory', () => {
    const c = parseConfigText('', { file: '(flags)', implicitMemoryStore: true, overrides: { admin: ADMIN, cert: 'c', key: 'k' } });
    expect(c.keyStore).toEqual({ type: 'memory' });
    expect(c.implicitMemoryStore).toBe(true);
  });
});

describe('unknown fields are errors', () => {
  it('reports every unknown field with its line and the nearest known name', () => {
    const text = lines(
      'version: v1',
      'adress: 127.0.0.1:7373',
      `admin: {identity: ${ADMIN}}`,
      'tls:',
      '  key: k',
      '  cert: c',
      '  atuh: on',
      'colour: blue',
      'cache:',
      '  expiry:',
      '    unsed: 10s',
      'policy:',
      '  app:',
      '    allow: [/v1/key/generate/app*]',
      '    identites: [' + MINIO + ']',
      'keystore:',
      '  fs:',
      '    paht: /tmp/k',
    );
    expect(problemsOf(text)).toEqual([
      "f.yml:2: adress: unknown field 'adress' (did you mean 'address'?)",
      "f.yml:7: tls.atuh: unknown field 'atuh' (did you mean 'auth'?)",
      "f.yml:8: colour: unknown field 'colour'",
      "f.yml:11: cache.expiry.unsed: unknown field 'unsed' (did you mean 'unused'?)",
      "f.yml:15: policy.app.identites: unknown field 'identites' (did you mean 'identities'?)",
      'f.yml:17: keystore.fs.path: is required',
      "f.yml:18: keystore.fs.paht: unknown field 'paht' (did you mean 'path'?)",
    ]);
  });

  it('an unknown API route key is an error with a hint (a typo would drop its skip_auth or timeout)', () => {
    const text = lines(
      ...base,
      'api:',
      '  /v1/key/create:',
      '    timeout: 1s',
      '  /v1/satus:',
      '    skip_auth: true',
      '  /v1/metrics:',
      '    skipauth: true',
      'keystore: {memory: {}}',
    );
    const hint = "route keys must be written exactly as /v1/api lists them (key, policy and identity routes end with '/')";
    expect(problemsOf(text)).toEqual([
      `f.yml:4: api["/v1/key/create"]: unknown API route (did you mean '/v1/key/create/'?): ${hint}`,
      `f.yml:6: api["/v1/satus"]: unknown API route (did you mean '/v1/status'?): ${hint}`,
      `f.yml:9: api["/v1/metrics"].skipauth: unknown field 'skipauth' (did you mean 'skip_auth'?)`,
    ]);
  });

  it('`keys:` as a mapping next to `keystore:` is a mistyped key list, not a v0.x file', () => {
    expect(problemsOf(lines(...base, 'keys:', '  name: my-key', 'keystore: {memory: {}}'))).toEqual(['f.yml:3: keys: must be a list']);
  });

  it('keystore.generic (kes v0.14–v0.22) is parsed, then refused as unsupported at start', () => {
    const c = parseConfigText(lines(...base, 'keystore:', '  generic:', '    endpoint: https://127.0.0.1:7001'), { file: 'f.yml' });
    expect(c.keyStore).toEqual({ type: 'unsupported', name: 'generic' });
  });
});

describe('policy semantics change only on v0.x era markers', () => {
  it.each([
    [
      'keystore.vault.approle.retry',
      ['keystore:', '  vault:', '    endpoint: https://v:8200', '    approle: {id: r, secret: s, retry: 15s}'],
      "'keystore.vault.approle.retry' is deprecated (kes v0.x) and ignored: logins are retried automatically",
    ],
    [
      'keystore.vault.kubernetes.retry',
      ['keystore:', '  vault:', '    endpoint: https://v:8200', '    kubernetes: {role: kes, jwt: x, retry: 15s}'],
      "'keystore.vault.kubernetes.retry' is deprecated (kes v0.x) and ignored: logins are retried automatically",
    ],
    [
      'keystore.gemalto.keysecure.credentials.retry',
      ['keystore:', '  gemalto:', '    keysecure:', '      endpoint: https://g', '      credentials: {token: t, retry: 15s}'],
      "'keystore.gemalto.keysecure.credentials.retry' is deprecated (kes v0.x) and ignored",
    ],
    [
      'cache.expiry.all',
      ['cache: {expiry: {all: 5m}}', 'keystore: {memory: {}}'],
      "'cache.expiry.all' is deprecated (kes v0.x): use 'cache.expiry.any'",
    ],
    [
      'keystore.vault.name',
      ['keystore:', '  vault: {endpoint: https://v:8200, name: kes, token: t}'],
      "'vault.name' is deprecated (kes v0.x): use 'keystore.vault.prefix'",
    ],
  ])('%s (in upstream sample configs): a notice, prefix semantics kept', (_field, extra, notice) => {
    const c = parseConfigText(lines(...base, 'policy: {minio: {allow: [/v1/key/*]}}', ...extra), { file: 'f.yml' });
    expect(c.warnings).toEqual([notice]);
    expect(c.options.patternSemantics).toBe('prefix');
    expect(c.legacyMarkers).toEqual([]);
  });

  it('a current file with sample-config fields still lets `allow: /v1/key/*` generate keys (MinIO)', async () => {
    const c = await loadConfigFile(`${dir}sample-retry.yml`, { env: {} });
    // The Vault section is only parsed here; requests go to an in-memory store.
    const handler = await createKesHandler({ ...c.options, keyStore: createMemoryKeyStore() });
    try {
      expect((await handler.inject({ method: 'POST', path: '/v1/key/create/minio-key', identity: c.options.admin })).status).toBe(200);
      // Under v0.x glob rules `/v1/key/*` stays within one segment and this is a 403.
      const dek = await handler.inject({ method: 'POST', path: '/v1/key/generate/minio-key', identity: MINIO, body: '{}' });
      expect(dek.status).toBe(200);
      const ciphertext = (dek.json() as { ciphertext: string }).ciphertext;
      expect(
        (await handler.inject({ method: 'POST', path: '/v1/key/decrypt/minio-key', identity: MINIO, body: JSON.stringify({ ciphertext }) })).status,
      ).toBe(200);
    } finally {
      await handler.close();
    }
    expect(c.options.patternSemantics).toBe('prefix');
  });

  it.each([
    ['root', ['root: ' + ADMIN, 'tls: {key: k, cert: c}', 'keystore: {memory: {}}'], ['root']],
    ['policy paths', [...base, 'policy: {p: {paths: [/v1/key/*]}}', 'keystore: {memory: {}}'], ['policy.p.paths']],
    ['keys as the key store mapping', [...base, 'keys: {fs: {path: /tmp/k}}'], ['keys']],
    ['top-level fs', [...base, 'fs: {path: /tmp/k}'], ['fs']],
    ['log.audit.file', [...base, 'log: {audit: {file: [/var/log/kes/audit.log]}}', 'keystore: {memory: {}}'], ['log.audit.file']],
  ])('era marker %s: glob semantics, and the markers are named', (_what, text, markers) => {
    const c = parseConfigText(lines(...text), { file: 'f.yml' });
    expect(c.options.patternSemantics).toBe('glob');
    expect(c.legacyMarkers).toEqual(markers);
    expect(c.warnings.at(-1)).toBe(
      `this is a kes v0.x config file (${markers.join(', ')}): policy patterns use the v0.x glob rules (* ? [..] match within one path segment)`,
    );
  });
});

describe('admin identity', () => {
  const withAdmin = (id: string): string => lines(`admin: {identity: "${id}"}`, 'tls: {key: k, cert: c}', 'keystore: {memory: {}}');
  const apiKey = ApiKey.generate().toString();

  it('accepts 64 lowercase hex digits and `disabled` (any case, stored lowercase)', () => {
    expect(parseConfigText(withAdmin(ADMIN), { file: 'f.yml' }).options.admin).toBe(ADMIN);
    expect(parseConfigText(withAdmin('disabled'), { file: 'f.yml' }).options.admin).toBe('disabled');
    expect(parseConfigText(withAdmin('Disabled'), { file: 'f.yml' }).options.admin).toBe('disabled');
  });

  it.each([
    [
      'uppercase hex',
      'A'.repeat(64),
      "has uppercase hex digits: write the identity in lowercase, as 'kes identity of' prints it (identities are compared exactly, so an uppercase one never matches and admin access would be silently disabled)",
    ],
    [
      'a typo of disabled',
      'disabeld',
      "must be an identity (64 lowercase hex digits, as printed by 'kes identity of') or 'disabled' to turn admin access off (did you mean 'disabled'?)",
    ],
    ['a name', 'root', "must be an identity (64 lowercase hex digits, as printed by 'kes identity of') or 'disabled' to turn admin access off"],
    ['too short', 'a'.repeat(63), 'must be 64 hex digits, not 63'],
    [
      'an API key',
      apiKey,
      "is an API key, not an identity: use the identity of the key ('kes identity of <API key>') and keep the key itself secret",
    ],
  ])('refuses %s', (_what, id, message) => {
    const problems = problemsOf(withAdmin(id));
    expect(problems).toEqual([`f.yml:1: admin.identity: ${message}`]);
    if (id === apiKey) expect(problems.join('\n')).not.toContain(apiKey.slice(7));
  });

  it('--root is checked the same way and reported under the flag', () => {
    expect(problemsOf(lines(...base, 'keystore: {memory: {}}'), { overrides: { admin: 'B'.repeat(64) } })).toEqual([
      "--root: has uppercase hex digits: write the identity in lowercase, as 'kes identity of' prints it (identities are compared exactly, so an uppercase one never matches and admin access would be silently disabled)",
    ]);
    expect(problemsOf('', { file: '(flags)', implicitMemoryStore: true, overrides: { admin: 'nobody', cert: 'c', key: 'k' } })).toEqual([
      "--root: must be an identity (64 lowercase hex digits, as printed by 'kes identity of') or 'disabled' to turn admin access off",
    ]);
  });

  it('${VAR} references are substituted before the check', () => {
    const text = lines('admin:', '  identity: ${KES_ADMIN}', 'tls: {key: k, cert: c}', 'keystore: {memory: {}}');
    expect(parseConfigText(text, { file: 'f.yml', env: { KES_ADMIN: ADMIN } }).options.admin).toBe(ADMIN);
    expect(parseConfigText(text, { file: 'f.yml', env: { KES_ADMIN: 'disabled' } }).options.admin).toBe('disabled');
    expect(problemsOf(text, { env: { KES_ADMIN: ADMIN.toUpperCase() } })).toEqual([
      "f.yml:2: admin.identity: has uppercase hex digits: write the identity in lowercase, as 'kes identity of' prints it (identities are compared exactly, so an uppercase one never matches and admin access would be silently disabled)",
    ]);
    expect(problemsOf(text)).toEqual(["f.yml:2: admin.identity: environment variable 'KES_ADMIN' is not set"]);
  });
});

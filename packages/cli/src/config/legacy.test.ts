import { describe, expect, it } from 'vitest';
import { migrateLegacyConfig } from './legacy.js';

describe('migrateLegacyConfig', () => {
  it('leaves a current document unchanged', () => {
    const doc = { admin: { identity: 'x' }, keystore: { fs: { path: '/k' } }, keys: [{ name: 'a' }] };
    const r = migrateLegacyConfig(doc);
    expect(r).toMatchObject({ document: doc, notices: [], legacy: false });
  });

  it('migrates root, paths, keys-as-keystore and all → any, without touching the input', () => {
    const input = { root: 'r', policy: { p: { paths: ['/a'] } }, keys: { fs: { path: '/k' } }, cache: { expiry: { all: '1m' } } };
    const r = migrateLegacyConfig(input);
    expect(r.document).toEqual({ admin: { identity: 'r' }, policy: { p: { allow: ['/a'] } }, keystore: { fs: { path: '/k' } }, cache: { expiry: { any: '1m' } } });
    expect(r.legacy).toBe(true);
    expect(input.root).toBe('r');
    expect(r.aliases.get('admin.identity')).toEqual(['root']);
  });

  it('keeps admin.identity over root and says so', () => {
    const r = migrateLegacyConfig({ root: 'r', admin: { identity: 'a' } });
    expect(r.document).toEqual({ admin: { identity: 'a' } });
    expect(r.notices).toEqual(["'root' is deprecated (kes v0.x) and ignored because 'admin.identity' is set"]);
  });
});

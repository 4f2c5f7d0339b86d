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
    expect(r.document).toEqual({
      admin: { identity: 'r' },
      policy: { p: { allow: ['/a'] } },
      keystore: { fs: { path: '/k' } },
      cache: { expiry: { any: '1m' } },
    });
    expect(r.legacy).toBe(true);
    expect(r.markers).toEqual(['root', 'policy.p.paths', 'keys']);
    expect(input.root).toBe('r');
    expect(r.aliases.get('admin.identity')).toEqual(['root']);
  });

  it('keeps admin.identity over root and says so', () => {
    const r = migrateLegacyConfig({ root: 'r', admin: { identity: 'a' } });
    expect(r.document).toEqual({ admin: { identity: 'a' } });
    expect(r.notices).toEqual(["'root' is deprecated (kes v0.x) and ignored because 'admin.identity' is set"]);
  });

  it('fields of upstream sample configs get notices but are no era markers (policy semantics stay)', () => {
    const r = migrateLegacyConfig({
      admin: { identity: 'a' },
      cache: { expiry: { all: '5m' } },
      keystore: {
        vault: { endpoint: 'https://v', name: 'p', approle: { id: 'i', secret: 's', retry: '15s' }, kubernetes: { jwt: 'j', retry: '15s' } },
        gemalto: { keysecure: { endpoint: 'https://g', credentials: { token: 't', retry: '15s' } } },
      },
    });
    expect(r.legacy).toBe(false);
    expect(r.markers).toEqual([]);
    expect(r.notices).toEqual([
      "'cache.expiry.all' is deprecated (kes v0.x): use 'cache.expiry.any'",
      "'vault.name' is deprecated (kes v0.x): use 'keystore.vault.prefix'",
      "'keystore.vault.approle.retry' is deprecated (kes v0.x) and ignored: logins are retried automatically",
      "'keystore.vault.kubernetes.retry' is deprecated (kes v0.x) and ignored: logins are retried automatically",
      "'keystore.gemalto.keysecure.credentials.retry' is deprecated (kes v0.x) and ignored",
    ]);
    expect(r.document).toEqual({
      admin: { identity: 'a' },
      cache: { expiry: { any: '5m' } },
      keystore: {
        vault: { endpoint: 'https://v', prefix: 'p', approle: { id: 'i', secret: 's' }, kubernetes: { jwt: 'j' } },
        gemalto: { keysecure: { endpoint: 'https://g', credentials: { token: 't' } } },
      },
    });
  });

  it('cache.expiry.all next to cache.expiry.any is ignored with a notice', () => {
    const r = migrateLegacyConfig({ cache: { expiry: { any: '1m', all: '5m' } } });
    expect(r.document).toEqual({ cache: { expiry: { any: '1m' } } });
    expect(r.notices).toEqual(["'cache.expiry.all' is deprecated (kes v0.x) and ignored because 'cache.expiry.any' is set"]);
  });

  it('a mapping under keys: next to keystore: is left for the schema to reject', () => {
    const r = migrateLegacyConfig({ keys: { name: 'k' }, keystore: { memory: {} } });
    expect(r.document).toEqual({ keys: { name: 'k' }, keystore: { memory: {} } });
    expect(r.legacy).toBe(false);
  });
});

// `keystore.gemalto.keysecure`: Thales CipherTrust Manager / Gemalto KeySecure.
// (`credentials.retry` of upstream's sample config is dropped with a notice by legacy.ts.)
import type { GemaltoKeyStoreOptions } from '@kes/keystores';
import { obj, str } from '../schema-helpers.js';
import { isMap, mapAt, nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

/** `keystore.gemalto.keysecure` → `{ type: 'gemalto', options }`: endpoint and refresh token required, domain and CA file optional. */
export const gemaltoSection: KeyStoreSection = {
  name: 'gemalto',
  inner: 'keysecure',
  schema: obj({ keysecure: obj({ endpoint: str, credentials: obj({ token: str, domain: str }), tls: obj({ ca: str }) }) }),
  read(g, ctx, path) {
    const { problems } = ctx;
    const endpoint = requireStr(g, [...path, 'endpoint'], problems);
    const c = mapAt(g, 'credentials');
    // A `credentials` that is not a mapping has a schema error already; a missing one lacks the token.
    const absent = g.credentials === undefined || g.credentials === null;
    const token = absent || isMap(g.credentials) ? requireStr(c, [...path, 'credentials', 'token'], problems) : '';
    const domain = nonEmpty(c.domain);
    const ca = nonEmpty(mapAt(g, 'tls').ca);
    if (ca && /^http:\/\//i.test(endpoint.trim())) {
      problems.push({ path: [...path, 'tls', 'ca'], message: 'needs an https:// endpoint' });
    }
    const options: GemaltoKeyStoreOptions = {
      endpoint,
      credentials: { token, ...(domain ? { domain } : {}) },
      ...(ca ? { tls: { ca: ctx.resolvePath(ca) } } : {}),
    };
    return { type: 'gemalto', options };
  },
};

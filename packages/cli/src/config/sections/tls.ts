// `tls`: server certificate and key, client verification (`auth`), TLS proxies and HTTP/2.
import type { TlsOptions } from '@kes/server';
import { isMap, nonEmpty, requireStr } from '../values.js';
import type { CheckContext } from '../values.js';

/** The `tls` options of a config file; `auth` is always set. */
export type ConfigTlsOptions = TlsOptions & { readonly certFile: string; readonly keyFile: string; readonly auth: 'on' | 'off' };

/**
 * Checks `tls`; a proxy identity must not be `admin` (the admin identity).
 *
 * @returns the server's TLS options, with relative file paths resolved.
 */
export function checkTls(ctx: CheckContext, admin: string): ConfigTlsOptions {
  const { problems } = ctx;
  const tls = isMap(ctx.doc.tls) ? ctx.doc.tls : undefined;
  const cert = requireStr(tls, ['tls', 'cert'], problems);
  const key = requireStr(tls, ['tls', 'key'], problems);
  let auth: 'on' | 'off' = 'off';
  if (typeof tls?.auth === 'string') {
    const a = tls.auth.trim().toLowerCase();
    if (a === 'on') auth = 'on';
    else if (a !== '' && a !== 'off') problems.push({ path: ['tls', 'auth'], message: `must be 'on' or 'off', not '${tls.auth}'` });
  }
  const proxy = isMap(tls?.proxy) ? tls.proxy : undefined;
  const identities = Array.isArray(proxy?.identities)
    ? proxy.identities.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((s) => s.trim())
    : [];
  identities.forEach((id, i) => {
    if (id === admin) problems.push({ path: ['tls', 'proxy', 'identities', i], message: 'a proxy identity must not be the admin identity' });
  });
  const header = isMap(proxy?.header) ? nonEmpty(proxy.header.cert) : undefined;
  const password = nonEmpty(tls?.password);
  const ca = nonEmpty(tls?.ca);
  return {
    certFile: ctx.resolvePath(cert),
    keyFile: ctx.resolvePath(key),
    ...(password !== undefined ? { password } : {}),
    ...(ca !== undefined ? { caFile: ctx.resolvePath(ca) } : {}),
    auth,
    ...(identities.length > 0 ? { proxy: { identities, ...(header ? { header } : {}) } } : {}),
    ...(tls?.http2 === true ? { http2: true } : {}),
  };
}

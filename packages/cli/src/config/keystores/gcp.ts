// `keystore.gcp.secretmanager`: GCP Secret Manager (service-account key or application default credentials).
import type { GcpKeyStoreOptions } from '@kes/keystores';
import { obj, str, strList } from '../schema-helpers.js';
import { isMap, mapAt, nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

/** The `credentials` fields, as upstream spells them, and the option each becomes. */
const CREDENTIAL_FIELDS = [
  ['client_email', 'clientEmail'],
  ['client_id', 'clientId'],
  ['private_key_id', 'privateKeyId'],
  ['private_key', 'privateKey'],
] as const;

/**
 * `keystore.gcp.secretmanager` → `{ type: 'gcp', options }`. The four `credentials`
 * fields come together or not at all (none: application default credentials, as
 * upstream). `tls.ca` is a kes-ts addition (a CA for a private endpoint or a proxy).
 */
export const gcpSection: KeyStoreSection = {
  name: 'gcp',
  inner: 'secretmanager',
  schema: obj({
    secretmanager: obj({
      project_id: str,
      endpoint: str,
      scopes: strList,
      credentials: obj({ client_email: str, client_id: str, private_key_id: str, private_key: str }),
      tls: obj({ ca: str }),
    }),
  }),
  read(sm, ctx, path) {
    const { problems } = ctx;
    const projectId = requireStr(sm, [...path, 'project_id'], problems);
    const endpoint = nonEmpty(sm.endpoint);
    const scopes: string[] = [];
    if (Array.isArray(sm.scopes)) {
      for (const [i, s] of sm.scopes.entries()) {
        if (typeof s !== 'string' || s === '') continue; // an unset ${VAR} leaves an empty entry, as upstream ignores it
        if (/\s/.test(s)) problems.push({ path: [...path, 'scopes', i], message: 'must not contain spaces' });
        else scopes.push(s);
      }
    }
    const c = mapAt(sm, 'credentials');
    const given = CREDENTIAL_FIELDS.filter(([field]) => nonEmpty(c[field]) !== undefined);
    let credentials: GcpKeyStoreOptions['credentials'];
    if (given.length > 0 && given.length < CREDENTIAL_FIELDS.length) {
      for (const [field] of CREDENTIAL_FIELDS) {
        if (nonEmpty(c[field]) === undefined) {
          problems.push({
            path: [...path, 'credentials', field],
            message: 'is required when other credentials are set (give all four, or none for application default credentials)',
          });
        }
      }
    } else if (given.length === CREDENTIAL_FIELDS.length) {
      credentials = {
        clientEmail: c.client_email as string,
        clientId: c.client_id as string,
        privateKeyId: c.private_key_id as string,
        privateKey: c.private_key as string,
      };
    }
    const ca = isMap(sm.tls) ? nonEmpty(sm.tls.ca) : undefined;
    const options: GcpKeyStoreOptions = {
      projectId,
      ...(endpoint ? { endpoint } : {}),
      ...(scopes.length > 0 ? { scopes } : {}),
      ...(credentials ? { credentials } : {}),
      ...(ca ? { tls: { ca: ctx.resolvePath(ca) } } : {}),
    };
    return { type: 'gcp', options };
  },
};

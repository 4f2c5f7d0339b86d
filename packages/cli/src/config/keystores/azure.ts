// `keystore.azure.keyvault`: Azure Key Vault (client secret, managed identity or the default chain).
import type { AzureKeyStoreOptions } from '@kes/keystores';
import { obj, str } from '../schema-helpers.js';
import { isMap, nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

/**
 * `keystore.azure.keyvault` → `{ type: 'azure', options }`. `credentials` needs all three
 * fields, `managed_identity` its `client_id`; both together are an error (as upstream);
 * neither selects the default chain (environment, then managed identity). `tls.ca` is a
 * kes-ts addition: extra CA certificates for the vault and the login host.
 */
export const azureSection: KeyStoreSection = {
  name: 'azure',
  inner: 'keyvault',
  schema: obj({
    keyvault: obj({
      endpoint: str,
      credentials: obj({ tenant_id: str, client_id: str, client_secret: str }),
      managed_identity: obj({ client_id: str }),
      tls: obj({ ca: str }),
    }),
  }),
  read(kv, ctx, path) {
    const { problems } = ctx;
    const endpoint = requireStr(kv, [...path, 'endpoint'], problems);
    const hasCredentials = isMap(kv.credentials);
    const hasIdentity = isMap(kv.managed_identity);
    if (hasCredentials && hasIdentity) {
      problems.push({ path: [...path], message: "'credentials' and 'managed_identity' are mutually exclusive: configure one of them" });
    }
    let credentials: AzureKeyStoreOptions['credentials'];
    if (isMap(kv.credentials)) {
      const c = kv.credentials;
      credentials = {
        tenantId: requireStr(c, [...path, 'credentials', 'tenant_id'], problems),
        clientId: requireStr(c, [...path, 'credentials', 'client_id'], problems),
        clientSecret: requireStr(c, [...path, 'credentials', 'client_secret'], problems),
      };
    }
    let managedIdentity: AzureKeyStoreOptions['managedIdentity'];
    if (isMap(kv.managed_identity)) {
      managedIdentity = { clientId: requireStr(kv.managed_identity, [...path, 'managed_identity', 'client_id'], problems) };
    }
    const ca = isMap(kv.tls) ? nonEmpty(kv.tls.ca) : undefined;
    const options: AzureKeyStoreOptions = {
      endpoint,
      ...(credentials && !hasIdentity ? { credentials } : {}),
      ...(managedIdentity && !hasCredentials ? { managedIdentity } : {}),
      ...(ca ? { tls: { ca: ctx.resolvePath(ca) } } : {}),
    };
    return { type: 'azure', options };
  },
};

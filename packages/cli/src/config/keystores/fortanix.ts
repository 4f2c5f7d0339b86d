// `keystore.fortanix.sdkms`: Fortanix DSM (formerly SDKMS), one opaque security object per key.
import type { FortanixKeyStoreOptions } from '@kes/keystores';
import { obj, str } from '../schema-helpers.js';
import { isMap, mapAt, nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

const caOnly = obj({ ca: str });

/** A DSM group id is a UUID; checked here so a typo is a config error with a line, not a failed create later. */
const GROUP_ID = /^[A-Za-z0-9-]{1,64}$/;

/** `keystore.fortanix.sdkms` → `{ type: 'fortanix', options }`: `endpoint` and `credentials.key` are required. */
export const fortanixSection: KeyStoreSection = {
  name: 'fortanix',
  inner: 'sdkms',
  schema: obj({ sdkms: obj({ endpoint: str, group_id: str, credentials: obj({ key: str }), tls: caOnly }) }),
  read(f, ctx, path) {
    const { problems } = ctx;
    const endpoint = requireStr(f, [...path, 'endpoint'], problems);
    if (endpoint.trim() !== '' && !/^https?:\/\/[^/]/i.test(endpoint)) {
      problems.push({ path: [...path, 'endpoint'], message: `must be an https:// URL, not '${endpoint}'` });
    }
    // The API key is a secret: messages name the field, never its value.
    const apiKey = requireStr(mapAt(f, 'credentials'), [...path, 'credentials', 'key'], problems);
    const groupId = nonEmpty(f.group_id);
    if (groupId !== undefined && !GROUP_ID.test(groupId)) {
      problems.push({ path: [...path, 'group_id'], message: `must be a DSM group id (a UUID), not '${groupId}'` });
    }
    const ca = isMap(f.tls) ? nonEmpty(f.tls.ca) : undefined;
    const options: FortanixKeyStoreOptions = {
      endpoint,
      apiKey,
      ...(groupId ? { groupId } : {}),
      ...(ca ? { tls: { ca: ctx.resolvePath(ca) } } : {}),
    };
    return { type: 'fortanix', options };
  },
};

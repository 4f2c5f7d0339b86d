// `keystore.entrust.keycontrol`: Entrust KeyControl (secrets vault, REST API 1.0).
import type { EntrustKeyStoreOptions } from '@kes/keystores';
import { obj, str } from '../schema-helpers.js';
import { isMap, nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

const caOnly = obj({ ca: str });

/**
 * `keystore.entrust.keycontrol` → `{ type: 'entrust', options }`. `endpoint`, `vault_id`,
 * `box_id` and `credentials.username`/`.password` are required; a missing `credentials`
 * block is reported as such (upstream dereferences it unchecked and crashes).
 */
export const entrustSection: KeyStoreSection = {
  name: 'entrust',
  inner: 'keycontrol',
  schema: obj({
    keycontrol: obj({
      endpoint: str,
      vault_id: str,
      box_id: str,
      credentials: obj({ username: str, password: str }),
      tls: caOnly,
    }),
  }),
  read(kc, ctx, path) {
    const { problems } = ctx;
    const endpoint = requireStr(kc, [...path, 'endpoint'], problems);
    if (endpoint.trim() !== '' && !/^https?:\/\/[^/]/i.test(endpoint.trim())) {
      problems.push({
        path: [...path, 'endpoint'],
        message: `must be an http:// or https:// URL, e.g. https://keycontrol.example.net, not '${endpoint}'`,
      });
    }
    const vaultId = requireStr(kc, [...path, 'vault_id'], problems);
    const boxId = requireStr(kc, [...path, 'box_id'], problems);
    let username = '';
    let password = '';
    if (isMap(kc.credentials)) {
      username = requireStr(kc.credentials, [...path, 'credentials', 'username'], problems);
      password = requireStr(kc.credentials, [...path, 'credentials', 'password'], problems);
    } else {
      problems.push({ path: [...path, 'credentials'], message: "is required (with 'username' and 'password')" });
    }
    const ca = isMap(kc.tls) ? nonEmpty(kc.tls.ca) : undefined;
    const options: EntrustKeyStoreOptions = {
      endpoint,
      vaultId,
      boxId,
      credentials: { username, password },
      ...(ca ? { tls: { ca: ctx.resolvePath(ca) } } : {}),
    };
    return { type: 'entrust', options };
  },
};

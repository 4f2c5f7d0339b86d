// `keystore.aws.secretsmanager`: AWS Secrets Manager (optionally with a KMS key).
import type { AwsKeyStoreOptions } from '@kes/keystores';
import { obj, str } from '../schema-helpers.js';
import { mapAt, nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

/** `keystore.aws.secretsmanager` → `{ type: 'aws', options }`; `accesskey` and `secretkey` come together or not at all. */
export const awsSection: KeyStoreSection = {
  name: 'aws',
  inner: 'secretsmanager',
  schema: obj({
    secretsmanager: obj({
      endpoint: str,
      region: str,
      kmskey: str,
      credentials: obj({ accesskey: str, secretkey: str, token: str }),
    }),
  }),
  read(sm, ctx, path) {
    const endpoint = requireStr(sm, [...path, 'endpoint'], ctx.problems);
    const region = requireStr(sm, [...path, 'region'], ctx.problems);
    const c = mapAt(sm, 'credentials');
    const accessKeyId = nonEmpty(c.accesskey);
    const secretAccessKey = nonEmpty(c.secretkey);
    const sessionToken = nonEmpty(c.token);
    if ((accessKeyId || secretAccessKey || sessionToken) && (!accessKeyId || !secretAccessKey)) {
      ctx.problems.push({ path: [...path, 'credentials'], message: "'accesskey' and 'secretkey' must be given together" });
    }
    const kmsKeyId = nonEmpty(sm.kmskey);
    const options: AwsKeyStoreOptions = {
      endpoint,
      region,
      ...(kmsKeyId ? { kmsKeyId } : {}),
      ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
    };
    return { type: 'aws', options };
  },
};

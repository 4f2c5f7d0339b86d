// Helpers for the Vault key-store tests: talk to the OpenBao dev server started by
// the global setup (test/servers/openbao.ts) with its root token, and mount fresh,
// uniquely named engines and auth methods per test file.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

export const baoAddr = inject('baoAddr');
export const baoToken = inject('baoToken');
export const baoSkipReason = inject('baoSkipReason');

if (!baoAddr) console.warn(`[vault tests] skipped: OpenBao is not available: ${baoSkipReason}`);

/** A short random suffix for unique mount paths. */
export function rand(): string {
  return randomBytes(4).toString('hex');
}

/** One raw Vault API call with the root token; returns status and parsed body. */
export async function bao(
  method: string,
  path: string,
  body?: unknown,
  opts: { namespace?: string; token?: string } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'X-Vault-Token': opts.token ?? baoToken };
  if (opts.namespace) headers['X-Vault-Namespace'] = opts.namespace;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${baoAddr}/v1/${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Like `bao` but fails the test on a non-2xx answer. */
export async function baoOk(method: string, path: string, body?: unknown, opts: { namespace?: string; token?: string } = {}): Promise<any> {
  const res = await bao(method, path, body, opts);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Mounts a K/V engine of `version` at a fresh path and returns the path. */
export async function mountKv(version: 'v1' | 'v2', namespace?: string): Promise<string> {
  const path = `kv${version.slice(1)}-${rand()}`;
  await baoOk('POST', `sys/mounts/${path}`, { type: 'kv', options: { version: version.slice(1) } }, namespace ? { namespace } : {});
  if (version === 'v2') {
    // A fresh KV v2 mount upgrades itself in the background; wait until it answers.
    for (let i = 0; i < 50; i++) {
      const r = await bao('GET', `${path}/metadata/?list=true`, undefined, namespace ? { namespace } : {});
      if (r.status === 404 || r.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return path;
}

/** Unmounts an engine (best effort). */
export async function unmount(path: string, namespace?: string): Promise<void> {
  await bao('DELETE', `sys/mounts/${path}`, undefined, namespace ? { namespace } : {}).catch(() => undefined);
}

/** Writes an ACL policy that allows everything the key store needs on every path. */
export async function writeKesPolicy(): Promise<string> {
  const name = `kes-${rand()}`;
  const policy = 'path "*" { capabilities = ["create", "read", "update", "delete", "list"] }';
  await baoOk('PUT', `sys/policies/acl/${name}`, { policy });
  return name;
}

/** Enables AppRole at a fresh path with one role; returns the mount, role_id and a secret_id. */
export async function setUpAppRole(role: {
  ttl: string;
  maxTtl: string;
  secretIdNumUses?: number;
}): Promise<{ engine: string; roleId: string; secretId: string }> {
  const engine = `approle-${rand()}`;
  const policy = await writeKesPolicy();
  await baoOk('POST', `sys/auth/${engine}`, { type: 'approle' });
  await baoOk('POST', `auth/${engine}/role/kes`, {
    token_policies: [policy],
    token_ttl: role.ttl,
    token_max_ttl: role.maxTtl,
    secret_id_num_uses: role.secretIdNumUses ?? 0,
  });
  const roleId = (await baoOk('GET', `auth/${engine}/role/kes/role-id`)).data.role_id as string;
  const secretId = (await baoOk('POST', `auth/${engine}/role/kes/secret-id`, {})).data.secret_id as string;
  return { engine, roleId, secretId };
}

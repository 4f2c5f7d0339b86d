// `policy`: named allow/deny pattern lists and the identities each applies to.
import { isValidName } from '@kes/core';
import type { ServerPolicy } from '@kes/server';
import { isMap } from '../values.js';
import type { CheckContext } from '../values.js';
import type { PathSegment } from '../yaml-path.js';

/** Identities that may not appear in a policy. */
export interface ReservedIdentities {
  /** The admin identity (or `disabled`/`''`). */
  readonly admin: string;
  /** The TLS proxy identities. */
  readonly proxies: readonly string[];
}

/**
 * Checks `policy`. An identity belongs to at most one policy, and never the admin or
 * a TLS proxy. In a current (non-v0.x) file a wildcard other than a trailing `*` is
 * a warning: since kes v0.23 it matches literally.
 *
 * @returns the server's policies.
 */
export function checkPolicies(ctx: CheckContext, reserved: ReservedIdentities): Record<string, ServerPolicy> {
  const policies: Record<string, ServerPolicy> = {};
  if (!isMap(ctx.doc.policy)) return policies;
  const { problems } = ctx;
  const owner = new Map<string, string>();
  for (const [name, p] of Object.entries(ctx.doc.policy)) {
    if (!isValidName(name))
      problems.push({ path: ['policy', name], message: 'invalid policy name: use 1–80 letters, digits, _ or - (not first or last)' });
    const pm = isMap(p) ? p : {};
    const list = (k: string): string[] => (Array.isArray(pm[k]) ? (pm[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
    const identities: string[] = [];
    list('identities').forEach((raw, i) => {
      const id = raw.trim();
      const at: PathSegment[] = ['policy', name, 'identities', i];
      if (id === '') return; // an empty (e.g. unset-but-empty env) entry is ignored, as upstream
      if (!isValidName(id)) problems.push({ path: at, message: `invalid identity '${id}'` });
      else if (id === reserved.admin) problems.push({ path: at, message: 'the admin identity must not be assigned to a policy' });
      else if (reserved.proxies.includes(id)) problems.push({ path: at, message: 'a TLS proxy identity must not be assigned to a policy' });
      else if (owner.has(id)) problems.push({ path: at, message: `identity is already assigned to policy '${owner.get(id)}'` });
      else {
        owner.set(id, name);
        identities.push(id);
      }
    });
    const allow = list('allow');
    const deny = list('deny');
    if (!ctx.legacy) {
      for (const pattern of [...allow, ...deny]) {
        if (/[?[]|\*(?!$)/.test(pattern)) {
          ctx.warnings.push(
            `policy '${name}': pattern '${pattern}' has a wildcard that is not the last character; it matches literally (only a trailing '*' is a wildcard since kes v0.23)`,
          );
        }
      }
    }
    policies[name] = { allow, deny, identities };
  }
  return policies;
}

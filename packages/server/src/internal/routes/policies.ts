/** Policy routes (spec §4.13–4.15): describe, read, list. Policies come from the options, not a store. */
import { KesError, validatePolicyName } from '@kes/core';
import { goJsonString } from '@kes/core/wire';
import type { PolicyEngine } from '@kes/core';
import { S } from '../context.js';
import type { Ctx, RouteSpec, Shared } from '../context.js';
import { replyJson } from '../http.js';
import { jsonNames, listPrefix } from './listing.js';

function patternSet(patterns: readonly string[]): string {
  const sorted = [...new Set(patterns)].sort();
  return `{${sorted.map((p) => `${goJsonString(p)}:{}`).join(',')}}`;
}

/** The policy object of `/v1/policy/read` (also embedded by `/v1/identity/self/describe`); undefined if none. */
export function policyObject(engine: PolicyEngine, shared: Shared, name: string): string | undefined {
  const p = engine.policy(name);
  if (!p) return undefined;
  let s = `{"name":${goJsonString(name)}`;
  if (p.allow.length > 0) s += `,"allow":${patternSet(p.allow)}`;
  if (p.deny.length > 0) s += `,"deny":${patternSet(p.deny)}`;
  return `${s},"created_at":"${shared.startedAtText}","created_by":${goJsonString(engine.admin)}}`;
}

function policyDescribe(ctx: Ctx): number {
  const name = ctx.resource;
  validatePolicyName(name);
  const engine = ctx.state.engine;
  if (!engine.policy(name)) throw new KesError('ERR_KES_POLICY_NOT_FOUND');
  return replyJson(ctx.res, `{"name":${goJsonString(name)},"created_at":"${ctx.shared.startedAtText}","created_by":${goJsonString(engine.admin)}}`);
}

function policyRead(ctx: Ctx): number {
  const name = ctx.resource;
  validatePolicyName(name);
  const obj = policyObject(ctx.state.engine, ctx.shared, name);
  if (obj === undefined) throw new KesError('ERR_KES_POLICY_NOT_FOUND');
  return replyJson(ctx.res, obj);
}

function policyList(ctx: Ctx): number {
  const prefix = listPrefix(ctx.resource);
  const names = ctx.state.engine.policyNames().filter((n) => n.startsWith(prefix));
  return replyJson(ctx.res, `{"names":${jsonNames(names)},"continue_at":""}`);
}

/** The policy routes, in `/v1/api` order. */
export const POLICY_ROUTES: readonly RouteSpec[] = [
  {
    id: 'policy-describe',
    key: '/v1/policy/describe/',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    handler: policyDescribe,
  },
  { id: 'policy-read', key: '/v1/policy/read/', method: 'GET', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: policyRead },
  { id: 'policy-list', key: '/v1/policy/list/', method: 'GET', maxBody: 0, timeoutMs: 15 * S, auth: 'policy', counted: true, handler: policyList },
];

/** Identity routes (spec §4.16–4.18): describe, self-describe, list. */
import { KesError, validateIdentityName } from '@kes/core';
import { goJsonString } from '@kes/core/wire';
import { S } from '../context.js';
import type { Ctx, RouteSpec } from '../context.js';
import { replyJson } from '../http.js';
import { jsonNames, listPrefix } from './listing.js';
import { policyObject } from './policies.js';

function identityDescribe(ctx: Ctx): number {
  const id = ctx.resource;
  validateIdentityName(id);
  const engine = ctx.state.engine;
  if (ctx.state.adminEnabled && engine.isAdmin(id)) return replyJson(ctx.res, `{"admin":true,"created_at":"${ctx.shared.startedAtText}"}`);
  const p = engine.policyOf(id);
  if (!p) throw new KesError('ERR_KES_IDENTITY_NOT_FOUND');
  return replyJson(
    ctx.res,
    `{"policy":${goJsonString(p.name)},"created_at":"${ctx.shared.startedAtText}","created_by":${goJsonString(engine.admin)}}`,
  );
}

/** Fix of the upstream bug: non-admin callers get their own policy instead of 404. */
function selfDescribe(ctx: Ctx): number {
  const id = ctx.identity;
  const engine = ctx.state.engine;
  if (ctx.state.adminEnabled && engine.isAdmin(id)) {
    return replyJson(ctx.res, `{"identity":${goJsonString(id)},"admin":true,"created_at":"${ctx.shared.startedAtText}"}`);
  }
  const p = id === '' ? undefined : engine.policyOf(id);
  const obj = p ? policyObject(engine, ctx.shared, p.name) : undefined;
  if (obj === undefined) throw new KesError('ERR_KES_IDENTITY_NOT_FOUND');
  return replyJson(
    ctx.res,
    `{"identity":${goJsonString(id)},"created_at":"${ctx.shared.startedAtText}","created_by":${goJsonString(engine.admin)},"policy":${obj}}`,
  );
}

function identityList(ctx: Ctx): number {
  const prefix = listPrefix(ctx.resource);
  const ids = ctx.state.engine.identities().filter((n) => n.startsWith(prefix));
  return replyJson(ctx.res, `{"identities":${jsonNames(ids)},"continue_at":""}`);
}

/** The identity routes, in `/v1/api` order. Self-describe only identifies: any caller may ask who it is. */
export const IDENTITY_ROUTES: readonly RouteSpec[] = [
  {
    id: 'identity-describe',
    key: '/v1/identity/describe/',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    handler: identityDescribe,
  },
  {
    id: 'identity-self-describe',
    key: '/v1/identity/self/describe',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'identify',
    counted: true,
    handler: selfDescribe,
  },
  {
    id: 'identity-list',
    key: '/v1/identity/list/',
    method: 'GET',
    maxBody: 0,
    timeoutMs: 15 * S,
    auth: 'policy',
    counted: true,
    handler: identityList,
  },
];

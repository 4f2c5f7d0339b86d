/**
 * The KES route table (spec §4): the one place routes are declared. Each resource module
 * lists its routes with method, body limit, timeout, authentication, metrics flag and
 * handler; this file only fixes the order in which `/v1/api` lists them.
 */
import type { RouteSpec } from '../context.js';
import { IDENTITY_ROUTES } from './identities.js';
import { KEY_VERSION_ROUTES } from './key-versions.js';
import { KEY_ROUTES } from './keys.js';
import { LOG_ROUTES } from './logs.js';
import { POLICY_ROUTES } from './policies.js';
import { SYSTEM_ROUTES } from './system.js';

/**
 * All 22 routes of upstream KES @H, in the order `/v1/api` lists them, and the key-version
 * routes of kes-ts after the key routes (listed only while key versions are on).
 */
export const ROUTE_SPECS: readonly RouteSpec[] = Object.freeze([
  ...SYSTEM_ROUTES,
  ...KEY_ROUTES,
  ...KEY_VERSION_ROUTES,
  ...POLICY_ROUTES,
  ...IDENTITY_ROUTES,
  ...LOG_ROUTES,
]);

/**
 * Every route key (`/version`, `/v1/key/create/`, …) in the order `/v1/api` lists them: the keys
 * the config file's `api:` section accepts.
 */
export const API_ROUTE_KEYS: readonly string[] = Object.freeze(ROUTE_SPECS.map((r) => r.key));

/**
 * Automatic rotation by age (docs/key-rotation.md): every `autoRotateCheckMs` the keys
 * matching a rule are read from the store, and a key whose newest version is at least
 * `everyMs` old gets one new version. Servers sharing a store may all run it: the new
 * version is created create-only, so of two servers only one rotates and the other
 * finds the winner's version (it never retries with the next number).
 *
 * Each rotation a server makes is an audit record, as if the server had called the rotate
 * route itself: path `/v1/key/rotate/<name>`, identity `kes:auto-rotate` (the `created_by`
 * of the new version), no client address. A failure is an error-log record.
 */
import { MasterKey, isKesError, listAll, matchPattern } from '@kes/core';
import type { KeyStore, KeyVersionStore } from '@kes/core';
import type { KeyCache } from './cache.js';
import { readKeyRing, rotateKeyRing } from './key-versions.js';
import { auditEvent } from './logs.js';
import type { LogHub } from './logs.js';
import type { State } from './state.js';

/** The identity an automatic rotation is made and audited under. */
export const AUTO_ROTATE_IDENTITY = 'kes:auto-rotate';

/** Default interval between two looks at the keys. */
const DEFAULT_CHECK_MS = 60 * 60_000;

/** What one pass did (for tests and the log). */
export interface AutoRotatePass {
  /** Keys checked. */
  checked: number;
  /** Keys this server rotated. */
  rotated: string[];
  /** Keys another server rotated first (the create-only race was lost). */
  lost: string[];
  /** Keys that could not be checked (store errors), with the reason. */
  failed: number;
}

/**
 * One pass over the keys of `state`'s rules. `now` is injectable for tests.
 */
export async function autoRotateOnce(
  store: KeyStore & { versions: KeyVersionStore },
  rules: State['options']['keyVersions'],
  cache: KeyCache,
  logs: LogHub,
  now = Date.now(),
): Promise<AutoRotatePass> {
  const pass: AutoRotatePass = { checked: 0, rotated: [], lost: [], failed: 0 };
  const list = rules?.autoRotate ?? [];
  if (list.length === 0) return pass;
  const warn = (m: string): void => logs.error(m, undefined);
  const names = new Set<string>();
  for (const rule of list) {
    // The listing prefix of a pattern: everything before its `*` (a lone name lists itself and its longer cousins).
    const prefix = rule.pattern.endsWith('*') ? rule.pattern.slice(0, -1) : rule.pattern;
    for (const name of await listAll(store, prefix)) if (matchPattern(rule.pattern, name)) names.add(name);
  }
  for (const name of names) {
    const rule = list.find((r) => matchPattern(r.pattern, name));
    if (rule === undefined) continue;
    pass.checked++;
    let ring: Awaited<ReturnType<typeof readKeyRing>>;
    try {
      ring = await readKeyRing(store, name, undefined, warn);
    } catch (e) {
      if (!isKesError(e, 'ERR_KES_KEY_NOT_FOUND')) {
        pass.failed++;
        logs.error(`automatic rotation: cannot read key '${name}'`, undefined, e instanceof Error ? e.message : String(e));
      }
      continue;
    }
    try {
      const newest = ring.key(ring.latest) as MasterKey;
      const ageMs = now - (newest.createdAt.seconds * 1000 + Math.floor(newest.createdAt.nanos / 1e6));
      if (ageMs < rule.everyMs) continue;
      const algorithm = ring.base.algorithm;
      const startMs = Date.now();
      const t0 = performance.now();
      const made = await rotateKeyRing(store.versions, name, ring, () => MasterKey.generate({ algorithm, createdBy: AUTO_ROTATE_IDENTITY }), {
        retry: false,
      });
      if (made === undefined) pass.lost.push(name);
      else {
        made.key.destroy();
        pass.rotated.push(name);
        cache.evict(name);
        logs.audit(auditEvent(startMs, t0, '', `/v1/key/rotate/${name}`, AUTO_ROTATE_IDENTITY, 200), 'POST');
      }
    } catch (e) {
      pass.failed++;
      logs.error(`automatic rotation: cannot rotate key '${name}'`, undefined, e instanceof Error ? e.message : String(e));
    } finally {
      ring.destroy();
    }
  }
  return pass;
}

/**
 * Runs {@link autoRotateOnce} on a timer against whatever state is current, one pass at
 * a time. Returns the stop function.
 */
export function startAutoRotation(current: () => State, logs: LogHub): () => void {
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    const kv = current().options.keyVersions;
    const ms = kv?.autoRotateCheckMs ?? DEFAULT_CHECK_MS;
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  const tick = (): void => {
    const state = current();
    const kv = state.options.keyVersions;
    const store = state.store;
    if (running || !state.versions || store.versions === undefined || kv?.autoRotateHere === false || !kv?.autoRotate?.length) {
      schedule();
      return;
    }
    running = true;
    autoRotateOnce(store as KeyStore & { versions: KeyVersionStore }, kv, state.cache, logs)
      .catch((e: unknown) => logs.error('automatic rotation failed', undefined, e instanceof Error ? e.message : String(e)))
      .finally(() => {
        running = false;
        schedule();
      });
  };
  schedule();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * Shared test support: one way to load the known-answer vectors and one way to assert
 * a `KesError`, instead of a copy in every test file. Test-only code, not part of any
 * package; import it with a relative path, e.g. from `packages/core/src/x.test.ts`:
 *
 * ```ts
 * import { expectKesErrorSync, loadVectors } from '../../../test/support/index.js';
 * ```
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { isKesError } from '@kes/core';
import type { KesError } from '@kes/core';

/** Root of the repository (the directory holding `vitest.config.ts`). */
export const repoRoot: string = fileURLToPath(new URL('../..', import.meta.url));

/** `<repo root>/test/vectors/vectors.json`: the known-answer vectors, copied unchanged from the KES reference. */
export const vectorsPath: string = join(repoRoot, 'test', 'vectors', 'vectors.json');

let vectorsCache: unknown;

/**
 * Returns vectors.json, parsed as it is (read once per test file, then cached).
 *
 * Tests must read the values from here and never copy them into assertions by hand.
 * The result is shared: do not mutate it.
 *
 * @throws Error when the file is missing or not JSON (a broken checkout, not a test failure).
 * @example
 * const vectors = loadVectors<{ name_validation: { cases: { name: string; valid: boolean }[] } }>();
 */
export function loadVectors<T = Record<string, any>>(): T {
  vectorsCache ??= JSON.parse(readFileSync(vectorsPath, 'utf8')) as unknown;
  return vectorsCache as T;
}

/**
 * Runs `fn` and returns what it threw.
 *
 * @throws Error `expected an error` when `fn` returns normally.
 * @example
 * const e = thrown(() => JSON.parse('{'));
 */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

/**
 * Awaits `p` and returns its rejection reason.
 *
 * @throws Error `expected a rejection` when `p` resolves.
 * @example
 * const e = await rejection(store.get('missing'));
 */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** The shared assertions on a caught value; returns it as a KesError. */
function checkKesError(threw: boolean, error: unknown, code: string, message: string | undefined): KesError {
  expect(threw, `expected a KesError with code ${code}, but nothing was thrown`).toBe(true);
  expect(isKesError(error), `expected a KesError, got ${String(error)}`).toBe(true);
  expect((error as KesError).code).toBe(code);
  if (message !== undefined) expect((error as KesError).message).toBe(message);
  return error as KesError;
}

/**
 * Asserts that `fnOrPromise` fails with a KesError of `code` and, when given, exactly
 * `message`. A function is called (a synchronous throw is caught too) and its result
 * awaited; a promise is awaited. Returns the error for further checks.
 *
 * @throws AssertionError when nothing is thrown, the error is no KesError, or its code
 *   or message differ.
 * @example
 * await expectKesError(store.get('missing'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
 * const e = await expectKesError(() => open({}), 'ERR_KES_INVALID_ARGUMENT');
 */
export async function expectKesError(fnOrPromise: (() => unknown) | Promise<unknown>, code: string, message?: string): Promise<KesError> {
  let threw = false;
  let error: unknown;
  try {
    await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
  } catch (e) {
    threw = true;
    error = e;
  }
  return checkKesError(threw, error, code, message);
}

/**
 * Synchronous {@link expectKesError}: calls `fn`, which must throw a KesError of `code`
 * and, when given, exactly `message`. Returns the error for further checks.
 *
 * @throws AssertionError when nothing is thrown, the error is no KesError, or its code
 *   or message differ.
 * @example
 * expectKesErrorSync(() => validateKeyName('a/b'), 'ERR_KES_INVALID_KEY_NAME',
 *   "key name 'a/b' is empty, too long or contains invalid characters");
 */
export function expectKesErrorSync(fn: () => unknown, code: string, message?: string): KesError {
  let threw = false;
  let error: unknown;
  try {
    fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  return checkKesError(threw, error, code, message);
}

/**
 * A KES for an app's tests: the real request pipeline (routing, authentication,
 * policies, audit) in the test process, with an in-memory key store and no TLS or port.
 * Tests say who calls by identity; `as(identity)` binds it once.
 */
import { ApiKey } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';
import type { KesHandler } from '@kes/server';

/** What {@link createTestKes} returns. */
export interface TestKes {
  readonly handler: KesHandler;
  /** The admin identity (may do everything). */
  readonly admin: string;
  /** The app's identity: bound to the `my-app` policy. */
  readonly app: string;
  /** Every audit event so far (one per request). */
  readonly audit: { path: string; identity: string | undefined; status: number }[];
  /** Requests as `identity`: `call('POST', '/v1/key/generate/app-key', {})`. */
  as(
    identity: string | undefined,
  ): (method: string, path: string, body?: unknown) => Promise<{ status: number; json: <T>() => T; text: () => string }>;
  close(): Promise<void>;
}

/**
 * Starts a handler whose `my-app` policy lets the app create, use and list keys named
 * `app-*`, and nothing else — the policy you would give the app in production.
 *
 * @example
 * const kes = await createTestKes();
 * const call = kes.as(kes.app);
 * expect((await call('PUT', '/v1/key/create/app-key')).status).toBe(200);
 */
export async function createTestKes(): Promise<TestKes> {
  const admin = ApiKey.generate().identity;
  const app = ApiKey.generate().identity;
  const handler = await createKesHandler({
    admin,
    keyStore: createMemoryKeyStore(),
    policies: {
      'my-app': {
        allow: ['/v1/key/create/app-*', '/v1/key/generate/app-*', '/v1/key/decrypt/app-*', '/v1/key/hmac/app-*', '/v1/key/list/app-*'],
        identities: [app],
      },
    },
    log: { error: 'off', audit: 'off' }, // keep the test output quiet; events still reach listeners
  });
  const audit: TestKes['audit'] = [];
  handler.on('audit', (event) => {
    const e = event as { request: { path: string; identity?: string }; response: { code: number } };
    audit.push({ path: e.request.path, identity: e.request.identity, status: e.response.code });
  });
  return {
    handler,
    admin,
    app,
    audit,
    as: (identity) => async (method, path, body) => {
      const res = await handler.inject({
        method,
        path,
        ...(identity ? { identity } : {}),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: <T>() => res.json<T>(), text: () => res.text() };
    },
    close: () => handler.close(),
  };
}

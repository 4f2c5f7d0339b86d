import { describe, expect, it } from 'vitest';
import { KesClientError } from '@kes/client';
import { KesError } from '@kes/core';
import { CliFailure } from '../internal/failure.js';
import { explainError } from './explain.js';

const ctx = { endpoints: ['https://kes.local:7373'], identity: 'ab'.repeat(32), insecure: false };
const explain = (err: unknown, subject?: { kind: 'key' | 'policy' | 'identity'; name: string }) => {
  const out = explainError(err, { ...ctx, ...(subject ? { subject } : {}) });
  expect(out).toBeInstanceOf(CliFailure);
  return (out as CliFailure).message;
};
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('explainError: one line that says what to do next', () => {
  it('unreachable: the socket reason from the cause chain', () => {
    const err = new KesClientError('ERR_KES_CLIENT_UNREACHABLE', 'x', {
      endpoint: 'https://kes.local:7373',
      cause: withCode('getaddrinfo ENOTFOUND kes.local', 'ENOTFOUND'),
    });
    expect(explain(err)).toBe(
      'cannot reach a KES server at https://kes.local:7373 (host not found): start it, or set its address with --server or KES_SERVER',
    );
  });

  it('TLS: untrusted, wrong host, other', () => {
    const tls = (code: string) =>
      new KesClientError('ERR_KES_CLIENT_TLS', 'handshake failed', { endpoint: 'https://kes.local:7373', cause: withCode('x', code) });
    expect(explain(tls('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe(
      "TLS with https://kes.local:7373 failed: its certificate is signed by an unknown CA: pass the CA certificate that signed it with --ca FILE (or -k/--insecure for a test server such as 'kes server --dev')",
    );
    expect(explain(tls('ERR_TLS_CERT_ALTNAME_INVALID'))).toBe(
      "TLS with https://kes.local:7373 failed: its certificate does not name this host: use a host name or IP address from the server's certificate in --server/KES_SERVER (or -k/--insecure for a test server)",
    );
    expect(explain(tls('CERT_HAS_EXPIRED'))).toMatch(/^TLS with https:\/\/kes\.local:7373 failed: its certificate has expired: /);
    expect(explain(tls('ERR_SSL_SOMETHING'))).toBe(
      'TLS with https://kes.local:7373 failed (handshake failed): check that the server accepts this client certificate or API key, and --ca',
    );
  });

  it('timeout, HTTP and protocol errors', () => {
    expect(explain(new KesClientError('ERR_KES_CLIENT_TIMEOUT', 'late'))).toBe(
      'no answer from https://kes.local:7373 in time: the server or its key store may be overloaded or stuck; try again later',
    );
    expect(explain(new KesClientError('ERR_KES_CLIENT_HTTP', '404 page not found', { status: 404 }))).toBe(
      'https://kes.local:7373 answered with HTTP 404 (404 page not found): is this a KES server? Check --server/KES_SERVER',
    );
    expect(explain(new KesClientError('ERR_KES_CLIENT_PROTOCOL', 'invalid JSON'))).toBe(
      'https://kes.local:7373 sent a reply this client does not understand (invalid JSON): is this a KES server?',
    );
  });

  it('server errors: 403 names the identity, 404 the subject', () => {
    expect(explain(new KesError('ERR_KES_NOT_ALLOWED'))).toBe(
      `not authorized: insufficient permissions (identity ${'ab'.repeat(32)}): use the admin's API key, or ask for a policy that allows this (see 'kes identity info')`,
    );
    expect(explain(new KesError('ERR_KES_KEY_NOT_FOUND'), { kind: 'key', name: 'k1' })).toBe(
      "key 'k1' does not exist: list the keys with 'kes key ls'",
    );
    expect(explain(new KesError('ERR_KES_POLICY_NOT_FOUND'), { kind: 'policy', name: 'p' })).toBe(
      "policy 'p' does not exist: list the policies with 'kes policy ls'",
    );
    expect(explain(new KesError('ERR_KES_IDENTITY_NOT_FOUND'), { kind: 'identity', name: 'i' })).toBe(
      "identity 'i' does not exist (no policy is assigned to it): list identities with 'kes identity ls'",
    );
    expect(explain(new KesError('ERR_KES_KEYSTORE_UNAVAILABLE'))).toBe(
      "key store is unavailable: the server cannot use its key store; see the server's error log ('kes log --error')",
    );
    expect(explain(new KesError('ERR_KES_INVALID_KEY_NAME', ['a b']))).toBe("key name 'a b' is empty, too long or contains invalid characters");
  });

  it('anything else is passed through (a bug: its stack is printed)', () => {
    const bug = new TypeError('x is not a function');
    expect(explainError(bug, ctx)).toBe(bug);
  });
});

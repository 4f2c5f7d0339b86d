import { describe, expect, it } from 'vitest';
import { isKesError } from './errors.js';
import type { PolicyDefinition } from './policy.js';
import { createPolicyEngine, isPolicyEquivalent, isPolicySubset, matchPattern } from './policy.js';
import { expectKesErrorSync, loadVectors, thrown } from '../../../test/support/index.js';

interface Vectors {
  policy_verify: { cases: Array<{ allow: string[]; deny: string[]; requests: Record<string, boolean> }> };
  policy_match_semantics_derived: { cases: Array<{ pattern: string; path: string; head: boolean; v0_22: boolean }> };
  policy_is_subset: { cases: Array<{ A: PolicyDefinition; B: PolicyDefinition; a_is_subset_of_b: boolean; equivalent: boolean }> };
}
const vectors = loadVectors<Vectors>();

const ADMIN = 'a'.repeat(64);
const ALICE = 'b'.repeat(64);
const BOB = 'c'.repeat(64);

function expectDenied(fn: () => unknown): void {
  const e = expectKesErrorSync(fn, 'ERR_KES_NOT_ALLOWED', 'not authorized: insufficient permissions');
  expect((e as { status: number }).status).toBe(403);
}

describe('policy_verify vectors', () => {
  it.each(vectors.policy_verify.cases.map((c, i) => ({ ...c, i })))('case $i', (c) => {
    for (const semantics of ['prefix', 'glob'] as const) {
      const engine = createPolicyEngine({
        admin: ADMIN,
        semantics,
        policies: { p: { allow: c.allow, deny: c.deny, identities: [ALICE] } },
      });
      for (const [path, allowed] of Object.entries(c.requests)) {
        if (allowed) expect(() => engine.verify(ALICE, path)).not.toThrow();
        else expectDenied(() => engine.verify(ALICE, path));
      }
    }
  });
});

describe('policy_match_semantics_derived vectors', () => {
  it.each(vectors.policy_match_semantics_derived.cases)('$pattern vs $path', (c) => {
    expect(matchPattern(c.pattern, c.path)).toBe(c.head);
    expect(matchPattern(c.pattern, c.path, 'prefix')).toBe(c.head);
    expect(matchPattern(c.pattern, c.path, 'glob')).toBe(c.v0_22);
    // The compiled engine agrees with matchPattern.
    for (const semantics of ['prefix', 'glob'] as const) {
      const engine = createPolicyEngine({ admin: ADMIN, semantics, policies: { p: { allow: [c.pattern], identities: [ALICE] } } });
      const expected = semantics === 'prefix' ? c.head : c.v0_22;
      if (expected) engine.verify(ALICE, c.path);
      else expectDenied(() => engine.verify(ALICE, c.path));
    }
  });
});

describe('policy_is_subset vectors', () => {
  it.each(vectors.policy_is_subset.cases.map((c, i) => ({ ...c, i })))('case $i', (c) => {
    expect(isPolicySubset(c.A, c.B)).toBe(c.a_is_subset_of_b);
    expect(isPolicyEquivalent(c.A, c.B)).toBe(c.equivalent);
    expect(isPolicyEquivalent(c.B, c.A)).toBe(c.equivalent);
  });

  it('treats fully denied and empty patterns as allowing nothing', () => {
    expect(isPolicySubset({ allow: ['/v1/key/*'], deny: ['/v1/*'] }, {})).toBe(true);
    expect(isPolicySubset({ allow: [''] }, {})).toBe(true);
    expect(isPolicySubset({ allow: ['/v1/key/*'] }, { allow: ['/v1/key/create/*'] })).toBe(false);
    expect(isPolicySubset({ allow: ['/v1/status'] }, { allow: ['/v1/status*'] })).toBe(true);
  });
});

describe('matchPattern: prefix semantics (current KES)', () => {
  it.each([
    ['', '', false],
    ['', '/v1/status', false],
    ['*', '', true],
    ['/v1/key/*', '/v1/key/', true],
    ['/v1/key/*', '/v1/key', false],
    ['/v1/key/create/my*', '/v1/key/create/my-key/x', true],
    ['/v1/key/*/x', '/v1/key/a/x', false],
    ['/v1/key/*/x', '/v1/key/*/x', true],
    ['/v1/key/?', '/v1/key/a', false],
    ['/v1/key/[a]', '/v1/key/[a]', true],
    ['/v1/status', '/v1/status/', false],
  ] as const)('%s vs %s → %s', (pattern, path, expected) => {
    expect(matchPattern(pattern, path, 'prefix')).toBe(expected);
  });
});

describe('matchPattern: glob semantics (Go path.Match, KES v0.22)', () => {
  it.each([
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['a[/]b', 'a/b', true],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', 'a', false],
    ['*x', 'xxx', true],
    ['[z-a]', 'm', false],
    ['', '', true],
    ['/v1/key/*/my-key', '/v1/key/create/my-key', true],
    ['/v1/*/list/*', '/v1/key/list/abc', true],
    ['/v1/*/list/*', '/v1/key/list/a/b', false],
    // Go commits to the first match of a chunk after a star (see internal/glob.ts).
    ['*[^x]*c', 'a/c', false],
  ] as const)('%s vs %s → %s', (pattern, path, expected) => {
    expect(matchPattern(pattern, path, 'glob')).toBe(expected);
  });

  it.each([
    ['[]a]', ']'],
    ['[-]', '-'],
    ['[x-]', 'x'],
    ['[x-]', '-'],
    ['[-x]', 'x'],
    ['\\', 'a'],
    ['[a-b-c]', 'a'],
    ['[', 'a'],
    ['[^', 'a'],
    ['[^bc', 'a'],
    ['a[', 'a'],
    ['a[', 'ab'],
    ['a/b[', 'a/b['],
    ['*\\', '*\\'],
  ] as const)('malformed %s never matches (%s)', (pattern, path) => {
    expect(matchPattern(pattern, path, 'glob')).toBe(false);
    const engine = createPolicyEngine({ admin: ADMIN, semantics: 'glob', policies: { p: { allow: [pattern, '/ok'], identities: [ALICE] } } });
    expectDenied(() => engine.verify(ALICE, path));
    engine.verify(ALICE, '/ok');
  });
});

describe('createPolicyEngine', () => {
  const engine = createPolicyEngine({
    admin: ADMIN,
    policies: {
      minio: { allow: ['/v1/key/*', '/v1/status'], deny: ['/v1/key/delete/*'], identities: [ALICE] },
      empty: { identities: [BOB] },
      unused: { allow: ['*'] },
    },
  });

  it('follows the decision order: admin, no policy, deny, allow', () => {
    // Admin bypasses every policy, even paths nobody is allowed.
    engine.verify(ADMIN, '/v1/key/delete/x');
    engine.verify(ADMIN, '/anything');
    // Unknown identity → denied; the empty identity too.
    expectDenied(() => engine.verify('d'.repeat(64), '/v1/status'));
    expectDenied(() => engine.verify('', '/v1/status'));
    // Deny beats allow.
    expectDenied(() => engine.verify(ALICE, '/v1/key/delete/my-key'));
    engine.verify(ALICE, '/v1/key/create/my-key');
    engine.verify(ALICE, '/v1/status');
    // Nothing matches → denied.
    expectDenied(() => engine.verify(ALICE, '/v1/policy/describe/minio'));
    // An empty policy denies everything.
    expectDenied(() => engine.verify(BOB, '/v1/status'));
  });

  it('answers questions about its configuration', () => {
    expect(engine.admin).toBe(ADMIN);
    expect(engine.semantics).toBe('prefix');
    expect(engine.isAdmin(ADMIN)).toBe(true);
    expect(engine.isAdmin(ALICE)).toBe(false);
    expect(engine.isAdmin(ADMIN.toUpperCase())).toBe(false);
    expect(engine.isAdmin('')).toBe(false);
    expect(engine.policyOf(ALICE)).toEqual({ name: 'minio', allow: ['/v1/key/*', '/v1/status'], deny: ['/v1/key/delete/*'] });
    expect(engine.policyOf(ADMIN)).toBeUndefined();
    expect(engine.policy('empty')).toEqual({ name: 'empty', allow: [], deny: [] });
    expect(engine.policy('nope')).toBeUndefined();
    expect(engine.policyNames()).toEqual(['empty', 'minio', 'unused']);
    expect(engine.identities()).toEqual([ADMIN, ALICE, BOB]);
    expect(Object.isFrozen(engine.policyOf(ALICE)!.allow)).toBe(true);
  });

  it('keeps a disabled admin in the identity list but matches no real identity', () => {
    const e = createPolicyEngine({ admin: 'disabled', policies: { p: { allow: ['*'], identities: [ALICE] } } });
    expect(e.identities()).toEqual([ALICE, 'disabled']);
    expect(e.isAdmin(ALICE)).toBe(false);
    e.verify(ALICE, '/v1/status');
    expectDenied(() => e.verify(BOB, '/v1/status'));
  });

  it('defaults to no policies', () => {
    const e = createPolicyEngine({ admin: ADMIN });
    expect(e.policyNames()).toEqual([]);
    expect(e.identities()).toEqual([ADMIN]);
    expectDenied(() => e.verify(ALICE, '/v1/status'));
  });

  it('reports every configuration problem at once', () => {
    const e = thrown(() =>
      createPolicyEngine({
        admin: ADMIN,
        policies: {
          'bad.name': { allow: ['*'] },
          a: { identities: [ALICE, ADMIN, 'not/valid'] },
          b: { identities: [ALICE] },
        },
      }),
    );
    expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((e as { status: number }).status).toBe(400);
    expect((e as Error).message).toBe(
      'invalid policy configuration: ' +
        `policy 'a': identity '${ADMIN}' is the admin identity and cannot be assigned to a policy; ` +
        "policy 'a': identity 'not/valid' is empty, too long or contains invalid characters; " +
        `policy 'b': identity '${ALICE}' is already assigned to policy 'a'; ` +
        "policy name 'bad.name' is empty, too long or contains invalid characters",
    );
  });

  it('rejects an empty admin, unknown semantics and non-string patterns', () => {
    const e = thrown(() =>
      createPolicyEngine({
        admin: '',
        semantics: 'regex' as never,
        policies: { p: { allow: [1 as never], deny: 'x' as never } },
      }),
    );
    expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toBe(
      "invalid policy configuration: admin identity must not be empty; pattern semantics must be 'prefix' or 'glob'; " +
        "policy 'p': allow[0] must be a string; policy 'p': deny must be a list of strings",
    );
  });
});

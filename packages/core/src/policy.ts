/**
 * The policy engine (kes-protocol.md §6): which identity may call which API path.
 *
 * Decision order (§6.2): the admin may do everything; an identity without a policy
 * may do nothing; otherwise any matching deny pattern rejects, then any matching
 * allow pattern accepts, and everything else is rejected.
 */
import { KesError } from './errors.js';
import { identitiesEqual } from './identity.js';
import type { CompiledGlob } from './internal/glob.js';
import { compileGlob, globMatch, globMatches } from './internal/glob.js';
import { isValidName } from './names.js';

/**
 * How policy patterns match a request path.
 * - `'prefix'` — current KES (§6.3): a trailing `*` means "starts with", otherwise exact
 *   equality; other `*`, `?` and `[` are literal; the empty pattern never matches.
 * - `'glob'` — KES v0.22.x and older: Go `path.Match` (`*` and `?` stop at `/`,
 *   `[...]` classes, `\` escapes; a malformed pattern never matches).
 */
export type PatternSemantics = 'prefix' | 'glob';

/** A policy's rules: API path patterns that are allowed and denied. */
export interface PolicyDefinition {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** A policy as the engine holds it (patterns deduplicated, in configuration order). */
export interface Policy {
  readonly name: string;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** Options of {@link createPolicyEngine}. */
export interface PolicyEngineOptions {
  /** The admin identity (`admin.identity`). Any value that is not a 64-char lowercase hex hash effectively disables admin access. */
  admin: string;
  /** Policies by name, each with the identities bound to it. */
  policies?: Readonly<Record<string, PolicyDefinition & { identities?: readonly string[] }>>;
  /** Pattern semantics; default `'prefix'` (current KES). */
  semantics?: PatternSemantics;
}

/** An immutable, validated set of policies and identity bindings. */
export interface PolicyEngine {
  readonly admin: string;
  readonly semantics: PatternSemantics;
  /** True if `identity` is the admin (constant-time comparison; always false for `''`). */
  isAdmin(identity: string): boolean;
  /** The policy bound to `identity`, if any. */
  policyOf(identity: string): Policy | undefined;
  /** The policy called `name`, if any. */
  policy(name: string): Policy | undefined;
  /** All policy names, sorted. */
  policyNames(): string[];
  /** All known identities (the admin and every policy identity), sorted. */
  identities(): string[];
  /**
   * Authorises `identity` to call the API `path` (the unescaped URL path, no query).
   *
   * @throws KesError `ERR_KES_NOT_ALLOWED` if the request is not allowed
   */
  verify(identity: string, path: string): void;
}

/**
 * True if `pattern` matches the API `path` under the given semantics (default `'prefix'`).
 *
 * @example
 * matchPattern('/v1/key/*', '/v1/key/create/x');                         // true
 * matchPattern('/v1/key/describe/[a-z]', '/v1/key/describe/x', 'glob'); // true
 */
export function matchPattern(pattern: string, path: string, semantics: PatternSemantics = 'prefix'): boolean {
  if (semantics === 'glob') return globMatch(pattern, path);
  if (pattern === '') return false;
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1));
  return pattern === path;
}

/** A pattern list compiled once, so that a request does not re-parse patterns. */
interface Matcher {
  matches(path: string): boolean;
}

function compilePatterns(patterns: readonly string[], semantics: PatternSemantics): Matcher {
  const exact = new Set<string>();
  if (semantics === 'prefix') {
    const prefixes: string[] = [];
    for (const p of patterns) {
      if (p === '') continue; // never matches
      if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
      else exact.add(p);
    }
    return {
      matches(path) {
        if (exact.has(path)) return true;
        for (const prefix of prefixes) if (path.startsWith(prefix)) return true;
        return false;
      },
    };
  }
  const globs: CompiledGlob[] = [];
  for (const p of patterns) {
    const glob = compileGlob(p);
    if (glob === undefined) continue; // malformed: never matches
    if (glob.literal !== undefined) exact.add(glob.literal);
    else globs.push(glob);
  }
  return {
    matches(path) {
      if (exact.has(path)) return true;
      for (const glob of globs) if (globMatches(glob, path)) return true;
      return false;
    },
  };
}

interface CompiledPolicy {
  readonly policy: Policy;
  readonly allow: Matcher;
  readonly deny: Matcher;
}

function stringList(value: unknown, where: string, problems: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push(`${where} must be a list of strings`);
    return [];
  }
  const out: string[] = [];
  value.forEach((v: unknown, i) => {
    if (typeof v === 'string') out.push(v);
    else problems.push(`${where}[${i}] must be a string`);
  });
  return out;
}

/**
 * Validates the policy configuration and compiles it into an engine. Every problem is
 * reported at once: invalid policy names, invalid identities, an identity that is both
 * admin and in a policy, and an identity bound to more than one policy.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` whose message lists every problem
 * @example
 * const engine = createPolicyEngine({
 *   admin: adminIdentity,
 *   policies: { minio: { allow: ['/v1/key/*', '/v1/status'], identities: [minioIdentity] } },
 * });
 * engine.verify(minioIdentity, '/v1/key/generate/my-key');
 */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const problems: string[] = [];
  const admin = options.admin;
  const semantics = options.semantics ?? 'prefix';
  if (typeof admin !== 'string' || admin === '') problems.push('admin identity must not be empty');
  if (semantics !== 'prefix' && semantics !== 'glob') problems.push(`pattern semantics must be 'prefix' or 'glob'`);

  const byName = new Map<string, CompiledPolicy>();
  const byIdentity = new Map<string, string>();
  const effective: PatternSemantics = semantics === 'glob' ? 'glob' : 'prefix';
  const names = Object.keys(options.policies ?? {}).sort();
  for (const name of names) {
    const def = options.policies![name]!;
    if (!isValidName(name)) problems.push(`policy name '${name}' is empty, too long or contains invalid characters`);
    const allow = [...new Set(stringList(def.allow, `policy '${name}': allow`, problems))];
    const deny = [...new Set(stringList(def.deny, `policy '${name}': deny`, problems))];
    for (const id of new Set(stringList(def.identities, `policy '${name}': identities`, problems))) {
      if (!isValidName(id)) {
        problems.push(`policy '${name}': identity '${id}' is empty, too long or contains invalid characters`);
        continue;
      }
      if (typeof admin === 'string' && id === admin) {
        problems.push(`policy '${name}': identity '${id}' is the admin identity and cannot be assigned to a policy`);
        continue;
      }
      const other = byIdentity.get(id);
      if (other !== undefined) {
        problems.push(`policy '${name}': identity '${id}' is already assigned to policy '${other}'`);
        continue;
      }
      byIdentity.set(id, name);
    }
    const policy: Policy = Object.freeze({ name, allow: Object.freeze(allow), deny: Object.freeze(deny) });
    byName.set(name, { policy, allow: compilePatterns(allow, effective), deny: compilePatterns(deny, effective) });
  }
  if (problems.length > 0) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`invalid policy configuration: ${problems.join('; ')}`]);
  }

  const sortedIdentities = [...new Set([admin, ...byIdentity.keys()])].sort();

  const engine: PolicyEngine = {
    admin,
    semantics: effective,
    isAdmin(identity) {
      // Constant-time: an attacker must not learn the admin identity byte by byte.
      return identity !== '' && identitiesEqual(identity, admin);
    },
    policyOf(identity) {
      const name = byIdentity.get(identity);
      return name === undefined ? undefined : byName.get(name)?.policy;
    },
    policy(name) {
      return byName.get(name)?.policy;
    },
    policyNames() {
      return [...byName.keys()];
    },
    identities() {
      return [...sortedIdentities];
    },
    verify(identity, path) {
      if (engine.isAdmin(identity)) return;
      const name = byIdentity.get(identity);
      const compiled = name === undefined ? undefined : byName.get(name);
      if (compiled === undefined) throw new KesError('ERR_KES_NOT_ALLOWED');
      // Deny beats allow.
      if (compiled.deny.matches(path)) throw new KesError('ERR_KES_NOT_ALLOWED');
      if (compiled.allow.matches(path)) return;
      throw new KesError('ERR_KES_NOT_ALLOWED');
    },
  };
  return Object.freeze(engine);
}

// ---- Subset (client-side helper, prefix semantics) -------------------------------

/** A prefix-semantics pattern as a set of strings: one exact string, or all strings with a prefix. */
type PatternSet = { readonly kind: 'exact'; readonly s: string } | { readonly kind: 'prefix'; readonly s: string };

function toSet(pattern: string): PatternSet | undefined {
  if (pattern === '') return undefined; // matches nothing
  return pattern.endsWith('*') ? { kind: 'prefix', s: pattern.slice(0, -1) } : { kind: 'exact', s: pattern };
}

/** Every string matched by `inner` is matched by `outer`. */
function covers(outer: PatternSet, inner: PatternSet): boolean {
  if (outer.kind === 'exact') return inner.kind === 'exact' && inner.s === outer.s;
  return inner.s.startsWith(outer.s);
}

/** The strings matched by both, as a pattern set, or undefined if none. */
function intersect(a: PatternSet, b: PatternSet): PatternSet | undefined {
  if (a.kind === 'exact') return matchesSet(b, a.s) ? a : undefined;
  if (b.kind === 'exact') return matchesSet(a, b.s) ? b : undefined;
  if (a.s.startsWith(b.s)) return a;
  if (b.s.startsWith(a.s)) return b;
  return undefined;
}

function matchesSet(p: PatternSet, s: string): boolean {
  return p.kind === 'exact' ? p.s === s : s.startsWith(p.s);
}

function sets(patterns: readonly string[] | undefined): PatternSet[] {
  return (patterns ?? []).map(toSet).filter((p): p is PatternSet => p !== undefined);
}

/**
 * True if every request policy `a` allows is also allowed by policy `b` (prefix
 * semantics, §6.3). The check is sound — `true` is only returned when `a` really is a
 * subset — and exact for policies whose allow patterns are each covered by a single
 * pattern of `b`, which is how policies are written in practice.
 *
 * @example
 * isPolicySubset({ allow: ['/v1/key/create/my-key'] }, { allow: ['/v1/key/create/*'] }); // true
 */
export function isPolicySubset(a: PolicyDefinition, b: PolicyDefinition): boolean {
  const aDeny = sets(a.deny);
  const bAllow = sets(b.allow);
  const bDeny = sets(b.deny);
  const deniedByA = (p: PatternSet): boolean => aDeny.some((d) => covers(d, p));
  for (const p of sets(a.allow)) {
    if (deniedByA(p)) continue; // allows nothing
    // Whatever `a` allows through `p` must be allowed by `b`…
    if (!bAllow.some((q) => covers(q, p))) return false;
    // …and must not be denied by `b`, unless `a` denies it as well.
    for (const d of bDeny) {
      const overlap = intersect(p, d);
      if (overlap !== undefined && !deniedByA(overlap)) return false;
    }
  }
  return true;
}

/**
 * True if two policies allow exactly the same requests (each is a subset of the other).
 *
 * @example
 * isPolicyEquivalent({ deny: ['/v1/status'] }, {}); // true: both allow nothing
 */
export function isPolicyEquivalent(a: PolicyDefinition, b: PolicyDefinition): boolean {
  return isPolicySubset(a, b) && isPolicySubset(b, a);
}

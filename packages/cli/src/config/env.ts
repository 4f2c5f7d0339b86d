// `${VAR}` substitution, as upstream: a whole value `${NAME}` is replaced by the
// variable; a reference to an unset variable is a problem (never a silent empty
// value). The environment is passed in: the loader never reads `process.env`.
import type { PathSegment } from './yaml-path.js';
import { isMap } from './values.js';
import type { Doc, Problem } from './values.js';

/** Fields whose values are taken literally (no `${VAR}`), as upstream. */
function envAllowed(path: readonly PathSegment[]): boolean {
  if (path.length === 1 && path[0] === 'version') return false;
  if (path[0] === 'policy' && (path[2] === 'allow' || path[2] === 'deny')) return false;
  return true;
}

const ENV_REF = /^\$\{(.*)\}$/s;

/** Replaces every `${VAR}` value in `doc` (in place); an unset variable becomes `''` and a problem. */
export function substituteEnv(doc: Doc, env: Readonly<Record<string, string | undefined>>, problems: Problem[]): void {
  substitute(doc, [], env, problems);
}

function substitute(v: unknown, path: PathSegment[], env: Readonly<Record<string, string | undefined>>, problems: Problem[]): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = substitute(v[i], [...path, i], env, problems);
    return v;
  }
  if (isMap(v)) {
    for (const k of Object.keys(v)) v[k] = substitute(v[k], [...path, k], env, problems);
    return v;
  }
  if (typeof v !== 'string' || !envAllowed(path)) return v;
  const m = ENV_REF.exec(v.trim());
  if (!m) return v;
  const name = (m[1] ?? '').trim();
  const value = env[name];
  if (value === undefined) {
    problems.push({ path, message: `environment variable '${name}' is not set` });
    return '';
  }
  return value;
}

const TRUE = new Set(['y', 'yes', 'on', 'true']);
const FALSE = new Set(['n', 'no', 'off', 'false']);

/**
 * `skip_auth` (and kes-ts' `log.audit_file.fail_closed` / `fsync`, `key_versions.enabled`, `tls.http2`) arrive as text (the failsafe YAML schema reads every scalar as text, and
 * so is a `${VAR}` value): accept the YAML boolean spellings before the schema check.
 */
export function coerceBooleans(doc: Doc): void {
  const auditFile = isMap(doc.log) && isMap(doc.log.audit_file) ? doc.log.audit_file : undefined;
  const keyVersions = isMap(doc.key_versions) ? doc.key_versions : undefined;
  const tls = isMap(doc.tls) ? doc.tls : undefined;
  for (const [m, field] of [
    [tls, 'http2'],
    [auditFile, 'fail_closed'],
    [auditFile, 'fsync'],
    [keyVersions, 'enabled'],
  ] as const) {
    const v = m?.[field];
    if (m && typeof v === 'string') {
      const t = v.trim().toLowerCase();
      if (TRUE.has(t)) m[field] = true;
      else if (FALSE.has(t)) m[field] = false;
    }
  }
  if (!isMap(doc.api)) return;
  for (const route of Object.values(doc.api)) {
    if (isMap(route) && typeof route.skip_auth === 'string') {
      const t = route.skip_auth.trim().toLowerCase();
      if (TRUE.has(t)) route.skip_auth = true;
      else if (FALSE.has(t)) route.skip_auth = false;
    }
  }
}

// The shape-and-type check (ajv against CONFIG_SCHEMA, every error at once) and the
// translation of ajv's errors into config problems: `unknown field 'adress' (did you
// mean 'address'?)`, `must be a list`, `must be a duration such as 30s or 5m`.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { CONFIG_SCHEMA } from './schema.js';
import { didYouMean } from './suggest.js';
import { isMap } from './values.js';
import type { Doc, Problem } from './values.js';
import type { PathSegment } from './yaml-path.js';

/** Fields whose schema type is a duration (a Go duration string, or `0`). */
const DURATION_FIELDS = new Set(['cache.expiry.any', 'cache.expiry.unused', 'cache.expiry.offline', 'keystore.vault.status.ping']);

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  object: 'a mapping',
  array: 'a list',
  boolean: 'a boolean (true or false)',
  integer: 'an integer',
};

let validator: ReturnType<Ajv['compile']> | undefined;

/** The schema validator, compiled once. `verbose` puts the parent schema on each error (for hints). */
function compiledSchema(): ReturnType<Ajv['compile']> {
  validator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(CONFIG_SCHEMA);
  return validator;
}

/** Every shape or type problem of `doc` (unknown fields included), in ajv's order. */
export function schemaProblems(doc: Doc): Problem[] {
  const validate = compiledSchema();
  if (validate(doc)) return [];
  const problems: Problem[] = [];
  for (const e of validate.errors ?? []) {
    const p = describeAjvError(e, doc);
    if (p) problems.push(p);
  }
  return problems;
}

/** A JSON pointer (`/policy/app/allow/0`) as path segments, list indexes as numbers. */
function pointerToPath(pointer: string, doc: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = isMap(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

function isDurationField(path: readonly PathSegment[]): boolean {
  return DURATION_FIELDS.has(path.join('.')) || (path[0] === 'api' && path[2] === 'timeout');
}

function describeAjvError(e: ErrorObject, doc: unknown): Problem | undefined {
  const path = pointerToPath(e.instancePath, doc);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
      const known = Object.keys(parent?.properties ?? {});
      return { path: [...path, field], message: `unknown field '${field}'${didYouMean(field, known)}` };
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'is required' };
    case 'type': {
      if (isDurationField(path)) return { path, message: 'must be a duration such as 30s or 5m' };
      const types = String(p.type).split(',');
      return { path, message: `must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}` };
    }
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

// Loading a KES server config file, as a pipeline of small steps:
//   read → YAML → legacy migration → flag overrides → `${VAR}` substitution
//   → schema check (shape, types, unknown fields) → section checks → options.
// Every problem is collected and reported together as `file:line: path: message`
// lines in one ConfigError. Nothing here reads `process.env` or exits the process.
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { checkSections } from './check.js';
import { ConfigError } from './config-error.js';
import { coerceBooleans, substituteEnv } from './env.js';
import { migrateLegacyConfig } from './legacy.js';
import { applyOverrides } from './overrides.js';
import { problemsError } from './report.js';
import { schemaProblems } from './schema-errors.js';
import type { LoadConfigOptions, LoadedConfig, ParseConfigOptions } from './types.js';
import { isMap } from './values.js';
import type { CheckContext, Doc, Problem } from './values.js';
import { formatPath } from './yaml-path.js';

/**
 * Reads and validates a config file.
 *
 * @param path - the YAML file.
 * @throws `ERR_KES_INVALID_CONFIG` ({@link ConfigError}) listing every problem, one per line.
 * @example
 * import { loadConfigFile, openKeyStore } from '@kes/cli/config';
 * import { createKesServer } from '@kes/server';
 *
 * const config = await loadConfigFile('kes.yml', { env: process.env });
 * for (const warning of config.warnings) console.warn(warning);
 * const server = await createKesServer({ ...config.options, keyStore: await openKeyStore(config) });
 * await server.listen();
 */
export async function loadConfigFile(path: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'cannot read');
    throw new ConfigError([`${path}: cannot read config file: ${why}`], { cause: err });
  }
  if (/\.toml$/i.test(path)) {
    throw new ConfigError([`${path}: TOML config files (kes v0.1–v0.7) are not supported: convert the file to YAML`]);
  }
  return parseConfigText(text, { ...options, file: path });
}

/**
 * Validates config text (YAML). Same rules as {@link loadConfigFile}.
 *
 * @throws `ERR_KES_INVALID_CONFIG` ({@link ConfigError}) listing every problem.
 * @example
 * const config = parseConfigText('admin: {identity: disabled}\ntls: {key: k.pem, cert: c.pem}\nkeystore: {memory: {}}\n');
 * config.options.admin; // 'disabled'
 */
export function parseConfigText(text: string, options: ParseConfigOptions = {}): LoadedConfig {
  const file = options.file ?? 'config';
  const migration = migrateLegacyConfig(readYaml(text, file));
  const doc = migration.document;
  const warnings = [...migration.notices];
  const fromFlags = applyOverrides(doc, options.overrides, warnings, file);
  const problems: Problem[] = [];
  substituteEnv(doc, options.env ?? {}, problems);
  coerceBooleans(doc);
  problems.push(...schemaProblems(doc));

  const { baseDir } = options;
  const ctx: CheckContext = {
    doc,
    problems,
    broken: new Set(problems.map((p) => formatPath(p.path))),
    warnings,
    legacy: migration.legacy,
    resolvePath: (p) => (baseDir && p !== '' && !p.startsWith('/') ? `${baseDir}/${p}` : p),
  };
  const checked = checkSections(ctx, migration.markers, options.implicitMemoryStore === true);
  if (problems.length > 0 || !checked.keyStore) {
    throw problemsError(problems, { file, text, aliases: migration.aliases, fromFlags });
  }
  return {
    file,
    options: checked.options,
    keyStore: checked.keyStore.keyStore,
    implicitMemoryStore: checked.keyStore.implicit,
    ...(checked.workers !== undefined ? { workers: checked.workers } : {}),
    legacyMarkers: [...migration.markers],
    warnings,
  };
}

/**
 * Failsafe schema: every scalar is text, as a Go string field would see it (a 64-digit
 * identity must not become a float); booleans are coerced later. Plus merge keys
 * (`<<: *common`), which yaml.v3 applies upstream: policies sharing an anchor must get
 * every merged field. A quoted `"<<"` stays a plain key, as in yaml.v3.
 */
const YAML_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  // js-yaml merges the mappings of any key resolved to this tag (its own merge type, declared here).
  implicit: [new yaml.Type('tag:yaml.org,2002:merge', { kind: 'scalar', resolve: (data: unknown) => data === '<<' })],
});

/**
 * Most nodes a document may expand to once aliases are copied out. Threat: a few lines of
 * nested aliases ("billion laughs") expand exponentially; yaml.v3 refuses such documents
 * ("excessive aliasing") too.
 */
const MAX_EXPANDED_NODES = 100_000;

/** The first YAML document as a mapping (an empty text is an empty mapping). */
function readYaml(text: string, file: string): Doc {
  let parsed: unknown;
  try {
    // Only the first YAML document counts (as upstream).
    const docs: unknown[] = [];
    yaml.loadAll(text, (d) => docs.push(d), { filename: file, schema: YAML_SCHEMA });
    parsed = docs[0];
  } catch (err) {
    const e = err as { reason?: string; mark?: { line?: number } };
    const line = e.mark?.line !== undefined ? `:${e.mark.line + 1}` : '';
    throw new ConfigError([`${file}${line}: invalid YAML: ${e.reason ?? String(err)}`], { cause: err });
  }
  if (parsed === undefined || parsed === null) return {};
  if (!isMap(parsed)) throw new ConfigError([`${file}: the config must be a YAML mapping`]);
  return expandAliases(parsed, file);
}

/**
 * A copy of the document in which every alias is a node of its own. js-yaml hands an
 * alias (and every value a merge key brings in) out as the *same* object as its anchor;
 * the later steps rewrite values in place (`${VAR}`, booleans, migration), which must
 * happen once per place in the file, not once per anchor.
 *
 * @throws ConfigError for a recursive alias or a document over {@link MAX_EXPANDED_NODES}.
 */
function expandAliases(doc: Doc, file: string): Doc {
  let nodes = 0;
  const copy = (v: unknown, open: Set<object>): unknown => {
    if (++nodes > MAX_EXPANDED_NODES) {
      throw new ConfigError([`${file}: invalid YAML: the document expands to more than ${MAX_EXPANDED_NODES} nodes (excessive aliasing)`]);
    }
    if (v === null || typeof v !== 'object') return v;
    if (open.has(v)) throw new ConfigError([`${file}: invalid YAML: an alias refers to a node that contains it`]);
    open.add(v);
    let out: unknown;
    if (Array.isArray(v)) {
      out = v.map((x) => copy(x, open));
    } else {
      const m: Doc = {};
      for (const [k, x] of Object.entries(v)) {
        // defineProperty: a `__proto__` key stays data, as js-yaml returned it.
        Object.defineProperty(m, k, { value: copy(x, open), enumerable: true, writable: true, configurable: true });
      }
      out = m;
    }
    open.delete(v);
    return out;
  };
  return copy(doc, new Set()) as Doc;
}

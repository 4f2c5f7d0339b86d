// Loading a KES server config file: YAML → legacy migration → `${VAR}` substitution
// → JSON-Schema check (ajv) → value checks. Every problem is collected and reported
// together as `file:line: path: message` lines in one ConfigError.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import yaml from 'js-yaml';
import { isValidName, parseDuration } from '@kes/core';
import { ConfigError } from './config-error.js';
import { migrateLegacyConfig } from './legacy.js';
import { API_ROUTES, CONFIG_SCHEMA } from './schema.js';
import { didYouMean } from './suggest.js';
import { formatPath, locateLine } from './yaml-path.js';
import type { PathSegment } from './yaml-path.js';
import type { AwsKeyStoreOptions, VaultKeyStoreOptions } from '@kes/keystores';

/** A console log level after parsing (`on` = INFO, `off` = nothing). */
export type ConfigLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'off';

/** Vault settings: exactly the options `createKeyStore({ type: 'vault' })` takes, so they cannot drift. */
export type VaultSettings = VaultKeyStoreOptions;

/** AWS Secrets Manager settings: exactly the options `createKeyStore({ type: 'aws' })` takes. */
export type AwsSettings = AwsKeyStoreOptions;

/** The key store a config selects. */
export type KeyStoreSettings =
  /**
   * The in-memory store: `keystore: {memory: {}}` (`configured: true`), or the
   * seed-era flags without any config file (`configured: false`, see
   * {@link ParseConfigOptions.implicitMemoryStore}).
   */
  | { readonly type: 'memory'; readonly configured: boolean }
  | { readonly type: 'fs'; readonly path: string }
  | { readonly type: 'vault'; readonly options: VaultSettings }
  | { readonly type: 'aws'; readonly options: AwsSettings }
  /** A backend kes-ts parses but cannot run (gcp, azure, gemalto, fortanix, entrust, kes, generic). */
  | { readonly type: 'unsupported'; readonly name: string };

/** A policy after loading. */
export interface ConfigPolicy {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly identities: readonly string[];
}

/** A loaded, validated server config (every era normalised to one shape). */
export interface KesConfig {
  /** The file it came from (`''` when built from flags only). */
  readonly file: string;
  /** Listen address `[ip]:port`; absent = `0.0.0.0:7373`. */
  readonly address?: string;
  /** The admin identity: 64 lowercase hex digits, or `disabled` (admin access off). */
  readonly admin: string;
  readonly tls: {
    readonly cert: string;
    readonly key: string;
    readonly password?: string;
    readonly auth: 'on' | 'off';
    readonly ca?: string;
    readonly proxy?: { readonly identities: readonly string[]; readonly header?: string };
  };
  /** Cache expiry in milliseconds (defaults 5m / 30s / 0). */
  readonly cache: { readonly anyMs: number; readonly unusedMs: number; readonly offlineMs: number };
  readonly log: { readonly error: ConfigLogLevel; readonly audit: ConfigLogLevel };
  readonly api: Readonly<Record<string, { readonly timeoutMs?: number; readonly skipAuth?: boolean }>>;
  readonly policies: Readonly<Record<string, ConfigPolicy>>;
  readonly keys: readonly { readonly name: string }[];
  readonly keystore: KeyStoreSettings;
  /** `'glob'` for v0.x files (Go `path.Match` policies), else `'prefix'`. */
  readonly patternSemantics: 'prefix' | 'glob';
  /** Whether the file has a kes v0.x era marker (then `patternSemantics` is `'glob'`). */
  readonly legacy: boolean;
  /** The era markers that made it a v0.x file (`root`, `policy.<n>.paths`, …); empty otherwise. */
  readonly legacyMarkers: readonly string[];
  /** Deprecation notices and other warnings, one line each, to show at start. */
  readonly warnings: readonly string[];
}

/** Values that take precedence over the file (the `kes server` flags). */
export interface ConfigOverrides {
  /** `--addr`. */
  readonly address?: string;
  /** `--root`: the admin identity. */
  readonly admin?: string;
  /** `--cert`. */
  readonly cert?: string;
  /** `--key`. */
  readonly key?: string;
  /** `--auth on|off`. */
  readonly auth?: string;
}

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** File name used in messages (default `config`). */
  readonly file?: string;
  /** Environment for `${VAR}` references (the CLI passes `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly overrides?: ConfigOverrides;
  /** Base directory for relative paths in the file (default: none, kept as written). */
  readonly baseDir?: string;
  /**
   * Use the in-memory store when no key store is configured, instead of failing.
   * Only for the seed-era flags without a config file (`kes server --cert --key
   * --root`), where no key store can be configured (kes v0.8–v0.17 behaved so).
   * A config file without a key store is always an error: a typo such as
   * `keystor:` must not end in a store that loses every key on restart.
   */
  readonly implicitMemoryStore?: boolean;
}

const DEFAULT_CACHE = { anyMs: 5 * 60_000, unusedMs: 30_000, offlineMs: 0 };
const DURATION_FIELDS = new Set(['cache.expiry.any', 'cache.expiry.unused', 'cache.expiry.offline']);

type Doc = Record<string, unknown>;
const isMap = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Problem {
  readonly path: PathSegment[];
  readonly message: string;
}

/**
 * Reads and validates a config file.
 *
 * @param path - the YAML file.
 * @param env - environment for `${VAR}` references (`process.env` in the CLI).
 * @param overrides - flag values that take precedence over the file.
 * @throws `ERR_KES_INVALID_CONFIG` ({@link ConfigError}) listing every problem, one per line.
 * @example
 * const config = await loadConfig('kes.yml', process.env);
 */
export async function loadConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>> = {},
  overrides?: ConfigOverrides,
): Promise<KesConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'cannot read');
    throw new ConfigError([`${path}: cannot read config file: ${why}`], { cause: err });
  }
  if (/\.toml$/i.test(path)) {
    throw new ConfigError([`${path}: TOML config files (kes v0.1–v0.7) are not supported: convert the file to YAML`]);
  }
  return parseConfig(text, { file: path, env, ...(overrides ? { overrides } : {}) });
}

/**
 * Validates config text (YAML). Same rules as {@link loadConfig}.
 *
 * @throws `ERR_KES_INVALID_CONFIG` ({@link ConfigError}) listing every problem.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): KesConfig {
  const file = options.file ?? 'config';
  const env = options.env ?? {};
  let parsed: unknown;
  try {
    // Only the first YAML document counts (as upstream).
    const docs: unknown[] = [];
    // Failsafe schema: every scalar is text, as a Go string field would see it (a
    // 64-digit identity must not become a float); booleans are coerced below.
    yaml.loadAll(text, (d) => docs.push(d), { filename: file, schema: yaml.FAILSAFE_SCHEMA });
    parsed = docs[0];
  } catch (err) {
    const e = err as { reason?: string; mark?: { line?: number } };
    const line = e.mark?.line !== undefined ? `:${e.mark.line + 1}` : '';
    throw new ConfigError([`${file}${line}: invalid YAML: ${e.reason ?? String(err)}`], { cause: err });
  }
  if (parsed === undefined || parsed === null) parsed = {};
  if (!isMap(parsed)) throw new ConfigError([`${file}: the config must be a YAML mapping`]);

  const migration = migrateLegacyConfig(parsed);
  const doc = migration.document;
  const problems: Problem[] = [];
  const warnings: string[] = [...migration.notices];

  const fromFlags = applyOverrides(doc, options.overrides, warnings, file);
  substituteEnv(doc, [], env, problems);
  coerceBooleans(doc);

  // Shape and types (ajv, all errors at once); unknown fields are errors too.
  const validate = compiledSchema();
  if (!validate(doc)) {
    for (const e of validate.errors ?? []) {
      const r = describeAjvError(e, doc);
      if (r) problems.push(r);
    }
  }
  const typeBroken = new Set(problems.map((p) => formatPath(p.path)));
  const config = checkValues(doc, problems, typeBroken, warnings, file, migration.markers, options);

  if (problems.length > 0) {
    // One problem per field (the first found), ordered by line.
    const seen = new Set<string>();
    const located = problems
      .filter((p) => {
        const k = formatPath(p.path);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      })
      .map((p) => ({ p, at: locateLine(text, p.path) ?? locateAlias(text, p.path, migration.aliases) }));
    located.sort((a, b) => (a.at ?? Number.MAX_SAFE_INTEGER) - (b.at ?? Number.MAX_SAFE_INTEGER));
    throw new ConfigError(
      located.map(({ p, at }) => {
        // A value that came from a flag is reported under the flag, not under a file line.
        const flag = fromFlags.get(formatPath(p.path));
        if (flag !== undefined) return `--${flag}: ${p.message}`;
        return `${file}${at !== undefined ? `:${at}` : ''}: ${formatPath(p.path)}: ${p.message}`;
      }),
    );
  }
  return config as KesConfig;
}

function locateAlias(text: string, path: PathSegment[], aliases: Map<string, PathSegment[]>): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const old = aliases.get(path.slice(0, n).join('.'));
    if (old) return locateLine(text, [...old, ...path.slice(n)]);
  }
  return undefined;
}

function setIn(doc: Doc, path: string[], value: unknown): void {
  let m = doc;
  for (const seg of path.slice(0, -1)) {
    if (!isMap(m[seg])) m[seg] = {};
    m = m[seg] as Doc;
  }
  m[path[path.length - 1] as string] = value;
}

function getIn(doc: unknown, path: readonly PathSegment[]): unknown {
  let v = doc;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isMap(v) && typeof seg === 'string') v = v[seg];
    else return undefined;
  }
  return v;
}

/** Writes the flag values into the document; returns formatted path → flag name for each. */
function applyOverrides(doc: Doc, o: ConfigOverrides | undefined, warnings: string[], file: string): Map<string, string> {
  const fromFlags = new Map<string, string>();
  if (!o) return fromFlags;
  const set = (flag: string, path: string[], value: string | undefined): void => {
    if (value === undefined) return;
    const old = getIn(doc, path);
    if (typeof old === 'string' && old !== '' && old !== value) {
      warnings.push(`--${flag} overrides '${path.join('.')}' from ${file}`);
    }
    setIn(doc, path, value);
    fromFlags.set(formatPath(path), flag);
  };
  set('addr', ['address'], o.address);
  set('root', ['admin', 'identity'], o.admin);
  set('cert', ['tls', 'cert'], o.cert);
  set('key', ['tls', 'key'], o.key);
  set('auth', ['tls', 'auth'], o.auth);
  return fromFlags;
}

/** Fields whose values are taken literally (no `${VAR}`), as upstream. */
function envAllowed(path: readonly PathSegment[]): boolean {
  if (path.length === 1 && path[0] === 'version') return false;
  if (path[0] === 'policy' && (path[2] === 'allow' || path[2] === 'deny')) return false;
  return true;
}

const ENV_REF = /^\$\{(.*)\}$/s;

function substituteEnv(v: unknown, path: PathSegment[], env: Readonly<Record<string, string | undefined>>, problems: Problem[]): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = substituteEnv(v[i], [...path, i], env, problems);
    return v;
  }
  if (isMap(v)) {
    for (const k of Object.keys(v)) v[k] = substituteEnv(v[k], [...path, k], env, problems);
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

/** `skip_auth` from `${VAR}` arrives as text: accept the YAML boolean spellings. */
function coerceBooleans(doc: Doc): void {
  if (!isMap(doc.api)) return;
  for (const route of Object.values(doc.api)) {
    if (isMap(route) && typeof route.skip_auth === 'string') {
      const t = route.skip_auth.trim().toLowerCase();
      if (TRUE.has(t)) route.skip_auth = true;
      else if (FALSE.has(t)) route.skip_auth = false;
    }
  }
}

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
      const types = String(p.type).split(',');
      const key = path[path.length - 1];
      if (types.includes('integer') && types.includes('string') && typeof key === 'string' && DURATION_FIELDS.has(path.join('.'))) {
        return { path, message: 'must be a duration such as 30s or 5m' };
      }
      if (path[0] === 'api' && path[2] === 'timeout') return { path, message: 'must be a duration such as 30s or 5m' };
      if (path.join('.') === 'keystore.vault.status.ping') return { path, message: 'must be a duration such as 30s or 5m' };
      return { path, message: `must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}` };
    }
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

/** `WARN+2`, `on`, `off`, `-4` … → the console level (the nearest level at or above it). */
export function parseLogLevel(value: unknown): ConfigLogLevel | undefined {
  if (value === undefined || value === null || value === '') return 'INFO';
  if (value === true) return 'INFO';
  if (value === false) return 'off';
  const t = String(value).trim().toUpperCase();
  if (t === '') return 'INFO';
  if (t === 'ON') return 'INFO';
  if (t === 'OFF') return 'off';
  const base: Record<string, number> = { DEBUG: -4, INFO: 0, WARN: 4, ERROR: 8 };
  let n: number | undefined;
  const m = /^(DEBUG|INFO|WARN|ERROR)(?:\+(\d+))?$/.exec(t);
  if (m) n = (base[m[1] as string] as number) + Number(m[2] ?? 0);
  else if (/^[+-]?\d+$/.test(t)) n = Number(t);
  if (n === undefined) return undefined;
  if (n <= -4) return 'DEBUG';
  if (n <= 0) return 'INFO';
  if (n <= 4) return 'WARN';
  if (n <= 8) return 'ERROR';
  return 'off';
}

function durationMs(v: unknown, path: PathSegment[], problems: Problem[], broken: Set<string>): number | undefined {
  if (v === undefined || v === null || broken.has(formatPath(path))) return undefined;
  if (typeof v === 'number') {
    if (v === 0) return 0;
    problems.push({ path, message: `must be a duration with a unit such as 30s or 5m, not the number ${v}` });
    return undefined;
  }
  let ms: number;
  try {
    ms = parseDuration(String(v).trim());
  } catch {
    problems.push({ path, message: `'${String(v)}' is not a duration (use e.g. 30s, 5m, 1h30m)` });
    return undefined;
  }
  if (ms < 0) {
    problems.push({ path, message: 'must not be negative' });
    return undefined;
  }
  return ms;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function requireStr(m: Doc | undefined, path: PathSegment[], problems: Problem[]): string {
  const key = path[path.length - 1] as string;
  const v = m?.[key];
  if (typeof v !== 'string') {
    if (v === undefined || v === null) problems.push({ path, message: 'is required' });
    return '';
  }
  if (v.trim() === '') problems.push({ path, message: 'must not be empty' });
  return v;
}

const HEX_IDENTITY = /^[0-9a-f]{64}$/;

/**
 * `admin.identity` must be an identity a client can have (64 lowercase hex digits) or
 * the documented `disabled`. Upstream takes any string, so a typo, an uppercase
 * identity or a pasted API key silently disables admin access; here each is an error.
 * The value is never echoed: a pasted API key is a secret.
 * Returns the normalised identity (`disabled` in lowercase).
 */
function checkAdminIdentity(value: string, path: PathSegment[], problems: Problem[]): string {
  if (HEX_IDENTITY.test(value)) return value;
  if (value.toLowerCase() === 'disabled') return 'disabled';
  let message: string;
  if (/^[0-9a-fA-F]{64}$/.test(value)) {
    message =
      "has uppercase hex digits: write the identity in lowercase, as 'kes identity of' prints it (identities are compared exactly, so an uppercase one never matches and admin access would be silently disabled)";
  } else if (/^kes:v1:/i.test(value)) {
    message = "is an API key, not an identity: use the identity of the key ('kes identity of <API key>') and keep the key itself secret";
  } else if (/^[0-9a-fA-F]+$/.test(value)) {
    message = `must be 64 hex digits, not ${value.length}`;
  } else {
    message = `must be an identity (64 lowercase hex digits, as printed by 'kes identity of') or 'disabled' to turn admin access off${didYouMean(value, ['disabled'])}`;
  }
  problems.push({ path, message });
  return value;
}

/** Checks an `[ip]:port` listen address. Returns the problem or undefined. */
export function checkAddress(address: string): string | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) return `'${address}' is not a listen address of the form [ip]:port (e.g. 0.0.0.0:7373 or :7373)`;
  const host = m[1] ?? m[2] ?? '';
  if (host !== '' && isIP(host) === 0) return `host '${host}' must be an IP address or empty (host names are not allowed)`;
  const port = Number(m[3]);
  if (port > 65535) return `port ${port} is out of range (0–65535)`;
  return undefined;
}

const BACKENDS: readonly [string, string | undefined][] = [
  ['fs', undefined],
  ['vault', undefined],
  ['aws', 'secretsmanager'],
  ['gcp', 'secretmanager'],
  ['azure', 'keyvault'],
  ['gemalto', 'keysecure'],
  ['fortanix', 'sdkms'],
  ['entrust', 'keycontrol'],
  ['kes', undefined],
  ['generic', undefined],
  ['memory', undefined],
];

function checkValues(
  doc: Doc,
  problems: Problem[],
  broken: Set<string>,
  warnings: string[],
  file: string,
  legacyMarkers: readonly string[],
  options: ParseConfigOptions,
): KesConfig | undefined {
  const { baseDir } = options;
  const legacy = legacyMarkers.length > 0;
  const resolvePath = (p: string): string => (baseDir && p !== '' && !p.startsWith('/') ? `${baseDir}/${p}` : p);

  if ('kms' in doc) {
    problems.push({ path: ['kms'], message: "the kes v0.7 'kms' wrapping section is not supported: migrate the keys with kes v0.7 first" });
  }
  if (doc.version !== undefined && doc.version !== 'v1' && !broken.has('version')) {
    problems.push({ path: ['version'], message: `unsupported config version '${String(doc.version)}': only 'v1' is supported` });
  }

  let address: string | undefined;
  if (typeof doc.address === 'string' && doc.address.trim() !== '') {
    address = doc.address.trim();
    const why = checkAddress(address);
    if (why) problems.push({ path: ['address'], message: why });
  }

  const admin = isMap(doc.admin) ? doc.admin : undefined;
  const adminRaw = requireStr(admin, ['admin', 'identity'], problems).trim();
  const adminIdentity = adminRaw === '' ? '' : checkAdminIdentity(adminRaw, ['admin', 'identity'], problems);

  const tls = isMap(doc.tls) ? doc.tls : undefined;
  const cert = requireStr(tls, ['tls', 'cert'], problems);
  const key = requireStr(tls, ['tls', 'key'], problems);
  let auth: 'on' | 'off' = 'off';
  if (typeof tls?.auth === 'string') {
    const a = tls.auth.trim().toLowerCase();
    if (a === 'on') auth = 'on';
    else if (a !== '' && a !== 'off') problems.push({ path: ['tls', 'auth'], message: `must be 'on' or 'off', not '${tls.auth}'` });
  }
  const proxy = isMap(tls?.proxy) ? tls.proxy : undefined;
  const proxyIds = Array.isArray(proxy?.identities) ? (proxy.identities.filter((x) => typeof x === 'string' && x.trim() !== '') as string[]).map((s) => s.trim()) : [];
  proxyIds.forEach((id, i) => {
    if (id === adminIdentity) problems.push({ path: ['tls', 'proxy', 'identities', i], message: 'a proxy identity must not be the admin identity' });
  });
  const proxyHeader = isMap(proxy?.header) ? str(proxy.header.cert) : undefined;

  const expiry = isMap(doc.cache) && isMap(doc.cache.expiry) ? doc.cache.expiry : {};
  const cache = {
    anyMs: durationMs(expiry.any, ['cache', 'expiry', 'any'], problems, broken) ?? DEFAULT_CACHE.anyMs,
    unusedMs: durationMs(expiry.unused, ['cache', 'expiry', 'unused'], problems, broken) ?? DEFAULT_CACHE.unusedMs,
    offlineMs: durationMs(expiry.offline, ['cache', 'expiry', 'offline'], problems, broken) ?? DEFAULT_CACHE.offlineMs,
  };

  const logDoc = isMap(doc.log) ? doc.log : {};
  const log = { error: 'INFO' as ConfigLogLevel, audit: 'INFO' as ConfigLogLevel };
  for (const s of ['error', 'audit'] as const) {
    if (broken.has(`log.${s}`)) continue;
    const lvl = parseLogLevel(logDoc[s]);
    if (lvl === undefined) problems.push({ path: ['log', s], message: `'${String(logDoc[s])}' is not a log level (on, off, DEBUG, INFO, WARN, ERROR, LEVEL+N or a number)` });
    else log[s] = lvl;
  }

  const api: Record<string, { timeoutMs?: number; skipAuth?: boolean }> = {};
  if (isMap(doc.api)) {
    for (const [route, settings] of Object.entries(doc.api)) {
      if (!API_ROUTES.includes(route)) {
        // An error, not a warning (upstream ignores it): a mistyped route key silently
        // drops the timeout or skip_auth the operator meant to set.
        problems.push({
          path: ['api', route],
          message: `unknown API route${didYouMean(route, API_ROUTES)}: route keys must be written exactly as /v1/api lists them (key, policy and identity routes end with '/')`,
        });
        continue;
      }
      if (!isMap(settings)) continue;
      const timeoutMs = durationMs(settings.timeout, ['api', route, 'timeout'], problems, broken);
      api[route] = {
        ...(timeoutMs !== undefined && timeoutMs > 0 ? { timeoutMs } : {}),
        ...(settings.skip_auth === true ? { skipAuth: true } : {}),
      };
    }
  }

  const policies: Record<string, ConfigPolicy> = {};
  const owner = new Map<string, string>();
  if (isMap(doc.policy)) {
    for (const [name, p] of Object.entries(doc.policy)) {
      if (!isValidName(name)) problems.push({ path: ['policy', name], message: 'invalid policy name: use 1–80 letters, digits, _ or - (not first or last)' });
      const pm = isMap(p) ? p : {};
      const list = (k: string): string[] => (Array.isArray(pm[k]) ? (pm[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
      const identities: string[] = [];
      list('identities').forEach((raw, i) => {
        const id = raw.trim();
        const at: PathSegment[] = ['policy', name, 'identities', i];
        if (id === '') return; // an empty (e.g. unset-but-empty env) entry is ignored, as upstream
        if (!isValidName(id)) problems.push({ path: at, message: `invalid identity '${id}'` });
        else if (id === adminIdentity) problems.push({ path: at, message: 'the admin identity must not be assigned to a policy' });
        else if (proxyIds.includes(id)) problems.push({ path: at, message: 'a TLS proxy identity must not be assigned to a policy' });
        else if (owner.has(id)) problems.push({ path: at, message: `identity is already assigned to policy '${owner.get(id)}'` });
        else {
          owner.set(id, name);
          identities.push(id);
        }
      });
      const allow = list('allow');
      const deny = list('deny');
      if (!legacy) {
        for (const pat of [...allow, ...deny]) {
          if (/[?[]|\*(?!$)/.test(pat)) {
            warnings.push(`policy '${name}': pattern '${pat}' has a wildcard that is not the last character; it matches literally (only a trailing '*' is a wildcard since kes v0.23)`);
          }
        }
      }
      policies[name] = { allow, deny, identities };
    }
  }

  const keys: { name: string }[] = [];
  if (Array.isArray(doc.keys)) {
    const seen = new Set<string>();
    doc.keys.forEach((k, i) => {
      if (!isMap(k) || typeof k.name !== 'string') return;
      const name = k.name.trim();
      if (name === '') problems.push({ path: ['keys', i, 'name'], message: 'must not be empty' });
      else if (seen.has(name)) problems.push({ path: ['keys', i, 'name'], message: `duplicate key '${name}'` });
      else {
        seen.add(name);
        keys.push({ name });
      }
    });
  }

  const keystore = checkKeyStore(doc, problems, warnings, broken, resolvePath, options.implicitMemoryStore === true);
  if (legacy) {
    warnings.push(
      `this is a kes v0.x config file (${legacyMarkers.join(', ')}): policy patterns use the v0.x glob rules (* ? [..] match within one path segment)`,
    );
  }

  void file;
  if (problems.length > 0 || !keystore) return undefined;
  return {
    file,
    ...(address !== undefined ? { address } : {}),
    admin: adminIdentity,
    tls: {
      cert: resolvePath(cert),
      key: resolvePath(key),
      ...(str(tls?.password) !== undefined ? { password: tls?.password as string } : {}),
      auth,
      ...(str(tls?.ca) !== undefined ? { ca: resolvePath(tls?.ca as string) } : {}),
      ...(proxyIds.length > 0 ? { proxy: { identities: proxyIds, ...(proxyHeader ? { header: proxyHeader } : {}) } } : {}),
    },
    cache,
    log,
    api,
    policies,
    keys,
    keystore,
    patternSemantics: legacy ? 'glob' : 'prefix',
    legacy,
    legacyMarkers: [...legacyMarkers],
    warnings,
  };
}

function checkKeyStore(
  doc: Doc,
  problems: Problem[],
  warnings: string[],
  broken: Set<string>,
  resolvePath: (p: string) => string,
  implicitMemoryStore: boolean,
): KeyStoreSettings | undefined {
  const ks = isMap(doc.keystore) ? doc.keystore : undefined;
  const selected: string[] = [];
  if (ks) {
    for (const [name, inner] of BACKENDS) {
      const section = ks[name];
      if (section === undefined) continue;
      if (inner === undefined ? section !== null : isMap(section) && section[inner] !== undefined) selected.push(name);
      else if (inner !== undefined && isMap(section)) warnings.push(`keystore.${name}: has no '${inner}' section, ignored`);
    }
  }
  if (selected.length === 0) {
    if (implicitMemoryStore) return { type: 'memory', configured: false };
    // No silent in-memory fallback (upstream HEAD refuses too): a missing or misspelled
    // section would otherwise start a server whose keys are all gone after a restart.
    problems.push({
      path: ['keystore'],
      message:
        'no key store is configured: add one (e.g. keystore: {fs: {path: ./keys}}); for a throw-away store whose keys are lost on exit use `keystore: {memory: {}}` explicitly, or `kes server --dev`',
    });
    return undefined;
  }
  if (selected.length > 1) {
    problems.push({ path: ['keystore'], message: `more than one key store is configured (${selected.join(', ')}): keep exactly one` });
    return undefined;
  }
  const name = selected[0] as string;
  const at = (...p: PathSegment[]): PathSegment[] => ['keystore', ...p];
  const ok = (p: PathSegment[]): boolean => !broken.has(formatPath(p));
  switch (name) {
    case 'memory':
      return { type: 'memory', configured: true };
    case 'fs': {
      const fs = ks?.fs as Doc | undefined;
      if (!isMap(fs)) return undefined;
      const path = requireStr(fs, at('fs', 'path'), problems);
      return { type: 'fs', path: resolvePath(path) };
    }
    case 'vault': {
      const v = ks?.vault as Doc;
      if (!isMap(v)) return undefined;
      const endpoint = requireStr(v, at('vault', 'endpoint'), problems);
      let version: 'v1' | 'v2' | undefined;
      if (typeof v.version === 'string' && v.version !== '') {
        if (v.version === 'v1' || v.version === 'v2') version = v.version;
        else problems.push({ path: at('vault', 'version'), message: `must be 'v1' or 'v2', not '${v.version}'` });
      }
      const auths = ['approle', 'kubernetes', 'token'].filter((a) => v[a] !== undefined && v[a] !== null && v[a] !== '');
      if (auths.length !== 1) {
        problems.push({
          path: at('vault'),
          message: auths.length === 0 ? "an authentication method is required: 'approle' or 'kubernetes' (or 'token')" : `only one authentication method may be configured, found: ${auths.join(', ')}`,
        });
      }
      const approle = isMap(v.approle) ? v.approle : undefined;
      const kube = isMap(v.kubernetes) ? v.kubernetes : undefined;
      const transit = isMap(v.transit) ? v.transit : undefined;
      const vtls = isMap(v.tls) ? v.tls : undefined;
      const approleOut = approle && {
        ...(str(approle.engine) ? { engine: approle.engine as string } : {}),
        ...(str(approle.namespace) ? { namespace: approle.namespace as string } : {}),
        id: requireStr(approle, at('vault', 'approle', 'id'), problems),
        secret: requireStr(approle, at('vault', 'approle', 'secret'), problems),
      };
      const kubeOut = kube && {
        ...(str(kube.engine) ? { engine: kube.engine as string } : {}),
        ...(str(kube.namespace) ? { namespace: kube.namespace as string } : {}),
        role: typeof kube.role === 'string' ? kube.role : '',
        jwt: requireStr(kube, at('vault', 'kubernetes', 'jwt'), problems),
      };
      const transitOut = transit && {
        ...(str(transit.engine) ? { engine: transit.engine as string } : {}),
        key: requireStr(transit, at('vault', 'transit', 'key'), problems),
      };
      if (vtls && (str(vtls.key) === undefined) !== (str(vtls.cert) === undefined)) {
        problems.push({ path: at('vault', 'tls'), message: "'key' and 'cert' must be given together" });
      }
      const ping = isMap(v.status) && ok(at('vault', 'status', 'ping')) ? durationMs(v.status.ping, at('vault', 'status', 'ping'), problems, broken) : undefined;
      const options: VaultSettings = {
        endpoint,
        ...(str(v.engine) ? { engine: v.engine as string } : {}),
        ...(version ? { version } : {}),
        ...(str(v.namespace) ? { namespace: v.namespace as string } : {}),
        ...(str(v.prefix) ? { prefix: v.prefix as string } : {}),
        ...(str(v.token) ? { token: v.token as string } : {}),
        ...(approleOut ? { approle: approleOut } : {}),
        ...(kubeOut ? { kubernetes: kubeOut } : {}),
        ...(transitOut ? { transit: transitOut } : {}),
        ...(vtls && (str(vtls.ca) || str(vtls.cert))
          ? {
              tls: {
                ...(str(vtls.ca) ? { ca: resolvePath(vtls.ca as string) } : {}),
                ...(str(vtls.cert) ? { certificate: resolvePath(vtls.cert as string) } : {}),
                ...(str(vtls.key) ? { privateKey: resolvePath(vtls.key as string) } : {}),
              },
            }
          : {}),
        ...(ping !== undefined && ping > 0 ? { statusPingMs: ping } : {}),
      };
      return { type: 'vault', options };
    }
    case 'aws': {
      const sm = (ks?.aws as Doc).secretsmanager;
      if (!isMap(sm)) return undefined;
      const endpoint = requireStr(sm, at('aws', 'secretsmanager', 'endpoint'), problems);
      const region = requireStr(sm, at('aws', 'secretsmanager', 'region'), problems);
      const c = isMap(sm.credentials) ? sm.credentials : {};
      const accessKeyId = str(c.accesskey);
      const secretAccessKey = str(c.secretkey);
      const sessionToken = str(c.token);
      if ((accessKeyId || secretAccessKey || sessionToken) && (!accessKeyId || !secretAccessKey)) {
        problems.push({ path: at('aws', 'secretsmanager', 'credentials'), message: "'accesskey' and 'secretkey' must be given together" });
      }
      const options: AwsSettings = {
        endpoint,
        region,
        ...(str(sm.kmskey) ? { kmsKeyId: sm.kmskey as string } : {}),
        ...(accessKeyId && secretAccessKey
          ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
          : {}),
      };
      return { type: 'aws', options };
    }
    default:
      return { type: 'unsupported', name };
  }
}

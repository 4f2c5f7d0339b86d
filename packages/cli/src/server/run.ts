// `kes server`: builds the server options from a config file, the seed-era flags
// (`--cert --key --root --port`) or `--dev`, starts the server, prints the banner,
// and handles SIGHUP (reload) and SIGINT/SIGTERM (graceful stop).
import { networkInterfaces } from 'node:os';
import { ApiKey, KesError, createSelfSignedCertificate } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createKeyStore } from '@kes/keystores';
import { createKesServer } from '@kes/server';
import type { KesServer, KesServerOptions } from '@kes/server';
import type { ServerArgs } from '../commands/server.js';
import { isConfigError } from '../config/config-error.js';
import { checkAddress, loadConfig, parseConfig } from '../config/load.js';
import type { ConfigOverrides, KesConfig } from '../config/load.js';
import { configToServerOptions, describeKeyStore } from '../config/to-options.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { UsageError } from '../internal/usage-error.js';
import { VERSION } from '../version.js';
import { checkKeyStoreAtStart } from './key-store-check.js';

const DEFAULT_PORT = 7373;
/** Grace period for in-flight requests on SIGINT/SIGTERM. */
const CLOSE_TIMEOUT_MS = 5_000;

type Level = 'INFO' | 'WARN' | 'ERROR';

/** Console output of the server command: text on a terminal, JSON lines otherwise. */
class ServerLog {
  readonly #ctx: CliContext;
  readonly json: boolean;

  constructor(ctx: CliContext, json: boolean) {
    this.#ctx = ctx;
    this.json = json;
  }

  log(level: Level, msg: string, attrs: Record<string, unknown> = {}): void {
    if (this.json) {
      println(this.#ctx.stderr, JSON.stringify({ time: new Date().toISOString(), level, msg, ...attrs }));
      return;
    }
    const tag = level === 'INFO' ? '' : `${paint(this.#ctx, level === 'WARN' ? 'yellow' : 'red', level === 'WARN' ? 'WARNING:' : 'Error:')} `;
    const extra = Object.entries(attrs)
      .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('');
    println(this.#ctx.stderr, `${tag}${msg}${extra}`);
  }
}

/** Splits `[host]:port` / `host:port` / `:port` / `host` into parts (port undefined when absent). */
function splitAddress(address: string): { host: string; port: number | undefined } {
  const bracket = /^\[([^\]]*)\](?::(\d+))?$/.exec(address);
  if (bracket) return { host: bracket[1] ?? '', port: bracket[2] !== undefined ? Number(bracket[2]) : undefined };
  const colons = address.split(':').length - 1;
  if (colons === 0) return { host: address, port: undefined };
  if (colons > 1) return { host: address, port: undefined }; // bare IPv6 literal
  const i = address.lastIndexOf(':');
  const port = address.slice(i + 1);
  return { host: address.slice(0, i), port: /^\d+$/.test(port) ? Number(port) : Number.NaN };
}

function joinAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The listen address: `--addr` (host, or host:port) wins over the file's `address`;
 * `--port` replaces the port. `--addr` with a port and a different `--port` conflict.
 */
export function resolveListenAddress(args: Pick<ServerArgs, 'addr' | 'port'>, fileAddress: string | undefined, fallbackHost: string): string {
  let host = fallbackHost;
  let port: number | undefined;
  if (fileAddress !== undefined) ({ host, port } = splitAddress(fileAddress));
  if (args.addr !== undefined) {
    const a = splitAddress(args.addr.trim());
    if (a.port !== undefined && Number.isNaN(a.port)) throw new UsageError(`--addr '${args.addr}' is not a listen address of the form [IP]:PORT`);
    if (a.port !== undefined && args.port !== undefined && a.port !== args.port) {
      throw new UsageError(`conflicting ports: --addr ${args.addr} and --port ${args.port} (give the port once)`);
    }
    host = a.host;
    port = a.port ?? port;
  }
  if (args.port !== undefined) port = args.port;
  const address = joinAddress(host, port ?? DEFAULT_PORT);
  const why = checkAddress(address);
  if (why) throw new UsageError(`listen address: ${why}`);
  return address;
}

/** Checks flag combinations that can never work (usage errors, exit code 2). */
function checkFlags(args: ServerArgs): void {
  if (args.dev) {
    const clash = (['config', 'cert', 'key', 'root', 'auth'] as const).filter((f) => args[f] !== undefined);
    if (clash.length > 0) throw new UsageError(`--dev cannot be combined with ${clash.map((f) => `--${f}`).join(', ')}`);
    return;
  }
  if (args.config === undefined) {
    const given = (['cert', 'key', 'root'] as const).filter((f) => args[f] !== undefined);
    if (given.length === 0) {
      throw new UsageError('no configuration: use --config FILE, --dev, or --cert CERTIFICATE --key PRIVATEKEY --root IDENTITY');
    }
    const missing = (['cert', 'key', 'root'] as const).filter((f) => args[f] === undefined || args[f] === '');
    if (missing.length > 0) {
      throw new UsageError(`without --config, ${missing.map((f) => `--${f}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required as well`);
    }
  }
  if (args.config === '') throw new UsageError('--config needs a file name');
}

interface Prepared {
  readonly config: KesConfig | undefined;
  readonly options: KesServerOptions;
  readonly address: string;
  readonly devApiKey?: ApiKey;
  readonly keyStoreText: string;
  readonly policies: number;
  /** How policy patterns match, for the banner (see {@link patternsText}). */
  readonly patterns: string;
  readonly tlsMode: string;
}

/**
 * The banner's "policy patterns" line: which matching rules the policies use, and
 * for a v0.x file the constructs that made it one, so an operator sees at once why
 * `/v1/key/*` does (prefix) or does not (glob) cover `/v1/key/generate/x`.
 */
export function patternsText(config: Pick<KesConfig, 'patternSemantics' | 'legacyMarkers'> | undefined): string {
  if (config?.patternSemantics === 'glob') {
    return `glob (kes v0.x config: ${config.legacyMarkers.join(', ')}; * ? [..] match within one path segment)`;
  }
  return 'prefix (kes ≥ v0.23: a trailing * matches any suffix)';
}

function overridesOf(args: ServerArgs): ConfigOverrides {
  return {
    ...(args.root !== undefined ? { admin: args.root } : {}),
    ...(args.cert !== undefined ? { cert: args.cert } : {}),
    ...(args.key !== undefined ? { key: args.key } : {}),
    ...(args.auth !== undefined ? { auth: args.auth } : {}),
  };
}

async function readConfig(args: ServerArgs, ctx: CliContext): Promise<KesConfig> {
  if (args.config !== undefined) return loadConfig(args.config, ctx.env, overridesOf(args));
  // The seed syntax (`--cert --key --root`, no file) has nowhere to configure a key
  // store: it runs on the in-memory store, with a loud warning, as kes v0.8–v0.17 did.
  return parseConfig('', { file: '(flags)', env: ctx.env, overrides: overridesOf(args), implicitMemoryStore: true });
}

function tlsModeOf(config: { auth: 'on' | 'off' }, anonymous: boolean): string {
  const base = config.auth === 'on' ? 'mTLS: client certificates verified against the CA (tls.auth on)' : 'mTLS: any client certificate, identity = public key hash (tls.auth off)';
  return anonymous ? `${base}; handshake without certificate allowed (skip_auth)` : base;
}

function logOptions(config: KesConfig | undefined, log: ServerLog): KesServerOptions['log'] {
  return {
    error: config?.log.error ?? 'INFO',
    audit: config?.log.audit ?? 'INFO',
    format: log.json ? 'json' : 'text',
  };
}

async function prepare(args: ServerArgs, ctx: CliContext, log: ServerLog, keyStore?: KeyStore): Promise<Prepared> {
  if (args.dev) {
    const address = resolveListenAddress(args, undefined, '127.0.0.1');
    const apiKey = ApiKey.generate();
    const { host } = splitAddress(address);
    const ips = new Set(['127.0.0.1', '::1']);
    if (host !== '' && host !== '0.0.0.0' && host !== '::') ips.add(host);
    const cert = createSelfSignedCertificate({
      keyType: 'ecdsa-p256',
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: [...ips],
      validityDays: 90,
      extKeyUsage: ['serverAuth'],
    });
    const options: KesServerOptions = {
      admin: apiKey.identity,
      keyStore: keyStore ?? (await createKeyStore({ type: 'memory' })),
      cache: { expiryAnyMs: 5 * 60_000, expiryUnusedMs: 30_000, expiryOfflineMs: 0 },
      tls: { cert: cert.certificatePem, key: cert.privateKeyPem, auth: 'off' },
      log: logOptions(undefined, log),
      address,
    };
    return {
      config: undefined,
      options,
      address,
      devApiKey: apiKey,
      keyStoreText: 'In Memory (keys are NOT persisted)',
      policies: 0,
      patterns: patternsText(undefined),
      tlsMode: `${tlsModeOf({ auth: 'off' }, false)}; throw-away self-signed server certificate`,
    };
  }
  const config = await readConfig(args, ctx);
  return prepareFrom(config, args, log, keyStore);
}

function printWarnings(config: KesConfig | undefined, log: ServerLog, reload = false): void {
  if (!config) return;
  for (const w of config.warnings) log.log('WARN', w);
  if (config.keystore.type === 'memory' && !config.keystore.configured && !reload) {
    log.log('WARN', 'no config file, so no key store: using the IN-MEMORY key store. Keys are NOT persisted and are LOST when the server stops. Use --config with a keystore section (e.g. keystore.fs) for real use.');
  }
}

const HEX_IDENTITY = /^[0-9a-f]{64}$/;

function urlsOf(address: string, port: number): string[] {
  const { host } = splitAddress(address);
  if (host !== '' && host !== '0.0.0.0' && host !== '::') return [`https://${joinAddress(host, port)}`];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4') out.push(`https://${a.address}:${port}`);
    }
  }
  return out.length > 0 ? out : [`https://127.0.0.1:${port}`];
}

function printBanner(p: Prepared, port: number, ctx: CliContext, log: ServerLog): void {
  const urls = urlsOf(p.address, port);
  const first = urls.find((u) => u.includes('127.0.0.1')) ?? urls[0] ?? '';
  const admin = HEX_IDENTITY.test(p.options.admin) ? p.options.admin : '<disabled>';
  const logs = p.options.log ?? {};
  const apiKey = p.devApiKey?.toString();
  const exportLine = apiKey ? `export KES_SERVER=${first} KES_API_KEY=${apiKey}` : undefined;
  if (log.json) {
    // One start-up record on stdout. In --dev mode it carries the throw-away admin
    // API key: that is its purpose (as upstream prints it); it is shown nowhere else.
    println(
      ctx.stdout,
      JSON.stringify({
        time: new Date().toISOString(),
        level: 'INFO',
        msg: 'server started',
        version: VERSION,
        address: `${p.address.replace(/:\d+$/, '')}:${port}`,
        port,
        urls,
        admin,
        keystore: p.keyStoreText,
        policies: p.policies,
        policy_patterns: p.patterns,
        tls: p.tlsMode,
        log: { error: logs.error ?? 'INFO', audit: logs.audit ?? 'INFO' },
        ...(p.config?.file ? { config: p.config.file } : {}),
        ...(apiKey ? { dev: true, api_key: apiKey, identity: p.devApiKey?.identity, export: exportLine } : {}),
      }),
    );
    return;
  }
  const label = (s: string): string => paint(ctx, 'bold', s.padEnd(11));
  const out = ctx.stdout;
  println(out, `${paint(ctx, 'green', 'KES server started')} (kes-ts ${VERSION})`);
  println(out);
  urls.forEach((u, i) => println(out, `${label(i === 0 ? 'Address' : '')}${u}`));
  println(out, `${label('Admin')}${admin}`);
  println(out, `${label('Key store')}${p.keyStoreText}`);
  println(out, `${label('Policies')}${p.policies}`);
  println(out, `${label('Patterns')}${p.patterns}`);
  println(out, `${label('TLS')}${p.tlsMode}`);
  const audit = logs.audit !== 'off' && (logs.audit ?? 'INFO') !== 'WARN' && logs.audit !== 'ERROR' ? ` audit=stdout level=${logs.audit ?? 'INFO'}` : '';
  println(out, `${label('Logs')}error=stderr level=${logs.error ?? 'INFO'}${audit}`);
  if (p.config?.file) println(out, `${label('Config')}${p.config.file}`);
  if (apiKey && p.devApiKey) {
    println(out);
    println(out, paint(ctx, 'yellow', 'Development mode: keys live in memory and are lost when the server stops.'));
    println(out, `${label('API key')}${apiKey}`);
    println(out, `${label('Identity')}${p.devApiKey.identity}`);
    println(out);
    println(out, `  ${exportLine}`);
  }
  println(out);
}

/**
 * Runs `kes server` until SIGINT/SIGTERM. Resolves once the server listens.
 *
 * @throws UsageError for conflicting flags; `ERR_KES_INVALID_CONFIG` for config problems;
 *   `ERR_KES_INVALID_ARGUMENT` when the server cannot start (TLS files, address in use).
 */
export async function runServer(args: ServerArgs, ctx: CliContext): Promise<RunningServer> {
  checkFlags(args);
  const log = new ServerLog(ctx, args.json === true || !ctx.stdoutIsTTY);
  let current = await prepare(args, ctx, log);
  printWarnings(current.config, log);

  let server: KesServer;
  try {
    server = await createKesServer(current.options);
  } catch (err) {
    await current.options.keyStore.close().catch(() => {});
    throw startError(err);
  }
  const { host, port } = splitAddress(current.address);
  let listening: { address: string; port: number };
  try {
    listening = await server.listen(port, host === '' ? '0.0.0.0' : host);
  } catch (err) {
    await server.close({ timeoutMs: 0 }).catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'address not available on this host' : (err as Error).message;
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`cannot listen on ${current.address}: ${why}`], { cause: err });
  }
  printBanner(current, listening.port, ctx, log);

  // SIGHUP: re-read the config file; a broken file is rejected and the old config stays.
  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    if (!current.config || args.config === undefined) {
      log.log('WARN', 'SIGHUP ignored: there is no config file to reload');
      return;
    }
    log.log('INFO', 'reloading configuration', { config: args.config });
    const old = current;
    let next: Prepared | undefined;
    try {
      const cfg = await loadConfig(args.config, ctx.env, overridesOf(args));
      const sameStore = JSON.stringify(cfg.keystore) === JSON.stringify(old.config?.keystore);
      next = await prepareFrom(cfg, args, log, sameStore ? old.options.keyStore : undefined);
      if (next.address !== old.address) log.log('WARN', `the listen address changed to ${next.address}; restart the server to apply it`);
      await server.reload(next.options);
      printWarnings(next.config, log, true);
      if (next.options.keyStore !== old.options.keyStore) await old.options.keyStore.close().catch(() => {});
      current = next;
      log.log('INFO', 'configuration reloaded', {
        policies: next.policies,
        policy_patterns: next.patterns,
        keystore: next.keyStoreText,
        admin: HEX_IDENTITY.test(next.options.admin) ? next.options.admin : '<disabled>',
      });
    } catch (err) {
      if (next && next.options.keyStore !== old.options.keyStore) await next.options.keyStore.close().catch(() => {});
      const lines = isConfigError(err) ? err.problems : [err instanceof Error ? err.message : String(err)];
      log.log('ERROR', 'reload failed, keeping the current configuration', { problems: lines });
      if (!log.json) for (const l of lines) println(ctx.stderr, `  ${l}`);
    }
  };

  let stopping = false;
  const offs: (() => void)[] = [];
  const stop = (signal: string): void => {
    if (stopping) {
      log.log('WARN', `received ${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.log('INFO', `received ${signal}: shutting down`);
    void (async () => {
      await reloading.catch(() => {});
      await server.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch((err: unknown) => log.log('ERROR', 'error while stopping', { error: String(err) }));
      for (const off of offs) off();
      log.log('INFO', 'server stopped');
      // Anything still holding the event loop (a key-store SDK agent) must not keep us alive.
      setTimeout(() => process.exit(0), 2_000).unref();
    })();
  };
  offs.push(ctx.onSignal('SIGHUP', () => (reloading = reloading.then(reload))));
  offs.push(ctx.onSignal('SIGINT', () => stop('SIGINT')));
  offs.push(ctx.onSignal('SIGTERM', () => stop('SIGTERM')));
  return {
    url: `https://127.0.0.1:${listening.port}`,
    port: listening.port,
    reload: () => (reloading = reloading.then(reload)),
    async stop() {
      stopping = true;
      for (const off of offs) off();
      await server.close({ timeoutMs: CLOSE_TIMEOUT_MS });
    },
  };
}

/** What {@link runServer} hands back (used by in-process tests; the CLI waits for signals). */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Same as SIGHUP. */
  reload(): Promise<void>;
  /** Stops the server without exiting the process. */
  stop(): Promise<void>;
}

async function prepareFrom(config: KesConfig, args: ServerArgs, log: ServerLog, keyStore: KeyStore | undefined): Promise<Prepared> {
  const address = resolveListenAddress(args, config.address, '0.0.0.0');
  const base = await configToServerOptions(config, keyStore ? { keyStore } : {});
  if (!keyStore) {
    // A store opened here (at start, or on a reload that changed it) must work before
    // it is used: otherwise the server would start and answer 502 to every request.
    try {
      await checkKeyStoreAtStart(base.keyStore, config.keystore, { file: config.file || 'config' });
    } catch (err) {
      await base.keyStore.close().catch(() => {});
      throw err;
    }
  }
  const anonymous = Object.values(config.api).some((r) => r.skipAuth === true);
  return {
    config,
    options: { ...base, address, log: logOptions(config, log) },
    address,
    keyStoreText: describeKeyStore(config.keystore),
    policies: Object.keys(config.policies).length,
    patterns: patternsText(config),
    tlsMode: tlsModeOf(config.tls, anonymous),
  };
}

/** Start-up failures caused by the environment (files, certificates) are expected errors, not bugs. */
function startError(err: unknown): unknown {
  if (err instanceof KesError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && (e.code.startsWith('E') || e.code.startsWith('ERR_'))) {
    const what = e.path ? `'${e.path}': ` : '';
    return new KesError('ERR_KES_INVALID_ARGUMENT', [`cannot start the server: ${what}${e.message}`], { cause: err });
  }
  return err;
}

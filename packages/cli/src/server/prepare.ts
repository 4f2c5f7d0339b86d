// What `kes server` starts (and a SIGHUP reload applies): the server options from a
// config file, the seed-era flags (`--cert --key --root`) or `--dev`, plus the facts
// the banner shows.
import cluster from 'node:cluster';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createKeyStore } from '@kes/keystores';
import { splitHostPort } from '@kes/server';
import type { KesServerOptions } from '@kes/server';
import type { ServerArgs } from '../commands/server.js';
import { describeKeyStore, openKeyStore } from '../config/keystores/index.js';
import { loadConfigFile, parseConfigText } from '../config/load.js';
import type { ConfigOverrides, LoadedConfig } from '../config/types.js';
import type { CliContext } from '../internal/context.js';
import { checkKeyStoreAtStart } from './key-store-check.js';
import { resolveListenAddress } from './listen-address.js';
import type { ServerLog } from './server-log.js';
import { VERSION } from '../version.js';

/**
 * The commit the CLI was built from, if the build defined it: a bundler `define` of the
 * global `KES_COMMIT` (e.g. tsup `define: { KES_COMMIT: JSON.stringify(gitCommit) }`).
 */
declare const KES_COMMIT: string | undefined;

/**
 * What `/version` reports for `kes server`: this CLI's package version (what `kes --version`
 * prints) and its commit, or `<unknown>` without one, as upstream reports a build without
 * VCS data.
 */
export const SERVER_BUILD: { readonly version: string; readonly commit: string } = Object.freeze({
  version: VERSION,
  commit: typeof KES_COMMIT === 'string' && KES_COMMIT !== '' ? KES_COMMIT : '<unknown>',
});

/** A server ready to start: its options and what the banner says about them. */
export interface Prepared {
  /** The config it came from (absent with `--dev`). */
  readonly config: LoadedConfig | undefined;
  readonly options: KesServerOptions;
  readonly address: string;
  readonly devApiKey?: ApiKey;
  readonly keyStoreText: string;
  readonly policies: number;
  /** How policy patterns match (see {@link patternsText}). */
  readonly patterns: string;
  readonly tlsMode: string;
  /** The banner's key-versions line; absent while key versions are off. */
  readonly versionsText?: string;
}

/** The banner's key-versions line (see docs/key-rotation.md), or `undefined` when off. */
export function versionsText(kv: KesServerOptions['keyVersions']): string | undefined {
  if (kv?.enabled !== true) return undefined;
  const rules = (kv.autoRotate ?? []).map((r) => {
    const days = r.everyMs / 86_400_000;
    return `${r.pattern} every ${Number.isInteger(days) ? `${days}d` : `${Math.round(r.everyMs / 3_600_000)}h`}`;
  });
  return `on${rules.length > 0 ? `; automatic rotation: ${rules.join(', ')}` : ''}`;
}

/**
 * The banner's "policy patterns" line: which matching rules the policies use, and
 * for a v0.x file the constructs that made it one, so an operator sees at once why
 * `/v1/key/*` does (prefix) or does not (glob) cover `/v1/key/generate/x`.
 */
export function patternsText(config: LoadedConfig | undefined): string {
  if (config?.options.patternSemantics === 'glob') {
    return `glob (kes v0.x config: ${config.legacyMarkers.join(', ')}; * ? [..] match within one path segment)`;
  }
  return 'prefix (kes ≥ v0.23: a trailing * matches any suffix)';
}

function tlsModeOf(auth: 'on' | 'off' | undefined, anonymous: boolean): string {
  const base =
    auth === 'on'
      ? 'mTLS: client certificates verified against the CA (tls.auth on)'
      : 'mTLS: any client certificate, identity = public key hash (tls.auth off)';
  return anonymous ? `${base}; handshake without certificate allowed (skip_auth)` : base;
}

function overridesOf(args: ServerArgs): ConfigOverrides {
  return {
    ...(args.root !== undefined ? { admin: args.root } : {}),
    ...(args.cert !== undefined ? { cert: args.cert } : {}),
    ...(args.key !== undefined ? { key: args.key } : {}),
    ...(args.auth !== undefined ? { auth: args.auth } : {}),
  };
}

/** Loads `--config` with the flags over it (also used by a reload). */
export function loadServerConfig(file: string, args: ServerArgs, ctx: CliContext): Promise<LoadedConfig> {
  return loadConfigFile(file, { env: ctx.env, overrides: overridesOf(args) });
}

/** The config `kes server` runs: `--config`, or the seed flags' in-memory one. */
export async function readConfig(args: ServerArgs, ctx: CliContext): Promise<LoadedConfig> {
  if (args.config !== undefined) return loadServerConfig(args.config, args, ctx);
  // The seed syntax (`--cert --key --root`, no file) has nowhere to configure a key
  // store: it runs on the in-memory store, with a loud warning, as kes v0.8–v0.17 did.
  return parseConfigText('', { file: '(flags)', env: ctx.env, overrides: overridesOf(args), implicitMemoryStore: true });
}

/** What the banner says about a server, without opening its key store (a cluster primary has none). */
export type ServerFacts = Omit<Prepared, 'options'> & { readonly options: Pick<KesServerOptions, 'admin' | 'log'> };

/** {@link ServerFacts} of a loaded config. */
export function describeConfig(config: LoadedConfig, args: ServerArgs, log: ServerLog): ServerFacts {
  const address = resolveListenAddress(args, config.options.address, '0.0.0.0');
  const anonymous = Object.values(config.options.api).some((r) => r.skipAuth === true);
  return {
    config,
    options: { admin: config.options.admin, log: { ...config.options.log, format: log.json ? 'json' : 'text' } },
    address,
    keyStoreText: describeKeyStore(config.keyStore),
    policies: Object.keys(config.options.policies).length,
    patterns: patternsText(config),
    tlsMode: tlsModeOf(config.options.tls.auth, anonymous),
    ...(config.options.keyVersions?.enabled ? { versionsText: versionsText(config.options.keyVersions) as string } : {}),
  };
}

/** The options of `--dev`: a throw-away admin API key, certificate and in-memory store. */
async function prepareDev(args: ServerArgs, log: ServerLog): Promise<Prepared> {
  const address = resolveListenAddress(args, undefined, '127.0.0.1');
  const apiKey = ApiKey.generate();
  const { host } = splitHostPort(address);
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
    keyStore: await createKeyStore({ type: 'memory' }),
    cache: { expiryAnyMs: 5 * 60_000, expiryUnusedMs: 30_000, expiryOfflineMs: 0 },
    tls: { cert: cert.certificatePem, key: cert.privateKeyPem, auth: 'off' },
    log: { error: 'INFO', audit: 'INFO', format: log.json ? 'json' : 'text' },
    address,
    build: SERVER_BUILD,
    // A place to try rotation (docs/key-rotation.md); the memory store keeps versions.
    keyVersions: { enabled: true },
  };
  return {
    config: undefined,
    options,
    address,
    devApiKey: apiKey,
    keyStoreText: 'In Memory (keys are NOT persisted)',
    policies: 0,
    patterns: patternsText(undefined),
    tlsMode: `${tlsModeOf('off', false)}; throw-away self-signed server certificate`,
    versionsText: versionsText(options.keyVersions) as string,
  };
}

/** Set to `1` in the environment of the one cluster worker that runs automatic rotation. */
export const AUTO_ROTATE_ENV = 'KES_AUTO_ROTATE_WORKER';

/** The server `args` describe. */
export async function prepare(args: ServerArgs, ctx: CliContext, log: ServerLog): Promise<Prepared> {
  if (args.dev) return prepareDev(args, log);
  return prepareFrom(await readConfig(args, ctx), args, log, undefined);
}

/**
 * The server a loaded config describes. `keyStore` is reused (a reload that keeps the
 * store); otherwise the configured store is opened and checked before use.
 */
export async function prepareFrom(config: LoadedConfig, args: ServerArgs, log: ServerLog, keyStore: KeyStore | undefined): Promise<Prepared> {
  const address = resolveListenAddress(args, config.options.address, '0.0.0.0');
  const store = keyStore ?? (await openKeyStore(config, { onWarning: (message) => log.log('WARN', message) }));
  if (!keyStore) {
    // A store opened here (at start, or on a reload that changed it) must work before
    // it is used: otherwise the server would start and answer 502 to every request.
    try {
      await checkKeyStoreAtStart(store, config.keyStore, { file: config.file || 'config' });
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  }
  const kv = config.options.keyVersions;
  return {
    ...describeConfig(config, args, log),
    options: {
      ...config.options,
      // In a cluster one worker rotates automatically (the primary picks it, see cluster.ts).
      ...(kv !== undefined && cluster.isWorker ? { keyVersions: { ...kv, autoRotateHere: process.env[AUTO_ROTATE_ENV] === '1' } } : {}),
      keyStore: store,
      address,
      log: { ...config.options.log, format: log.json ? 'json' : 'text' },
      build: SERVER_BUILD,
    },
  };
}

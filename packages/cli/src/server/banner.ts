// What `kes server` prints once it listens (the banner, or one JSON record on stdout)
// and the warnings before it.
import { networkInterfaces } from 'node:os';
import { joinHostPort, splitHostPort } from '@kes/server';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { VERSION } from '../version.js';
import type { ServerFacts } from './prepare.js';
import type { ServerLog } from './server-log.js';

const HEX_IDENTITY = /^[0-9a-f]{64}$/;

/** The admin identity as the banner shows it (`<disabled>` for anything else). */
export function adminText(admin: string): string {
  return HEX_IDENTITY.test(admin) ? admin : '<disabled>';
}

/** A config's warnings; at start (not on reload) also the implicit in-memory store's. */
export function printWarnings(p: Pick<ServerFacts, 'config'>, log: ServerLog, reload = false): void {
  const config = p.config;
  if (!config) return;
  for (const w of config.warnings) log.log('WARN', w);
  if (config.keyStore.type === 'memory' && config.implicitMemoryStore && !reload) {
    log.log(
      'WARN',
      'no config file, so no key store: using the IN-MEMORY key store. Keys are NOT persisted and are LOST when the server stops. Use --config with a keystore section (e.g. keystore.fs) for real use.',
    );
  }
}

function urlsOf(address: string, port: number): string[] {
  const { host } = splitHostPort(address);
  if (host !== '' && host !== '0.0.0.0' && host !== '::') return [`https://${joinHostPort(host, port)}`];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4') out.push(`https://${a.address}:${port}`);
    }
  }
  return out.length > 0 ? out : [`https://127.0.0.1:${port}`];
}

/** Prints the start-up banner (text on a terminal, one JSON record otherwise); `workers` > 1 for a cluster. */
export function printBanner(p: ServerFacts, port: number, ctx: CliContext, log: ServerLog, workers = 1): void {
  const urls = urlsOf(p.address, port);
  const first = urls.find((u) => u.includes('127.0.0.1')) ?? urls[0] ?? '';
  const admin = adminText(p.options.admin);
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
        ...(p.versionsText ? { key_versions: p.versionsText } : {}),
        log: {
          error: logs.error ?? 'INFO',
          audit: logs.audit ?? 'INFO',
          ...(logs.auditFile ? { audit_file: logs.auditFile.path, audit_fail_closed: logs.auditFile.failClosed ?? false } : {}),
        },
        ...(p.config?.file ? { config: p.config.file } : {}),
        ...(workers > 1 ? { workers } : {}),
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
  if (p.versionsText) println(out, `${label('Versions')}${p.versionsText}`);
  const audit =
    logs.audit !== 'off' && (logs.audit ?? 'INFO') !== 'WARN' && logs.audit !== 'ERROR' ? ` audit=stdout level=${logs.audit ?? 'INFO'}` : '';
  println(out, `${label('Logs')}error=stderr level=${logs.error ?? 'INFO'}${audit}`);
  if (logs.auditFile) println(out, `${label('Audit file')}${logs.auditFile.path}${logs.auditFile.failClosed ? ' (fail-closed)' : ''}`);
  if (p.config?.file) println(out, `${label('Config')}${p.config.file}`);
  if (workers > 1) println(out, `${label('Workers')}${workers} processes (each with its own key cache)`);
  if (apiKey && p.devApiKey) {
    println(out);
    println(out, paint(ctx, 'yellow', 'Development mode: keys live in memory and are lost when the server stops.'));
    println(out, `${label('API key')}${apiKey}`);
    println(out, `${label('Identity')}${p.devApiKey.identity}`);
    println(out);
    println(out, `  ${exportLine}`);
    println(out);
    println(out, 'Paste that line into another shell, then (-k: the throw-away certificate is self-signed):');
    println(out, `  ${paint(ctx, 'cyan', 'kes key create my-key -k')}      ${paint(ctx, 'dim', '# a new key')}`);
    println(out, `  ${paint(ctx, 'cyan', 'kes key dek my-key -k')}         ${paint(ctx, 'dim', '# a data key: plaintext and ciphertext')}`);
    println(out, `  ${paint(ctx, 'cyan', 'kes key ls -k')}                 ${paint(ctx, 'dim', '# list keys')}`);
    println(out, `  ${paint(ctx, 'cyan', 'kes status -k')}                 ${paint(ctx, 'dim', '# version, uptime, key store, latency')}`);
    println(out, `  ${paint(ctx, 'cyan', 'kes log -k')}                    ${paint(ctx, 'dim', '# follow the audit log')}`);
  }
  println(out);
}

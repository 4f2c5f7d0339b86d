// `kes status`: per server its version, uptime, key store state and latency.
import type { ApiRoute, ServerStatus, ServerVersion } from '@kes/client';
import { connect } from '../client/connect.js';
import { resolveClientSettings } from '../client/settings.js';
import type { StatusArgs } from '../commands/status.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { CliFailure } from '../internal/failure.js';
import { formatBytes, formatLatency, formatUptime, printFields, printJson, withColor } from '../internal/output.js';
import { toWireJson } from '../internal/wire-json.js';

/** What one server answered. */
interface EndpointStatus {
  readonly endpoint: string;
  /** Round trip of the status request, in milliseconds. */
  readonly latencyMs: number;
  readonly status: ServerStatus;
  readonly version: ServerVersion;
  readonly api?: readonly ApiRoute[];
}

async function query(args: StatusArgs, ctx: CliContext, endpoint: string): Promise<EndpointStatus> {
  const conn = await connect(args, ctx, { endpoint });
  try {
    // The first call opens the connection (TCP + TLS); the status call timed below
    // then measures the request round trip, not the handshake.
    const version = await conn.run((c) => c.version());
    const start = performance.now();
    const status = await conn.run((c) => c.status());
    const latencyMs = performance.now() - start;
    const api = args.api ? await conn.run((c) => c.apis()) : undefined;
    return { endpoint, latencyMs, status, version, ...(api ? { api } : {}) };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

function keyStoreText(s: ServerStatus): string {
  if (s.keystoreUnreachable || s.keystoreUnavailable) return 'unreachable';
  return s.keystoreLatency === undefined ? 'ok' : `ok, latency ${formatLatency(s.keystoreLatency)}`;
}

function printStatus(ctx: CliContext, r: EndpointStatus, short: boolean): void {
  const s = r.status;
  const down = s.keystoreUnreachable === true || s.keystoreUnavailable === true;
  const dot = paint(ctx, down ? 'red' : 'green', '●');
  println(ctx.stdout, `${dot} ${paint(ctx, 'bold', r.endpoint.replace(/^https:\/\//, ''))}`);
  if (short) return;
  const commit = r.version.commit && r.version.commit !== '<unknown>' ? ` (commit ${r.version.commit})` : '';
  printFields(ctx, [
    ['  Version', `${s.version}${commit}`],
    ['  Uptime', formatUptime(s.uptime)],
    ['  Latency', formatLatency(r.latencyMs)],
    ['  Key store', down ? paint(ctx, 'red', keyStoreText(s)) : keyStoreText(s)],
    ['  OS', `${s.os}/${s.arch}`],
    ['  CPUs', s.numCpuUsed === s.numCpu ? String(s.numCpu) : `${s.numCpu} (${s.numCpuUsed} used)`],
    ['  Memory', `heap ${formatBytes(s.memHeapUsed)}, other ${formatBytes(s.memStackUsed)}`],
  ]);
}

function printApi(ctx: CliContext, routes: readonly ApiRoute[]): void {
  const rows = routes.map((r) => [r.method, r.path, r.timeout === 0 ? 'Inf' : `${r.timeout}s`] as const);
  const w0 = Math.max(6, ...rows.map((r) => r[0].length));
  const w1 = Math.max(4, ...rows.map((r) => r[1].length));
  println(ctx.stdout, paint(ctx, 'bold', `  ${'Method'.padEnd(w0)}  ${'Path'.padEnd(w1)}  Timeout`));
  for (const [m, p, t] of rows) println(ctx.stdout, `  ${m.padEnd(w0)}  ${p.padEnd(w1)}  ${t}`);
}

/** JSON of one server: the server's status fields plus where and how fast. */
function statusJson(r: EndpointStatus): Record<string, unknown> {
  return {
    endpoint: r.endpoint,
    latency: Math.round(r.latencyMs * 1000) / 1000,
    commit: r.version.commit,
    ...(toWireJson(r.status) as Record<string, unknown>),
  };
}

/**
 * Runs `kes status`: each endpoint on its own. With one endpoint a failure is the
 * command's error; with several, each unreachable server gets its own line and the
 * exit code is 1 if any failed.
 */
export async function runStatus(args: StatusArgs, ctx: CliContext): Promise<void> {
  const out = withColor(ctx, args.color);
  const { endpoints } = resolveClientSettings(args, ctx.env);
  if (endpoints.length === 1) {
    const r = await query(args, ctx, endpoints[0] as string);
    if (args.json) return printJson(ctx, args.api ? toWireJson(r.api) : statusJson(r));
    printStatus(out, r, args.short === true);
    if (r.api) printApi(out, r.api);
    return;
  }
  const results = await Promise.all(
    endpoints.map((e) =>
      query(args, ctx, e).then(
        (r): EndpointStatus | { endpoint: string; error: string } => r,
        (err: unknown) => ({ endpoint: e, error: err instanceof Error ? err.message : String(err) }),
      ),
    ),
  );
  if (args.json) {
    printJson(
      ctx,
      results.map((r) => ('error' in r ? r : args.api ? { endpoint: r.endpoint, api: toWireJson(r.api) } : statusJson(r))),
    );
  } else {
    for (const r of results) {
      if ('error' in r) {
        println(ctx.stdout, `${paint(out, 'red', '●')} ${paint(out, 'bold', r.endpoint.replace(/^https:\/\//, ''))}  ${r.error}`);
        continue;
      }
      printStatus(out, r, args.short === true);
      if (r.api) printApi(out, r.api);
    }
  }
  const failed = results.filter((r) => 'error' in r).length;
  if (failed > 0) throw new CliFailure(`${failed} of ${results.length} servers did not answer (see above)`);
}

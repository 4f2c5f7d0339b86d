/** Process facts for `/v1/status` and the `kes_system_*` metrics, with Go's names. */
import { availableParallelism, cpus } from 'node:os';
import type { ClusterStatus, WorkerFacts } from './context.js';

const GO_OS: Readonly<Record<string, string>> = { win32: 'windows', sunos: 'solaris' };
const GO_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** `runtime.GOOS` spelling of the platform (linux, darwin, windows, freebsd, …). */
export const GOOS = GO_OS[process.platform] ?? process.platform;
/** `runtime.GOARCH` spelling of the architecture (amd64, arm64, …). */
export const GOARCH = GO_ARCH[process.arch] ?? process.arch;

/** Bytes in use on the V8 heap. */
export function heapUsage(): number {
  return process.memoryUsage().heapUsed;
}

/** Memory held outside the V8 heap (resident set minus the heap), our analogue of Go's stack figure. */
export function nonHeapMemory(): number {
  const m = process.memoryUsage();
  return Math.max(0, m.rss - m.heapTotal);
}

/** How long `/v1/status` reuses its CPU and memory figures: `os.cpus()` and `process.memoryUsage()` are costly per call. */
const FACTS_TTL_MS = 1000;
let facts: { readonly at: number; readonly text: string } | undefined;

/** The `num_cpu` … `mem_stack_used` part of the status body, refreshed at most once per `FACTS_TTL_MS`. */
function systemFacts(now: number): string {
  if (facts !== undefined && now - facts.at < FACTS_TTL_MS && now >= facts.at) return facts.text;
  const m = process.memoryUsage();
  const text =
    `,"num_cpu":${cpus().length},"num_cpu_used":${availableParallelism()},"mem_heap_used":${m.heapUsed}` +
    `,"mem_stack_used":${Math.max(0, m.rss - m.heapTotal)}`;
  facts = { at: now, text };
  return text;
}

/** This process' part of a cluster's `/v1/status`. */
export function workerFacts(requests: number): WorkerFacts {
  const m = process.memoryUsage();
  return { pid: process.pid, heapUsed: m.heapUsed, stackUsed: Math.max(0, m.rss - m.heapTotal), requests };
}

/** The system-facts part of a cluster's status: memory summed over the workers, plus a `workers` list (not in upstream's body). */
function clusterFacts(cluster: ClusterStatus): string {
  let heap = 0;
  let stack = 0;
  for (const w of cluster.workers) {
    heap += w.heapUsed;
    stack += w.stackUsed;
  }
  const workers = cluster.workers.map((w) => `{"pid":${w.pid},"requests":${w.requests}}`).join(',');
  return `,"num_cpu":${cpus().length},"num_cpu_used":${availableParallelism()},"mem_heap_used":${heap},"mem_stack_used":${stack},"workers":[${workers}]`;
}

/**
 * The `/v1/status` body (field order as upstream). With `cluster` (a multi-worker server)
 * the uptime is the primary's, memory is the sum over the workers, and a `workers` list
 * (pid, counted requests) follows the memory fields; clients ignore unknown fields.
 */
export function statusBody(version: string, startedAt: number, keystore: { latencyMs: number } | 'unreachable', cluster?: ClusterStatus): string {
  const now = Date.now();
  const since = cluster?.startedAt ?? startedAt;
  let s =
    `{"version":${JSON.stringify(version)},"os":${JSON.stringify(GOOS)},"arch":${JSON.stringify(GOARCH)}` +
    `,"uptime":${Math.round((now - since) / 1000)}${cluster ? clusterFacts(cluster) : systemFacts(now)}`;
  if (keystore === 'unreachable') {
    // keystore_unavailable is sent too: kms-go rejects `unreachable` without it.
    s += ',"keystore_unavailable":true,"keystore_unreachable":true';
  } else {
    s += `,"keystore_latency":${Math.max(1, Math.round(keystore.latencyMs))}`;
  }
  return `${s}}`;
}

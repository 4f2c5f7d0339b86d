/**
 * Audit and error event hub (spec §11): fan-out to `/v1/log/*` subscribers
 * (ND-JSON, one event per write), to in-process listeners and to the console.
 *
 * Threat: events must never carry key material, plaintext, ciphertext, API keys
 * or request bodies. Callers only hand over method, path, ip, identity, status,
 * timing and catalogued messages (plus an error cause's message for 5xx).
 */
import type { LogLevel, LogOptions } from '../options.js';
import { AuditFile, DEFAULT_AUDIT_MAX_FILES, DEFAULT_AUDIT_MAX_SIZE } from './audit-file.js';
import type { AuditFileOptions } from './audit-file.js';
import type { AnyResponse } from './http.js';

/** One audit record (spec §11.1). */
export interface AuditEvent {
  readonly time: string;
  readonly request: { readonly ip?: string; readonly path: string; readonly identity?: string };
  readonly response: { readonly code: number; readonly time: number };
}

/** One error-log record: the slog-style text line. */
export interface ErrorEvent {
  readonly message: string;
}

/** Request attributes of an error record. */
export interface ErrorContext {
  readonly method: string;
  readonly path: string;
  readonly ip: string;
  readonly identity: string;
}

type Listener = (event: object) => void;

/** The two event kinds. */
export type LogKind = 'audit' | 'error';

/**
 * Where a cluster worker sends its events for the other workers' subscribers
 * (see `cluster.ts`). Called only while forwarding is switched on for that kind.
 */
export type RemoteSink = (kind: LogKind, event: object) => void;

/** Stream subscribers that fall this far behind are disconnected instead of buffering without bound. */
const MAX_SUBSCRIBER_BACKLOG = 4 * 1024 * 1024;

/** Go RFC3339Nano (UTC): trailing fractional zeros trimmed. */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-01-12T10:39:20.880Z
  let frac = iso.slice(20, 23);
  while (frac.endsWith('0')) frac = frac.slice(0, -1);
  return frac ? `${iso.slice(0, 19)}.${frac}Z` : `${iso.slice(0, 19)}Z`;
}

/**
 * One audit record of something that started at `startMs` (wall clock) / `t0`
 * (`performance.now()`) and ended now; field order as upstream: ip, path, identity (empty
 * ones omitted).
 */
export function auditEvent(startMs: number, t0: number, ip: string, path: string, identity: string, code: number): AuditEvent {
  const request: { ip?: string; path: string; identity?: string } = ip ? { ip, path } : { path };
  if (identity) request.identity = identity;
  return {
    time: rfc3339Nano(startMs),
    request,
    response: { code, time: Math.trunc(performance.now() - t0) },
  };
}

/** slog text quoting: bare when safe, else a quoted string. */
function slogValue(v: string): string {
  if (v === '') return '""';
  return /^[\x21\x23-\x3c\x3e-\x7e]+$/.test(v) ? v : JSON.stringify(v);
}

export interface LogCounters {
  auditWritten(): void;
  errorWritten(): void;
}

/** The hub. One per handler; console settings can be swapped on reload. */
export class LogHub {
  readonly #auditListeners = new Set<Listener>();
  readonly #errorListeners = new Set<Listener>();
  readonly #auditStreams = new Set<AnyResponse>();
  readonly #errorStreams = new Set<AnyResponse>();
  #auditConsole: NodeJS.WritableStream | undefined;
  #errorConsole: NodeJS.WritableStream | undefined;
  #json = false;
  #counters: LogCounters | undefined;
  #remote: RemoteSink | undefined;
  #forwardAudit = false;
  #forwardError = false;
  #onSubscribers: ((audit: number, error: number) => void) | undefined;
  #auditFile: AuditFile | undefined;
  /** This process rotates the audit file (false in a cluster worker: the primary does). */
  #rotatesAuditFile = true;

  constructor(options: LogOptions | undefined, counters?: LogCounters) {
    this.#counters = counters;
    this.configure(options);
  }

  /** Applies console settings. Audit console is off unless `log.audit` is DEBUG/INFO; error console is on unless `off`. */
  configure(options: LogOptions | undefined): void {
    const auditLevel: LogLevel = options?.audit ?? 'off';
    const errorLevel: LogLevel = options?.error ?? 'INFO';
    // Audit records are INFO: any threshold above INFO silences them (as upstream).
    this.#auditConsole = auditLevel === 'DEBUG' || auditLevel === 'INFO' ? (options?.auditStream ?? process.stdout) : undefined;
    this.#errorConsole = errorLevel !== 'off' ? (options?.errorStream ?? process.stderr) : undefined;
    this.#json = options?.format === 'json';
    this.#setAuditFile(options?.auditFile);
  }

  /** The audit file, when `log.auditFile` is set. */
  get auditFile(): AuditFile | undefined {
    return this.#auditFile;
  }

  /** Opens (lazily, on the first record), replaces or closes the audit file after a (re)configure. */
  #setAuditFile(options: AuditFileOptions | undefined, force = false): void {
    const old = this.#auditFile;
    if (!force && sameAuditFile(old?.options, options)) return;
    const next = options === undefined ? undefined : new AuditFile(options, { rotate: this.#rotatesAuditFile });
    if (next) next.onError = (message) => this.error(message, undefined);
    this.#auditFile = next;
    // Records already queued on the old file are written before it closes.
    void old?.close();
  }

  /** Closes the audit file after its pending writes (server shutdown). */
  async closeAuditFile(): Promise<void> {
    const f = this.#auditFile;
    this.#auditFile = undefined;
    await f?.close();
  }

  /** True when an audit event would go anywhere (lets the hot path skip building it). */
  get wantsAudit(): boolean {
    return (
      this.#auditConsole !== undefined ||
      this.#auditListeners.size > 0 ||
      this.#auditStreams.size > 0 ||
      this.#forwardAudit ||
      this.#auditFile !== undefined
    );
  }

  /**
   * Cluster mode: `sink` receives this process' events while `forward()` says another
   * worker has a subscriber; `onSubscribers` hears every change of the local stream count.
   */
  link(sink: RemoteSink, onSubscribers: (audit: number, error: number) => void): void {
    this.#remote = sink;
    this.#onSubscribers = onSubscribers;
    // Workers share the file; only the primary rotates it (they follow by inode).
    this.#rotatesAuditFile = false;
    if (this.#auditFile) this.#setAuditFile(this.#auditFile.options, true);
  }

  /** Switches forwarding to the remote sink on or off, per kind (only while someone subscribes elsewhere). */
  forward(audit: boolean, error: boolean): void {
    this.#forwardAudit = audit && this.#remote !== undefined;
    this.#forwardError = error && this.#remote !== undefined;
  }

  /** An event of another worker: goes to the local streams and listeners, never to the console or back out. */
  deliver(kind: LogKind, event: object): void {
    const streams = kind === 'audit' ? this.#auditStreams : this.#errorStreams;
    if (streams.size > 0) {
      const line = `${JSON.stringify(event)}\n`;
      for (const res of streams) {
        if (this.#write(res, line, streams)) {
          if (kind === 'audit') this.#counters?.auditWritten();
          else this.#counters?.errorWritten();
        }
      }
    }
    for (const l of kind === 'audit' ? this.#auditListeners : this.#errorListeners) safeCall(l, event);
  }

  on(kind: 'audit' | 'error', listener: Listener): () => void {
    const set = kind === 'audit' ? this.#auditListeners : this.#errorListeners;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Registers a streaming subscriber; removed when its response closes. */
  subscribe(kind: 'audit' | 'error', res: AnyResponse): void {
    const set = kind === 'audit' ? this.#auditStreams : this.#errorStreams;
    set.add(res);
    this.#subscribersChanged();
    (res as NodeJS.EventEmitter).once('close', () => {
      set.delete(res);
      this.#subscribersChanged();
    });
  }

  #subscribersChanged(): void {
    this.#onSubscribers?.(this.#auditStreams.size, this.#errorStreams.size);
  }

  /**
   * Hands an audit record to every sink. `fileDone`: the caller has written it to the
   * audit file already (held replies); otherwise it is appended without waiting, and kept
   * for the next attempt if that fails.
   */
  audit(event: AuditEvent, method: string, fileDone = false): void {
    if (!fileDone && this.#auditFile) this.#auditFile.append(auditLine(event)).catch(() => undefined);
    if (this.#auditStreams.size > 0) {
      const line = `${JSON.stringify(event)}\n`;
      for (const res of this.#auditStreams) {
        if (this.#write(res, line, this.#auditStreams)) this.#counters?.auditWritten();
      }
    }
    for (const l of this.#auditListeners) safeCall(l, event);
    if (this.#forwardAudit) this.#remote?.('audit', event);
    const out = this.#auditConsole;
    if (out) {
      if (this.#json) out.write(`${JSON.stringify(event)}\n`);
      else {
        const r = event.request;
        out.write(
          `time=${event.time} level=INFO msg=audit req.method=${slogValue(method)} req.path=${slogValue(r.path)}` +
            ` req.ip=${slogValue(r.ip ?? '')} req.identity=${slogValue(r.identity ?? '')}` +
            ` res.code=${event.response.code} res.time=${event.response.time}ms\n`,
        );
      }
    }
  }

  /** Emits an ERROR record. `detail` (a cause's message) is for operators only and never sent to clients. */
  error(msg: string, ctx: ErrorContext | undefined, detail?: string): void {
    if (!this.#errorConsole && this.#errorListeners.size === 0 && this.#errorStreams.size === 0 && !this.#forwardError) return;
    let line = `time=${new Date().toISOString()} level=ERROR msg=${slogValue(msg)}`;
    if (ctx) {
      line +=
        ` req.method=${slogValue(ctx.method)} req.path=${slogValue(ctx.path)} req.ip=${slogValue(ctx.ip)}` +
        ` req.identity=${slogValue(ctx.identity || '<unknown>')}`;
    }
    if (detail) line += ` err=${slogValue(detail)}`;
    const event: ErrorEvent = { message: line };
    if (this.#errorStreams.size > 0) {
      const json = `${JSON.stringify(event)}\n`;
      for (const res of this.#errorStreams) {
        if (this.#write(res, json, this.#errorStreams)) this.#counters?.errorWritten();
      }
    }
    for (const l of this.#errorListeners) safeCall(l, event);
    if (this.#forwardError) this.#remote?.('error', event);
    const out = this.#errorConsole;
    if (out) out.write(this.#json ? `${JSON.stringify(event)}\n` : `${line}\n`);
  }

  /** Ends every open log stream (server shutdown). */
  closeStreams(): void {
    for (const set of [this.#auditStreams, this.#errorStreams]) {
      for (const res of set) {
        try {
          (res as NodeJS.WritableStream).end();
        } catch {
          /* already gone */
        }
      }
      set.clear();
    }
    this.#subscribersChanged();
  }

  #write(res: AnyResponse, line: string, set: Set<AnyResponse>): boolean {
    const w = res as unknown as { writableEnded?: boolean; writableLength?: number; write(s: string): boolean; end(): void };
    if (w.writableEnded) {
      set.delete(res);
      return false;
    }
    if ((w.writableLength ?? 0) > MAX_SUBSCRIBER_BACKLOG) {
      // A subscriber that does not read would make us buffer forever: drop it.
      set.delete(res);
      w.end();
      return false;
    }
    w.write(line);
    return true;
  }
}

/** One audit-file line: the record as `/v1/log/audit` streams it. */
export function auditLine(event: AuditEvent): string {
  return `${JSON.stringify(event)}\n`;
}

function sameAuditFile(a: Required<AuditFileOptions> | undefined, b: AuditFileOptions | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.path === b.path &&
    a.failClosed === (b.failClosed ?? false) &&
    a.fsync === (b.fsync ?? false) &&
    a.maxSizeBytes === (b.maxSizeBytes ?? DEFAULT_AUDIT_MAX_SIZE) &&
    a.maxFiles === (b.maxFiles ?? DEFAULT_AUDIT_MAX_FILES)
  );
}

function safeCall(l: Listener, event: object): void {
  try {
    l(event);
  } catch {
    // A throwing listener must not break request handling.
  }
}

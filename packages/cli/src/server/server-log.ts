// The console output of `kes server` itself (start-up warnings, reloads, shutdown): text
// on a terminal, JSON lines otherwise. Server and request errors do not pass through
// here: the server logs them through its own log hub (`log.error`, `/v1/log/error`).
import { paintStderr, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';

/** The levels the CLI prints at. */
export type ServerLogLevel = 'INFO' | 'WARN' | 'ERROR';

/** Console printer of the server command. */
export class ServerLog {
  readonly #ctx: CliContext;
  /** JSON lines (`--json`, or stdout is not a terminal) instead of text. */
  readonly json: boolean;

  constructor(ctx: CliContext, json: boolean) {
    this.#ctx = ctx;
    this.json = json;
  }

  /** Prints one message with optional attributes, to stderr. */
  log(level: ServerLogLevel, msg: string, attrs: Record<string, unknown> = {}): void {
    if (this.json) {
      println(this.#ctx.stderr, JSON.stringify({ time: new Date().toISOString(), level, msg, ...attrs }));
      return;
    }
    const tag = level === 'INFO' ? '' : `${paintStderr(this.#ctx, level === 'WARN' ? 'yellow' : 'red', level === 'WARN' ? 'WARNING:' : 'Error:')} `;
    const extra = Object.entries(attrs)
      .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('');
    println(this.#ctx.stderr, `${tag}${msg}${extra}`);
  }
}

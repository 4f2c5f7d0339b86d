// What a command needs from the process, passed down explicitly: libraries below
// the CLI layer never read `process.env` or call `process.exit`.
import { availableParallelism } from 'node:os';
import { styleText } from 'node:util';

/** Streams, environment and terminal facts of one CLI invocation. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** stdout is a terminal. */
  readonly stdoutIsTTY: boolean;
  /** Colour is allowed on stdout: it is a terminal, NO_COLOR is unset and TERM is not `dumb`. */
  readonly color: boolean;
  /** Registers process signal handlers (the server command uses it). */
  readonly onSignal: (signal: NodeJS.Signals, listener: () => void) => () => void;
  /**
   * `kes server` processes when neither `--workers` nor the config sets a count: the
   * process context uses `os.availableParallelism()`; absent = 1 (in-process runs).
   */
  readonly defaultWorkers?: number;
}

/** The context of the running process. Only called by `main`. */
export function processContext(env: Readonly<Record<string, string | undefined>>): CliContext {
  const tty = process.stdout.isTTY === true;
  return {
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdoutIsTTY: tty,
    // Per stream: `kes key ls | less` gets no escape codes even when stderr is a terminal.
    color: tty && colorAllowed(env),
    defaultWorkers: availableParallelism(),
    onSignal(signal, listener) {
      process.on(signal, listener);
      return () => process.off(signal, listener);
    },
  };
}

/** NO_COLOR is unset (https://no-color.org) and the terminal is not `dumb`. */
function colorAllowed(env: Readonly<Record<string, string | undefined>>): boolean {
  return (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}

type Style = 'bold' | 'red' | 'yellow' | 'green' | 'cyan' | 'dim';

/** `text` in `style` when colour is on, else unchanged. */
export function paint(ctx: CliContext, style: Style, text: string): string {
  // The decision is ctx.color's (terminal, NO_COLOR, --color): styleText must not
  // second-guess it by looking at process.stdout (`--color always` into a pipe).
  return ctx.color ? styleText(style, text, { validateStream: false }) : text;
}

/** Writes one line. */
export function println(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

/** `text` in `style` for stderr: when stderr is a terminal and colour is allowed (`kes … 2> file` gets no escape codes). */
export function paintStderr(ctx: CliContext, style: Style, text: string): string {
  const on = ctx.stderr.isTTY === true && colorAllowed(ctx.env);
  return on ? styleText(style, text, { validateStream: false }) : text;
}

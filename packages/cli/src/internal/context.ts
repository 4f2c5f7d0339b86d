// What a command needs from the process, passed down explicitly: libraries below
// the CLI layer never read `process.env` or call `process.exit`.
import { styleText } from 'node:util';

/** Streams, environment and terminal facts of one CLI invocation. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** stdout is a terminal. */
  readonly stdoutIsTTY: boolean;
  /** Colour is allowed: stderr/stdout is a terminal and NO_COLOR is unset. */
  readonly color: boolean;
  /** Registers process signal handlers (the server command uses it). */
  readonly onSignal: (signal: NodeJS.Signals, listener: () => void) => () => void;
}

/** The context of the running process. Only called by `main`. */
export function processContext(env: Readonly<Record<string, string | undefined>>): CliContext {
  const tty = process.stdout.isTTY === true;
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return {
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdoutIsTTY: tty,
    color: !noColor && (tty || process.stderr.isTTY === true) && env.TERM !== 'dumb',
    onSignal(signal, listener) {
      process.on(signal, listener);
      return () => process.off(signal, listener);
    },
  };
}

type Style = 'bold' | 'red' | 'yellow' | 'green' | 'cyan' | 'dim';

/** `text` in `style` when colour is on, else unchanged. */
export function paint(ctx: CliContext, style: Style, text: string): string {
  return ctx.color ? styleText(style, text) : text;
}

/** Writes one line. */
export function println(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

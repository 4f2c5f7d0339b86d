// The `kes` command line: yargs with explicit command modules, and the one place
// where errors are turned into messages and exit codes.
import yargs from 'yargs';
import { isKesError } from '@kes/core';
import { identityCommand } from './commands/identity.js';
import { serverCommand } from './commands/server.js';
import { isConfigError } from './config/config-error.js';
import { paint, println, processContext } from './internal/context.js';
import type { CliContext } from './internal/context.js';
import { UsageError } from './internal/usage-error.js';
import { VERSION } from './version.js';

/** Exit codes: 0 success, 1 an expected failure, 2 a usage error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Runs the `kes` CLI with `argv` (without node and script path) and returns the
 * exit code; also sets `process.exitCode`. Long-running commands (`kes server`)
 * resolve once started and keep the process alive.
 *
 * @example
 * await main(['identity', 'new']);
 */
export async function main(argv: readonly string[], context?: CliContext): Promise<number> {
  const ctx = context ?? processContext(process.env);
  let code: number = EXIT.ok;
  try {
    await buildParser([...argv], ctx).parseAsync();
  } catch (err) {
    code = reportError(err, ctx);
  }
  if (!context) process.exitCode = code;
  return code;
}

function buildParser(argv: string[], ctx: CliContext) {
  return yargs(argv)
    .scriptName('kes')
    .usage('Usage: $0 <command> [options]')
    .command(serverCommand(ctx))
    .command(identityCommand(ctx))
    .demandCommand(1, 'a command is required')
    .strict()
    .version(VERSION)
    .alias('v', 'version')
    .help()
    .alias('h', 'help')
    .exitProcess(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg: string | null, err: Error | undefined) => {
      if (err) throw err;
      throw new UsageError(msg ?? 'invalid usage');
    });
}

/** Prints an error the way its kind demands and returns the exit code. */
function reportError(err: unknown, ctx: CliContext): number {
  const prefix = paint(ctx, 'red', 'Error:');
  if (err instanceof UsageError) {
    println(ctx.stderr, `${prefix} ${err.message}`);
    println(ctx.stderr, "Run 'kes --help' (or 'kes <command> --help') for usage.");
    return EXIT.usage;
  }
  if (isConfigError(err)) {
    for (const line of err.problems) println(ctx.stderr, `${prefix} ${line}`);
    return EXIT.failure;
  }
  if (isKesError(err)) {
    println(ctx.stderr, `${prefix} ${err.message}`);
    return EXIT.failure;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  println(ctx.stderr, e.stack ?? `${e.name}: ${e.message}`);
  println(ctx.stderr, 'This is a bug in kes-ts, please report it (with the output above) at https://github.com/kes-ts/kes-ts/issues');
  return EXIT.failure;
}

// The `kes` command line: yargs with explicit command modules, and the one place
// where errors are turned into messages and exit codes.
import yargs from 'yargs';
import { isKesError } from '@kes/core';
import { identityCommand } from './commands/identity.js';
import { keyCommand } from './commands/key.js';
import { logCommand } from './commands/log.js';
import { lsCommand } from './commands/ls.js';
import { metricCommand } from './commands/metric.js';
import { migrateCommand } from './commands/migrate.js';
import { policyCommand } from './commands/policy.js';
import { serverCommand } from './commands/server.js';
import { statusCommand } from './commands/status.js';
import { isConfigError } from './config/config-error.js';
import { paintStderr, println, processContext } from './internal/context.js';
import type { CliContext } from './internal/context.js';
import { CliFailure } from './internal/failure.js';
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
  // `kes key ls | head -1`: a closed pipe ends the command quietly, as for any Unix tool.
  if (!context) {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(process.exitCode ?? 0);
    });
  }
  let code: number = EXIT.ok;
  try {
    const parser = buildParser([...argv], ctx);
    if (argv.length === 0) {
      // `kes` alone: the overview of commands, as a usage error (exit 2, as upstream).
      ctx.stderr.write(`${await parser.getHelp()}\n`);
      code = EXIT.usage;
    } else {
      await parser.parseAsync();
    }
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
    .command(keyCommand(ctx))
    .command(policyCommand(ctx))
    .command(identityCommand(ctx))
    .command(lsCommand(ctx))
    .command(statusCommand(ctx))
    .command(metricCommand(ctx))
    .command(logCommand(ctx))
    .command(migrateCommand(ctx))
    .completion('completion', 'Print a bash/zsh completion script (kes completion >> ~/.bashrc)')
    .demandCommand(1, 'a command is required')
    .recommendCommands()
    .strict()
    .version(VERSION)
    .alias('v', 'version')
    .help()
    .alias('h', 'help')
    .exitProcess(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg: string | null, err: Error | undefined) => {
      // yargs passes a message for every usage problem (also when a `.check()` throws);
      // an error without one was thrown by a command's handler and is reported as it is.
      if (msg) throw new UsageError(usageMessage(msg, argv));
      if (err) throw err;
      throw new UsageError('invalid usage');
    });
}

/** The subcommands (with aliases) of each command group, to name the mistyped word. */
const SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  key: [
    'create',
    'import',
    'info',
    'describe',
    'ls',
    'list',
    'rm',
    'delete',
    'encrypt',
    'decrypt',
    'dek',
    'derive',
    'rotate',
    'versions',
    'rewrap',
    'version',
  ],
  policy: ['info', 'describe', 'ls', 'list', 'show'],
  identity: ['new', 'of', 'info', 'describe', 'ls', 'list'],
};
const COMMANDS = ['server', 'key', 'policy', 'identity', 'ls', 'status', 'metric', 'metrics', 'log', 'migrate', 'completion'];

/**
 * yargs' recommendation (`Did you mean status?`) with the mistyped word named:
 * `unknown command 'stats' (did you mean 'status'?)`.
 */
function usageMessage(msg: string, argv: readonly string[]): string {
  const suggestion = /^Did you mean (\S+)\?$/.exec(msg)?.[1];
  if (suggestion === undefined) return msg;
  const [first, second] = argv;
  let typo: string | undefined;
  if (first !== undefined && !first.startsWith('-') && !COMMANDS.includes(first)) typo = first;
  else if (first !== undefined && second !== undefined && !second.startsWith('-') && !(SUBCOMMANDS[first] ?? []).includes(second)) typo = second;
  return typo === undefined ? `unknown command (did you mean '${suggestion}'?)` : `unknown command '${typo}' (did you mean '${suggestion}'?)`;
}

/** Prints an error the way its kind demands and returns the exit code. */
function reportError(err: unknown, ctx: CliContext): number {
  const prefix = paintStderr(ctx, 'red', 'Error:');
  if (err instanceof UsageError) {
    println(ctx.stderr, `${prefix} ${err.message}`);
    println(ctx.stderr, "Run 'kes --help' (or 'kes <command> --help') for usage.");
    return EXIT.usage;
  }
  if (err instanceof CliFailure) {
    println(ctx.stderr, `${prefix} ${err.message}`);
    return EXIT.failure;
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

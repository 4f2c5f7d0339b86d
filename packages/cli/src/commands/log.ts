// `kes log [--audit | --error]`: flags only; the implementation is loaded when it runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed `kes log` arguments. */
export interface LogArgs extends ClientArgs, OutputArgs {
  readonly audit?: boolean;
  readonly error?: boolean;
}

/** The `kes log` command module. */
export function logCommand(ctx: CliContext): CommandModule<object, LogArgs> {
  return {
    command: 'log',
    describe: "Follow the server's audit log (default) or error log until Ctrl-C",
    builder: (y: Argv) =>
      withClientOptions(
        y.options({
          audit: { type: 'boolean', describe: 'The audit log: one event per request (default)' },
          error: { type: 'boolean', describe: 'The error log' },
        }),
      ) as unknown as Argv<LogArgs>,
    handler: async (args) => {
      const { runLog } = await import('../log/run.js');
      await runLog(args, ctx);
    },
  };
}

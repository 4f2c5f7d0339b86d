// `kes status`: flags only; the implementation is loaded when it runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed `kes status` arguments. */
export interface StatusArgs extends ClientArgs, OutputArgs {
  readonly short?: boolean;
  readonly api?: boolean;
}

/** The `kes status` command module. */
export function statusCommand(ctx: CliContext): CommandModule<object, StatusArgs> {
  return {
    command: 'status',
    describe: 'Show server version, uptime, key store state and latency',
    builder: (y: Argv) =>
      withClientOptions(
        y.options({
          short: { type: 'boolean', alias: 's', describe: 'Only the endpoint line' },
          api: { type: 'boolean', describe: 'Also list the API routes with their timeouts' },
        }),
        { color: true },
      ) as unknown as Argv<StatusArgs>,
    handler: async (args) => {
      const { runStatus } = await import('../status/run.js');
      await runStatus(args, ctx);
    },
  };
}

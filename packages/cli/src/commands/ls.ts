// `kes ls [-i | -p] [PREFIX]`: flags only; the implementation is loaded when it runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed `kes ls` arguments. */
export interface LsArgs extends ClientArgs, OutputArgs {
  readonly prefix?: string;
  readonly identity?: boolean;
  readonly policy?: boolean;
}

/** The `kes ls` command module. */
export function lsCommand(ctx: CliContext): CommandModule<object, LsArgs> {
  return {
    command: 'ls [prefix]',
    describe: 'List keys (default), identities (-i) or policies (-p)',
    builder: (y: Argv) =>
      withClientOptions(
        y.positional('prefix', { type: 'string', describe: 'Only names starting with this prefix' }).options({
          identity: { type: 'boolean', alias: 'i', describe: 'List identities' },
          policy: { type: 'boolean', alias: 'p', describe: 'List policies' },
        }),
        { short: { server: true, apiKey: true } },
      ) as unknown as Argv<LsArgs>,
    handler: async (args) => {
      const { runLs } = await import('../ls/run.js');
      await runLs(args, ctx);
    },
  };
}

// `kes policy info|ls|show`: flags only; the implementation is loaded when a subcommand runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed arguments of the `kes policy` subcommands. */
export interface PolicyArgs extends ClientArgs, OutputArgs {
  readonly name?: string;
  readonly pattern?: string;
}

function sub(
  ctx: CliContext,
  name: 'info' | 'ls' | 'show',
  command: string,
  describe: string,
  aliases: string[],
  color: boolean,
): CommandModule<object, PolicyArgs> {
  return {
    command,
    aliases,
    describe,
    builder: (y: Argv) => {
      const p =
        name === 'ls'
          ? y.positional('pattern', { type: 'string', describe: 'Prefix, optionally ending in *' })
          : y.positional('name', { type: 'string', demandOption: true, describe: 'Policy name' });
      return withClientOptions(p, { color }) as unknown as Argv<PolicyArgs>;
    },
    handler: async (args) => {
      const { runPolicyCommand } = await import('../policy/run.js');
      await runPolicyCommand(name, args, ctx);
    },
  };
}

/** The `kes policy` command module. */
export function policyCommand(ctx: CliContext): CommandModule {
  return {
    command: 'policy',
    describe: 'Show the policies of the server',
    builder: (y: Argv) =>
      y
        .command(sub(ctx, 'info', 'info <name>', 'Describe a policy: creation date and creator', ['describe'], true))
        .command(sub(ctx, 'ls', 'ls [pattern]', 'List policies', ['list'], true))
        .command(sub(ctx, 'show', 'show <name>', 'Show the allow and deny rules of a policy', [], false))
        .demandCommand(1, "'kes policy' needs a subcommand: info, ls or show"),
    handler: () => {},
  };
}

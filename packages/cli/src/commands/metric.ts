// `kes metric`: flags only; the implementation is loaded when it runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { singleValued, withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed `kes metric` arguments. */
export interface MetricArgs extends ClientArgs, OutputArgs {
  readonly rate?: string;
}

/** The `kes metric` command module. */
export function metricCommand(ctx: CliContext): CommandModule<object, MetricArgs> {
  return {
    command: 'metric',
    aliases: ['metrics'],
    describe: 'Show request and error rates and latency: live on a terminal, one snapshot otherwise',
    builder: (y: Argv) =>
      withClientOptions(y.options({ rate: { type: 'string', describe: 'Refresh / measuring interval (default 1s)' } })).check(
        singleValued(['rate']),
      ) as unknown as Argv<MetricArgs>,
    handler: async (args) => {
      const { runMetric } = await import('../metric/run.js');
      await runMetric(args, ctx);
    },
  };
}

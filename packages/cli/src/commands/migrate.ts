// `kes migrate`: flags only; the implementation is loaded when it runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { singleValued } from './client-options.js';

/** Parsed `kes migrate` arguments. */
export interface MigrateArgs {
  readonly from?: string;
  readonly to?: string;
  readonly force?: boolean;
  readonly merge?: boolean;
  readonly pattern?: string;
  readonly json?: boolean;
  /** Upstream's MinIO KMS target flags: recognised only to explain that kes-ts has no such target. */
  readonly server?: string;
  readonly enclave?: string;
  readonly apiKey?: string;
  readonly insecure?: boolean;
}

/** The `kes migrate` command module. */
export function migrateCommand(ctx: CliContext): CommandModule<object, MigrateArgs> {
  return {
    command: 'migrate [pattern]',
    describe: 'Copy keys from one key store to another (config files with a keystore section)',
    builder: (y: Argv) =>
      y
        .positional('pattern', { type: 'string', describe: 'Only keys whose whole name matches this glob (*, ?, [a-z]); default *' })
        .options({
          from: { type: 'string', describe: 'Config file of the key store to copy from' },
          to: { type: 'string', describe: 'Config file of the key store to copy to' },
          merge: { type: 'boolean', describe: 'Keep keys the target already has with a different value (skip them)' },
          force: { type: 'boolean', alias: 'f', describe: 'Replace keys the target already has with a different value' },
          json: { type: 'boolean', describe: 'Print the result as JSON' },
          server: { type: 'string', alias: 's', hidden: true },
          enclave: { type: 'string', alias: 'e', hidden: true },
          'api-key': { type: 'string', alias: 'a', hidden: true },
          insecure: { type: 'boolean', alias: 'k', hidden: true },
        })
        .check(singleValued(['from', 'to', 'server', 'enclave', 'api-key'])) as unknown as Argv<MigrateArgs>,
    handler: async (args) => {
      const { runMigrate } = await import('../migrate/run.js');
      await runMigrate(args, ctx);
    },
  };
}

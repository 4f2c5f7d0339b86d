// `kes identity new|of`: flags only; the implementation is loaded when the command runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';

/** Parsed `kes identity new` flags. */
export interface IdentityNewArgs {
  readonly subject?: string;
  readonly key?: string;
  readonly cert?: string;
  readonly ip?: string[];
  readonly dns?: string[];
  readonly expiry?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Parsed `kes identity of` arguments. */
export interface IdentityOfArgs {
  readonly input: string;
  readonly json?: boolean;
}

function newCommand(ctx: CliContext): CommandModule<object, IdentityNewArgs> {
  return {
    command: 'new [subject]',
    describe: 'Create a new identity: an API key, or a private key and certificate',
    builder: (y: Argv) =>
      y.positional('subject', { type: 'string', describe: 'Certificate subject (common name)' }).options({
        key: { type: 'string', describe: 'Write the private key to this file' },
        cert: { type: 'string', describe: 'Write the certificate to this file' },
        ip: { type: 'string', array: true, describe: 'IP address SAN (repeatable)' },
        dns: { type: 'string', array: true, describe: 'DNS name SAN (repeatable)' },
        expiry: { type: 'string', describe: 'Certificate validity (default 720h)' },
        force: { alias: 'f', type: 'boolean', describe: 'Overwrite existing files' },
        json: { type: 'boolean', describe: 'Print JSON' },
      }) as unknown as Argv<IdentityNewArgs>,
    handler: async (args) => {
      const { runIdentityNew } = await import('../identity/run.js');
      await runIdentityNew(args, ctx);
    },
  };
}

function ofCommand(ctx: CliContext): CommandModule<object, IdentityOfArgs> {
  return {
    command: 'of <input>',
    describe: 'Print the identity of an API key, a certificate file or an Ed25519 private key file',
    builder: (y: Argv) =>
      y
        .positional('input', { type: 'string', demandOption: true, describe: 'API key, certificate file or private key file' })
        .options({ json: { type: 'boolean', describe: 'Print JSON' } }) as unknown as Argv<IdentityOfArgs>,
    handler: async (args) => {
      const { runIdentityOf } = await import('../identity/run.js');
      await runIdentityOf(args, ctx);
    },
  };
}

/** The `kes identity` command module (subcommands `new` and `of`). */
export function identityCommand(ctx: CliContext): CommandModule {
  return {
    command: 'identity',
    describe: 'Create identities and compute the identity of keys and certificates',
    builder: (y: Argv) => y.command(newCommand(ctx)).command(ofCommand(ctx)).demandCommand(1, "'kes identity' needs a subcommand: new or of"),
    handler: () => {},
  };
}

// `kes identity new|of|info|ls`: flags only; the implementation is loaded when the command runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { singleValued, withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed `kes identity new` flags. */
export interface IdentityNewArgs {
  readonly subject?: string;
  readonly key?: string;
  readonly cert?: string;
  /** Repeatable: each `--ip` takes exactly one value. */
  readonly ip?: string | string[];
  /** Repeatable: each `--dns` takes exactly one value. */
  readonly dns?: string | string[];
  readonly expiry?: string;
  readonly force?: boolean;
  /** Derive the key pair from this API key instead of a new one. */
  readonly apiKey?: string;
  readonly json?: boolean;
}

/** Parsed `kes identity of` arguments. */
export interface IdentityOfArgs {
  readonly input: string;
  /** For an Ed25519 private key file: print its API key too. */
  readonly apiKey?: boolean;
  readonly json?: boolean;
}

/** Parsed `kes identity info|ls` arguments. */
export interface IdentityRemoteArgs extends ClientArgs, OutputArgs {
  readonly identity?: string;
  readonly prefix?: string;
}

function newCommand(ctx: CliContext): CommandModule<object, IdentityNewArgs> {
  return {
    command: 'new [subject]',
    describe: 'Create a new identity: an API key, or a private key and certificate',
    builder: (y: Argv) =>
      y
        .positional('subject', { type: 'string', describe: 'Certificate subject (common name)' })
        .options({
          key: { type: 'string', describe: 'Write the private key to this file' },
          cert: { type: 'string', describe: 'Write the certificate to this file' },
          // Not `array: true`: that would swallow the positional subject after the last value.
          ip: { type: 'string', describe: 'IP address SAN (repeat the flag for several)' },
          dns: { type: 'string', describe: 'DNS name SAN (repeat the flag for several)' },
          expiry: { type: 'string', describe: 'Certificate validity (default 720h)' },
          force: { alias: 'f', type: 'boolean', describe: 'Overwrite existing files' },
          'api-key': { type: 'string', describe: 'Write the key pair of this API key (its identity), e.g. for curl against an API-key server' },
          json: { type: 'boolean', describe: 'Print JSON' },
        })
        .check(singleValued(['key', 'cert', 'expiry', 'api-key', 'subject'])) as unknown as Argv<IdentityNewArgs>,
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
      y.positional('input', { type: 'string', demandOption: true, describe: 'API key, certificate file or private key file' }).options({
        'api-key': { type: 'boolean', describe: 'For an Ed25519 private key file: also print its API key (a secret)' },
        json: { type: 'boolean', describe: 'Print JSON' },
      }) as unknown as Argv<IdentityOfArgs>,
    handler: async (args) => {
      const { runIdentityOf } = await import('../identity/run.js');
      await runIdentityOf(args, ctx);
    },
  };
}

function infoCommand(ctx: CliContext): CommandModule<object, IdentityRemoteArgs> {
  return {
    command: 'info [identity]',
    aliases: ['describe'],
    describe: 'Describe an identity (default: your own): its policy, admin status, creation',
    builder: (y: Argv) =>
      withClientOptions(y.positional('identity', { type: 'string', describe: 'Identity (hex); default: the caller' }), {
        color: true,
      }) as unknown as Argv<IdentityRemoteArgs>,
    handler: async (args) => {
      const { runIdentityInfo } = await import('../identity/remote.js');
      await runIdentityInfo(args, ctx);
    },
  };
}

function lsCommand(ctx: CliContext): CommandModule<object, IdentityRemoteArgs> {
  return {
    command: 'ls [prefix]',
    aliases: ['list'],
    describe: 'List the identities that have a policy',
    builder: (y: Argv) =>
      withClientOptions(y.positional('prefix', { type: 'string', describe: 'Prefix, optionally ending in *' }), {
        color: true,
      }) as unknown as Argv<IdentityRemoteArgs>,
    handler: async (args) => {
      const { runIdentityLs } = await import('../identity/remote.js');
      await runIdentityLs(args, ctx);
    },
  };
}

/** The `kes identity` command module. */
export function identityCommand(ctx: CliContext): CommandModule {
  return {
    command: 'identity',
    describe: 'Create identities, compute them from keys and certificates, and show those the server knows',
    builder: (y: Argv) =>
      y
        .command(newCommand(ctx))
        .command(ofCommand(ctx))
        .command(infoCommand(ctx))
        .command(lsCommand(ctx))
        .demandCommand(1, "'kes identity' needs a subcommand: new, of, info or ls"),
    handler: () => {},
  };
}

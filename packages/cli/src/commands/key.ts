// `kes key create|import|info|ls|rm|encrypt|decrypt|dek`: flags only; the
// implementation (and the client) is loaded when a subcommand runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { withClientOptions } from './client-options.js';
import type { ClientArgs, OutputArgs } from './client-options.js';

/** Parsed arguments of every `kes key` subcommand (each uses its own fields). */
export interface KeyArgs extends ClientArgs, OutputArgs {
  readonly name?: string;
  readonly names?: string[];
  readonly pattern?: string;
  /** `import`: the base64 key. */
  readonly key?: string;
  /** `import`: the key's algorithm. */
  readonly cipher?: string;
  /** `encrypt`: the message (text). */
  readonly message?: string;
  /** `decrypt`: the base64 ciphertext. */
  readonly ciphertext?: string;
  /** `encrypt`, `decrypt`, `dek`: the base64 context. */
  readonly context?: string;
}

type Sub = 'create' | 'import' | 'info' | 'ls' | 'rm' | 'encrypt' | 'decrypt' | 'dek';

function sub(
  ctx: CliContext,
  name: Sub,
  command: string,
  describe: string,
  options: { aliases?: string[]; color?: boolean; json?: boolean; positionals?: (y: Argv) => Argv; extra?: (y: Argv) => Argv },
): CommandModule<object, KeyArgs> {
  return {
    command,
    ...(options.aliases ? { aliases: options.aliases } : {}),
    describe,
    builder: (y: Argv) => {
      let b = withClientOptions(options.positionals ? options.positionals(y) : y, { color: options.color === true, json: options.json !== false });
      if (options.extra) b = options.extra(b);
      return b as unknown as Argv<KeyArgs>;
    },
    handler: async (args) => {
      const { runKeyCommand } = await import('../key/run.js');
      await runKeyCommand(name, args, ctx);
    },
  };
}

const str = (describe: string, demandOption = true) => ({ type: 'string' as const, describe, ...(demandOption ? { demandOption } : {}) });

/** The `kes key` command module. */
export function keyCommand(ctx: CliContext): CommandModule {
  return {
    command: 'key',
    describe: 'Manage cryptographic keys',
    builder: (y: Argv) =>
      y
        .command(
          sub(ctx, 'create', 'create <names..>', 'Create one or more keys', {
            json: false,
            positionals: (p) => p.positional('names', { ...str('Key name'), array: true }),
          }),
        )
        .command(
          sub(ctx, 'import', 'import <name> <key>', 'Import a key from its base64 encoding (32 bytes)', {
            json: false,
            positionals: (p) => p.positional('name', str('Key name')).positional('key', str('The key, base64')),
            extra: (b) => b.option('cipher', { type: 'string', choices: ['AES256', 'ChaCha20'], describe: 'The key’s algorithm (default AES256)' }),
          }),
        )
        .command(
          sub(ctx, 'info', 'info <name>', 'Describe a key: algorithm, creation date, creator', {
            aliases: ['describe'],
            color: true,
            positionals: (p) => p.positional('name', str('Key name')),
          }),
        )
        .command(
          sub(ctx, 'ls', 'ls [pattern]', 'List keys (prefix pattern, e.g. my-app-*)', {
            aliases: ['list'],
            color: true,
            positionals: (p) => p.positional('pattern', str('Prefix, optionally ending in *', false)),
          }),
        )
        .command(
          sub(ctx, 'rm', 'rm <names..>', 'Delete one or more keys (irreversible: data encrypted with them is lost)', {
            aliases: ['delete'],
            json: false,
            positionals: (p) => p.positional('names', { ...str('Key name'), array: true }),
          }),
        )
        .command(
          sub(ctx, 'encrypt', 'encrypt <name> <message> [context]', 'Encrypt a (short) text message with a key', {
            positionals: (p) =>
              p
                .positional('name', str('Key name'))
                .positional('message', str('The plaintext, as text'))
                .positional('context', str('Associated context, base64', false)),
          }),
        )
        .command(
          sub(ctx, 'decrypt', 'decrypt <name> <ciphertext> [context]', 'Decrypt a ciphertext with a key', {
            positionals: (p) =>
              p
                .positional('name', str('Key name'))
                .positional('ciphertext', str('The ciphertext, base64'))
                .positional('context', str('Associated context, base64', false)),
          }),
        )
        .command(
          sub(ctx, 'dek', 'dek <name> [context]', 'Generate a data encryption key: plaintext and ciphertext', {
            aliases: ['derive'],
            positionals: (p) => p.positional('name', str('Key name')).positional('context', str('Associated context, base64', false)),
          }),
        )
        .demandCommand(1, "'kes key' needs a subcommand: create, import, info, ls, rm, encrypt, decrypt or dek"),
    handler: () => {},
  };
}

// `kes key create|import|info|ls|rm|encrypt|decrypt|dek`, and the key-version commands
// `rotate|versions|rewrap|version rm|version config`: flags only; the implementation (and
// the client) is loaded when a subcommand runs.
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../internal/context.js';
import { singleValued, withClientOptions } from './client-options.js';
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
  /** `encrypt`, `decrypt`, `dek`, `rewrap`: the base64 context. */
  readonly context?: string;
  /** `rotate`: a file with the new version's key (base64 or 32 raw bytes). */
  readonly importKey?: string;
  /**
   * `encrypt`, `decrypt`, `dek`, `rewrap`: `--key-version N`; `version rm`: the version
   * to delete. (`--version` is yargs' own flag: it prints the CLI's version.)
   */
  readonly keyVersion?: string;
  /** `version config`: `--min-decryption N`. */
  readonly minDecryption?: string;
  /** `version config`: `--min-encryption M` (`0` or `none`: no limit). */
  readonly minEncryption?: string;
  /** `version config`: `--encryption-version V` (`0` or `latest`: the latest version encrypts). */
  readonly encryptionVersion?: string;
}

/** Every `kes key` subcommand (`version-rm` is `kes key version rm`). */
export type KeySub =
  | 'create'
  | 'import'
  | 'info'
  | 'ls'
  | 'rm'
  | 'encrypt'
  | 'decrypt'
  | 'dek'
  | 'rotate'
  | 'versions'
  | 'rewrap'
  | 'version-rm'
  | 'version-config';

function sub(
  ctx: CliContext,
  name: KeySub,
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

/**
 * `--key-version N` of the commands that can pick a key version. `--version` stays the
 * CLI's own flag elsewhere; here it would silently print the CLI's version instead of
 * pinning a key version, so it is turned off and `--version N` is a usage error that
 * names the right flag.
 */
const keyVersionOption = (describe: string) => (b: Argv) =>
  b
    .option('key-version', { type: 'string', describe })
    .version(false)
    .option('version', { type: 'string', hidden: true })
    .check((a) => {
      if (a.version !== undefined) throw new Error('--version is not a key version: pick one with --key-version N');
      return true;
    });

/** The `kes key version rm|config` group. */
function versionCommand(ctx: CliContext): CommandModule {
  return {
    command: 'version',
    describe: 'Delete one version of a key, or set which versions may decrypt and encrypt',
    builder: (y: Argv) =>
      y
        .command(
          sub(ctx, 'version-rm', 'rm <name> <key-version>', 'Delete one version of a key for good (data encrypted with it is lost)', {
            aliases: ['delete'],
            json: false,
            positionals: (p) => p.positional('name', str('Key name')).positional('key-version', str('The version to delete (2, 3, …)')),
          }),
        )
        .command(
          sub(ctx, 'version-config', 'config <name>', 'Set which versions of a key may decrypt and encrypt, and which one encrypts', {
            positionals: (p) => p.positional('name', str('Key name')),
            extra: (b) =>
              b
                .option('min-decryption', { type: 'string', describe: 'Versions below N can no longer decrypt' })
                .option('min-encryption', { type: 'string', describe: 'Versions below M can no longer encrypt (0 or none: no limit)' })
                .option('encryption-version', {
                  type: 'string',
                  describe: 'Encrypt with version V instead of the latest (0 or latest: the latest); 1 prepares a downgrade to upstream KES',
                })
                .check(singleValued(['min-decryption', 'min-encryption', 'encryption-version'])),
          }),
        )
        .demandCommand(1, "'kes key version' needs a subcommand: rm or config"),
    handler: () => {},
  };
}

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
            extra: keyVersionOption('Encrypt with this key version (default: the key’s encryption default)'),
          }),
        )
        .command(
          sub(ctx, 'decrypt', 'decrypt <name> <ciphertext> [context]', 'Decrypt a ciphertext with a key', {
            positionals: (p) =>
              p
                .positional('name', str('Key name'))
                .positional('ciphertext', str('The ciphertext, base64'))
                .positional('context', str('Associated context, base64', false)),
            extra: keyVersionOption('The key version to try first (a hint: versioned ciphertexts name their version)'),
          }),
        )
        .command(
          sub(ctx, 'dek', 'dek <name> [context]', 'Generate a data encryption key: plaintext and ciphertext', {
            aliases: ['derive'],
            positionals: (p) => p.positional('name', str('Key name')).positional('context', str('Associated context, base64', false)),
            extra: keyVersionOption('Encrypt the data key with this key version (default: the key’s encryption default)'),
          }),
        )
        .command(
          sub(ctx, 'rotate', 'rotate <name>', 'Add a new version to a key: new data is encrypted with it, older versions still decrypt', {
            positionals: (p) => p.positional('name', str('Key name')),
            extra: (b) =>
              b
                .option('import-key', { type: 'string', describe: 'File with the new version’s key: base64 (as for key import) or 32 raw bytes' })
                .option('cipher', {
                  type: 'string',
                  choices: ['AES256', 'ChaCha20'],
                  describe: 'The imported key’s algorithm (needs --import-key; default AES256)',
                })
                .check(singleValued(['import-key', 'cipher'])),
          }),
        )
        .command(
          sub(ctx, 'versions', 'versions <name>', 'List the versions of a key, their state and the key’s version settings', {
            color: true,
            positionals: (p) => p.positional('name', str('Key name')),
          }),
        )
        .command(
          sub(
            ctx,
            'rewrap',
            'rewrap <name> <ciphertext> [context]',
            'Re-encrypt a ciphertext with the key’s current version (the plaintext stays on the server)',
            {
              positionals: (p) =>
                p
                  .positional('name', str('Key name'))
                  .positional('ciphertext', str('The ciphertext, base64'))
                  .positional('context', str('Its associated context, base64', false)),
              extra: keyVersionOption('Re-encrypt with this key version (default: the key’s encryption default)'),
            },
          ),
        )
        .command(versionCommand(ctx))
        .demandCommand(1, "'kes key' needs a subcommand: create, import, info, ls, rm, encrypt, decrypt, dek, rotate, versions, rewrap or version"),
    handler: () => {},
  };
}

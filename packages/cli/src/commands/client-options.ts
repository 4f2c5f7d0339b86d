// The connection flags every client command takes, and small helpers for command modules.
import type { Argv, Options } from 'yargs';
import type { ClientFlags } from '../client/settings.js';
import type { ColorWhen } from '../internal/output.js';

/** Connection flags plus the ignored `--enclave` of upstream. */
export interface ClientArgs extends ClientFlags {
  /** Parsed and ignored, as upstream (enclaves were removed in KES v0.23). */
  readonly enclave?: string;
}

/** `--json` and `--color`. */
export interface OutputArgs {
  readonly json?: boolean;
  readonly color?: ColorWhen;
}

const GROUP = 'Connection:';

/** The connection flags (`-s`/`-a` short forms are added only where upstream has them). */
export function clientOptions(short: { server?: boolean; apiKey?: boolean } = {}): Record<string, Options> {
  return {
    server: {
      type: 'string',
      ...(short.server ? { alias: 's' } : {}),
      group: GROUP,
      describe: 'Server address HOST[:PORT], comma-separated for several (env MINIO_KES_SERVER, KES_SERVER; default 127.0.0.1:7373)',
    },
    'api-key': {
      type: 'string',
      ...(short.apiKey ? { alias: 'a' } : {}),
      group: GROUP,
      describe: 'API key to authenticate with (env MINIO_KES_API_KEY, KES_API_KEY)',
    },
    'client-cert': { type: 'string', group: GROUP, describe: 'Client certificate file (env KES_CLIENT_CERT, MINIO_KES_CERT_FILE)' },
    'client-key': { type: 'string', group: GROUP, describe: 'Client private key file (env KES_CLIENT_KEY, MINIO_KES_KEY_FILE)' },
    ca: { type: 'string', group: GROUP, describe: "CA certificate file that signed the server's certificate" },
    insecure: { type: 'boolean', alias: 'k', group: GROUP, describe: "Skip verification of the server's certificate (test servers only)" },
    enclave: { type: 'string', alias: 'e', hidden: true },
  };
}

/** `--json`, and `--color` where upstream has it. */
export function outputOptions(color = false): Record<string, Options> {
  return {
    json: { type: 'boolean', describe: 'Print JSON' },
    ...(color
      ? { color: { type: 'string', choices: ['auto', 'never', 'always'], describe: 'Colour the output (default auto: on a terminal)' } }
      : {}),
  };
}

/**
 * A yargs check that every flag in `names` was given at most once (a repeated
 * single-valued flag would otherwise become an array).
 */
export function singleValued(names: readonly string[]): (args: Record<string, unknown>) => true {
  return (args) => {
    for (const n of names) if (Array.isArray(args[n])) throw new Error(`--${n} may be given only once`);
    return true;
  };
}

/** The connection flags that must not repeat. */
export const CLIENT_SINGLE = ['server', 'api-key', 'client-cert', 'client-key', 'ca', 'color'] as const;

/** Applies the connection and output options and their single-value check. */
export function withClientOptions(y: Argv, options: { color?: boolean; json?: boolean; short?: { server?: boolean; apiKey?: boolean } } = {}): Argv {
  return y
    .options(clientOptions(options.short))
    .options(options.json === false ? {} : outputOptions(options.color === true))
    .check(singleValued(CLIENT_SINGLE));
}

import { KesError } from '@kes/core';

/**
 * A config file (or the flags standing in for it) is invalid. `problems` holds one
 * line per problem, already prefixed with the file name and line where known
 * (`kes.yml:12: tls.auth: must be "on" or "off"`). The message is all lines joined.
 */
export class ConfigError extends KesError<'ERR_KES_INVALID_CONFIG'> {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super('ERR_KES_INVALID_CONFIG', [problems.join('\n')], options);
    this.name = 'ConfigError';
    this.problems = [...problems];
  }
}

/** True for a {@link ConfigError} (or any `ERR_KES_INVALID_CONFIG` KesError). */
export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof KesError && value.code === 'ERR_KES_INVALID_CONFIG';
}

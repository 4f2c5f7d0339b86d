/**
 * An expected failure of a command (the server is unreachable, a key does not exist,
 * a file cannot be read): printed as one `Error: …` line that says what to do next,
 * exit code 1. Usage problems are {@link UsageError}s instead (exit code 2).
 */
export class CliFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliFailure';
  }
}

// An in-memory CliContext for running `main()` in-process.
import { PassThrough } from 'node:stream';
import type { CliContext } from '../../src/internal/context.js';

export interface TestContext {
  readonly ctx: CliContext;
  stdout(): string;
  stderr(): string;
}

export function testContext(options: { tty?: boolean; env?: Record<string, string> } = {}): TestContext {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => (o += c.toString()));
  err.on('data', (c: Buffer) => (e += c.toString()));
  return {
    ctx: {
      env: options.env ?? {},
      stdout: out,
      stderr: err,
      stdoutIsTTY: options.tty ?? false,
      color: false,
      onSignal: () => () => {},
    },
    stdout: () => o,
    stderr: () => e,
  };
}

// `kes key create|import|info|ls|rm|encrypt|decrypt|dek`.
import { decodeBase64Strict, encodeBase64 } from '@kes/core/wire';
import { withClient } from '../client/connect.js';
import type { KeyArgs } from '../commands/key.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { formatDate, prefixPattern, printFields, printJson, printNames, withColor } from '../internal/output.js';
import { UsageError } from '../internal/usage-error.js';
import { toWireJson } from '../internal/wire-json.js';

/** Decodes a base64 argument; the message names the argument, never its value (it may be a secret). */
function base64Arg(value: string | undefined, what: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeBase64Strict(value.trim());
  } catch {
    throw new UsageError(`${what} is not valid base64 (standard alphabet, with = padding)`);
  }
}

/**
 * Prints one or two base64 values: `name: value` lines on a terminal, else one JSON
 * object (as upstream, so that output piped to a script is machine-readable).
 */
function printValues(ctx: CliContext, json: boolean, values: Record<string, Uint8Array>): void {
  const encoded = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, encodeBase64(v)]));
  if (json || !ctx.stdoutIsTTY) {
    printJson(ctx, encoded);
    return;
  }
  const width = Math.max(...Object.keys(encoded).map((k) => k.length)) + 1;
  for (const [k, v] of Object.entries(encoded)) println(ctx.stdout, `${paint(ctx, 'bold', `${k}:`.padEnd(width))} ${v}`);
}

/** Runs one `kes key` subcommand. */
export async function runKeyCommand(
  sub: 'create' | 'import' | 'info' | 'ls' | 'rm' | 'encrypt' | 'decrypt' | 'dek',
  args: KeyArgs,
  ctx: CliContext,
): Promise<void> {
  const out = withColor(ctx, args.color);
  const json = args.json === true;
  const name = args.name ?? '';
  const key = { kind: 'key', name } as const;
  // Arguments are checked before connecting, so a typo never costs a round trip.
  const context = base64Arg(args.context, 'the context');
  const ciphertext = base64Arg(args.ciphertext, 'the ciphertext');
  const imported = base64Arg(args.key, 'the key');

  await withClient(args, ctx, async (conn) => {
    switch (sub) {
      case 'create':
        // Several names: stop at the first failure, as upstream.
        for (const n of args.names ?? []) {
          await conn.run((c) => c.createKey(n), { kind: 'key', name: n });
          if (ctx.stdoutIsTTY) println(ctx.stdout, `Created key '${n}'`);
        }
        return;
      case 'import':
        try {
          await conn.run(
            (c) => c.importKey(name, { bytes: imported as Uint8Array, ...(args.cipher ? { cipher: args.cipher as 'AES256' | 'ChaCha20' } : {}) }),
            key,
          );
        } finally {
          imported?.fill(0);
        }
        if (ctx.stdoutIsTTY) println(ctx.stdout, `Imported key '${name}'`);
        return;
      case 'info': {
        const info = await conn.run((c) => c.describeKey(name), key);
        if (json) return printJson(ctx, toWireJson(info));
        printFields(out, [
          ['Name', info.name],
          ['Algorithm', String(info.algorithm)],
          ['Date', formatDate(info.createdAt)],
          ['Owner', info.createdBy === '' ? '-' : info.createdBy],
        ]);
        return;
      }
      case 'ls': {
        const names = await conn.run(async (c) => {
          const all: string[] = [];
          for await (const n of c.listKeys(prefixPattern(args.pattern))) all.push(n);
          return all.sort();
        });
        if (json) return printJson(ctx, names);
        if (ctx.stdoutIsTTY) printNames(out, 'Key', names);
        else for (const n of names) println(ctx.stdout, n);
        return;
      }
      case 'rm':
        for (const n of args.names ?? []) {
          await conn.run((c) => c.deleteKey(n), { kind: 'key', name: n });
          if (ctx.stdoutIsTTY) println(ctx.stdout, `Deleted key '${n}'`);
        }
        return;
      case 'encrypt': {
        const plaintext = Buffer.from(args.message ?? '', 'utf8');
        try {
          const ct = await conn.run((c) => c.encrypt(name, plaintext, context), key);
          printValues(out, json, { ciphertext: ct });
        } finally {
          plaintext.fill(0);
        }
        return;
      }
      case 'decrypt': {
        const pt = await conn.run((c) => c.decrypt(name, ciphertext as Uint8Array, context), key);
        try {
          printValues(out, json, { plaintext: pt });
        } finally {
          pt.fill(0);
        }
        return;
      }
      case 'dek': {
        const dek = await conn.run((c) => c.generateKey(name, context), key);
        try {
          printValues(out, json, { plaintext: dek.plaintext, ciphertext: dek.ciphertext });
        } finally {
          dek.plaintext.fill(0);
        }
        return;
      }
    }
  });
}

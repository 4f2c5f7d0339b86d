// `kes key create|import|info|ls|rm|encrypt|decrypt|dek|rotate|versions|rewrap` and
// `kes key version rm|config`.
import { readFile } from 'node:fs/promises';
import { isKesError } from '@kes/core';
import { decodeBase64Strict, encodeBase64 } from '@kes/core/wire';
import type { KeyVersions } from '@kes/client';
import { withClient } from '../client/connect.js';
import type { KeyArgs, KeySub } from '../commands/key.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { CliFailure } from '../internal/failure.js';
import { formatDate, prefixPattern, printFields, printJson, printNames, withColor } from '../internal/output.js';
import { UsageError } from '../internal/usage-error.js';
import { toWireJson } from '../internal/wire-json.js';

/** Highest key version the API allows (a uint32). */
const MAX_KEY_VERSION = 4_294_967_295;

/**
 * A key-version argument (`2` or `v2`) as decimal text. Where `zero` names a word
 * (`none` for `--min-encryption`, `latest` for `--encryption-version`), `0` and that word
 * are allowed too and give `0`.
 */
function versionArg(value: string | undefined, what: string, zero?: 'none' | 'latest'): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (zero !== undefined && text === zero) return '0';
  const m = /^v?([0-9]{1,10})$/.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  const min = zero === undefined ? 1 : 0;
  if (!(n >= min && n <= MAX_KEY_VERSION)) {
    throw new UsageError(`${what} must be a key version: a whole number from ${min} to ${MAX_KEY_VERSION}${zero ? `, or '${zero}'` : ''}`);
  }
  return String(n);
}

/**
 * The key file of `kes key rotate --import-key FILE`: its text in base64 (as `kes key
 * import` takes the key), or exactly 32 raw bytes. Messages never show the content.
 */
async function readKeyFile(file: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'read failed');
    throw new CliFailure(`cannot read the key file '${file}' (--import-key): ${why}`, { cause: err });
  }
  try {
    // 32 bytes cannot be a key in base64 (that takes 44 characters), so they are the key itself.
    if (raw.length === 32) return new Uint8Array(raw);
    try {
      const decoded = decodeBase64Strict(raw.toString('latin1').trim());
      if (decoded.length === 32) return decoded;
      decoded.fill(0);
    } catch {
      // not base64 either: refused below
    }
    throw new CliFailure(`the key file '${file}' (--import-key) must hold a 32-byte key: in base64 (44 characters) or as 32 raw bytes`);
  } finally {
    raw.fill(0); // key material
  }
}

/** What a reply's status and message say, for errors of the key-version routes. */
function replyOf(err: unknown): { status: number; message: string } | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (!isKesError(err) && code !== 'ERR_KES_CLIENT_HTTP') return undefined;
  const { status, message } = err as { status?: unknown; message: string };
  return typeof status === 'number' ? { status, message } : undefined;
}

/**
 * The server's key-version errors as one line that says what to do next, or `undefined`
 * for any other error (the connection's explanation handles those). `route`: the call went
 * to a route only kes-ts with key versions has, so a plain 404 means the server lacks it.
 */
export function explainVersionError(err: unknown, name: string, route: boolean): CliFailure | undefined {
  const reply = replyOf(err);
  if (reply === undefined) return undefined;
  const { status, message } = reply;
  const fail = (text: string) => new CliFailure(text, { cause: err });
  if (status === 404 && message === 'key versions are not enabled') {
    return fail(
      "the server does not have key versions enabled: set 'key_versions: {enabled: true}' in its config file and reload (SIGHUP) or restart it",
    );
  }
  if (status === 404 && message === 'key version does not exist') {
    return fail(`key '${name}' has no such version: list its versions with 'kes key versions ${name}'`);
  }
  if (status === 404 && route && !isKesError(err)) {
    return fail(`the server does not support key versions (it is upstream KES or an older kes-ts): ${message}`);
  }
  if (status === 400 && message === 'key version 1 cannot be deleted') {
    return fail(`${message}: version 1 is the key itself; delete the whole key with 'kes key rm ${name}'`);
  }
  if (status === 400 && message === 'key version is not allowed for encryption') {
    return fail(`${message}: see the versions of key '${name}' with 'kes key versions ${name}', change them with 'kes key version config'`);
  }
  if (message === 'invalid key version' || message.startsWith('invalid key version config') || status === 409) return fail(message);
  if (status === 502 && message === 'failed to rotate key') return fail(`${message}: the key store failed; see the server's error log`);
  return undefined;
}

/** Runs a key-version call; its errors are explained by {@link explainVersionError}. */
async function versionCall<T>(name: string, route: boolean, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw explainVersionError(err, name, route) ?? err;
  }
}

/** `0` shown as what it means: `none` for a minimum, `latest` for the encryption version. */
function zeroAs(v: string, word: 'none' | 'latest'): string {
  return v === '0' ? word : v;
}

/** `kes key versions` on a terminal: the version table, then the key's version settings. */
function printVersions(ctx: CliContext, v: KeyVersions): void {
  const rows = v.versions.map((e) => [e.version, String(e.algorithm), formatDate(e.createdAt), e.state] as const);
  const header = ['Version', 'Algorithm', 'Created', 'State'] as const;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  println(ctx.stdout, paint(ctx, 'bold', line(header)));
  for (const r of rows) {
    const state = r[3] === 'active' ? paint(ctx, 'green', r[3]) : r[3] === 'disabled' ? paint(ctx, 'red', r[3]) : r[3];
    println(ctx.stdout, line([r[0], r[1], r[2], state]));
  }
  println(ctx.stdout);
  printFields(ctx, [
    ['Latest', v.latest],
    ...(v.encryptionVersion !== undefined ? [['Encrypts with', v.encryptionVersion] as const] : []),
    ['Min decryption', v.minDecryptionVersion],
    ['Min encryption', zeroAs(v.minEncryptionVersion, 'none')],
  ]);
}

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
function printValues(ctx: CliContext, json: boolean, values: Record<string, Uint8Array | string | undefined>): void {
  const encoded = Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === 'string' ? v : encodeBase64(v as Uint8Array)]),
  );
  if (json || !ctx.stdoutIsTTY) {
    printJson(ctx, encoded);
    return;
  }
  const width = Math.max(...Object.keys(encoded).map((k) => k.length)) + 1;
  for (const [k, v] of Object.entries(encoded)) println(ctx.stdout, `${paint(ctx, 'bold', `${k}:`.padEnd(width))} ${v}`);
}

/** Runs one `kes key` subcommand. */
export async function runKeyCommand(sub: KeySub, args: KeyArgs, ctx: CliContext): Promise<void> {
  const name = args.name ?? '';
  // Arguments are checked before connecting, so a typo never costs a round trip.
  const context = base64Arg(args.context, 'the context');
  const ciphertext = base64Arg(args.ciphertext, 'the ciphertext');
  const imported = base64Arg(args.key, 'the key');
  const version = versionArg(args.keyVersion, sub === 'version-rm' ? 'the version to delete' : '--key-version');
  const minDecryption = versionArg(args.minDecryption, '--min-decryption');
  const minEncryption = versionArg(args.minEncryption, '--min-encryption', 'none');
  const encryptionVersion = versionArg(args.encryptionVersion, '--encryption-version', 'latest');
  if (sub === 'version-config' && minDecryption === undefined && minEncryption === undefined && encryptionVersion === undefined) {
    throw new UsageError(`give --min-decryption N, --min-encryption M or --encryption-version V (the current settings: 'kes key versions ${name}')`);
  }
  if (args.cipher !== undefined && sub === 'rotate' && args.importKey === undefined) {
    throw new UsageError('--cipher needs --import-key FILE: a rotation without it uses the algorithm of the key’s version 1');
  }
  const rotateInput = sub === 'rotate' && args.importKey !== undefined ? await readKeyFile(args.importKey) : undefined;
  try {
    await runWithClient(sub, args, ctx, { context, ciphertext, imported, version, minDecryption, minEncryption, encryptionVersion, rotateInput });
  } finally {
    rotateInput?.fill(0); // key material of `rotate --import-key`
  }
}

/** Arguments decoded and checked before connecting. */
interface Checked {
  readonly context: Uint8Array | undefined;
  readonly ciphertext: Uint8Array | undefined;
  readonly imported: Uint8Array | undefined;
  readonly version: string | undefined;
  readonly minDecryption: string | undefined;
  readonly minEncryption: string | undefined;
  readonly encryptionVersion: string | undefined;
  readonly rotateInput: Uint8Array | undefined;
}

async function runWithClient(sub: KeySub, args: KeyArgs, ctx: CliContext, checked: Checked): Promise<void> {
  const { context, ciphertext, imported, version, minDecryption, minEncryption, encryptionVersion, rotateInput } = checked;
  const out = withColor(ctx, args.color);
  const json = args.json === true;
  const name = args.name ?? '';
  const key = { kind: 'key', name } as const;
  const versionOption = version === undefined ? undefined : { version };
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
          const ct = await conn.run((c) => versionCall(name, false, () => c.encrypt(name, plaintext, context, versionOption)), key);
          printValues(out, json, { ciphertext: ct, version: ct.version });
        } finally {
          plaintext.fill(0);
        }
        return;
      }
      case 'decrypt': {
        const pt = await conn.run((c) => versionCall(name, false, () => c.decrypt(name, ciphertext as Uint8Array, context, versionOption)), key);
        try {
          printValues(out, json, { plaintext: pt });
        } finally {
          pt.fill(0);
        }
        return;
      }
      case 'dek': {
        const dek = await conn.run((c) => versionCall(name, false, () => c.generateKey(name, context, versionOption)), key);
        try {
          printValues(out, json, { plaintext: dek.plaintext, ciphertext: dek.ciphertext, version: dek.version });
        } finally {
          dek.plaintext.fill(0);
        }
        return;
      }
      case 'rotate': {
        const cipher = args.cipher ? { cipher: args.cipher as 'AES256' | 'ChaCha20' } : {};
        const input = rotateInput && { bytes: rotateInput, ...cipher };
        const info = await conn.run((c) => versionCall(name, true, () => c.rotateKey(name, input)), key);
        if (json) return printJson(ctx, toWireJson(info));
        println(ctx.stdout, `Rotated key '${info.name}': version ${info.version} encrypts from now on`);
        return;
      }
      case 'versions': {
        const v = await conn.run((c) => versionCall(name, true, () => c.listKeyVersions(name)), key);
        if (json) return printJson(ctx, toWireJson(v));
        printVersions(out, v);
        return;
      }
      case 'rewrap': {
        const r = await conn.run((c) => versionCall(name, true, () => c.rewrap(name, ciphertext as Uint8Array, context, versionOption)), key);
        printValues(out, json, { ciphertext: r.ciphertext, version: r.version });
        return;
      }
      case 'version-rm':
        await conn.run((c) => versionCall(name, true, () => c.deleteKeyVersion(name, version as string)), key);
        if (ctx.stdoutIsTTY) println(ctx.stdout, `Deleted version ${version} of key '${name}'`);
        return;
      case 'version-config': {
        const config = await conn.run(
          (c) =>
            versionCall(name, true, () =>
              c.configureKeyVersions(name, {
                ...(minDecryption !== undefined ? { minDecryptionVersion: minDecryption } : {}),
                ...(minEncryption !== undefined ? { minEncryptionVersion: minEncryption } : {}),
                ...(encryptionVersion !== undefined ? { encryptionVersion } : {}),
              }),
            ),
          key,
        );
        if (json) return printJson(ctx, toWireJson(config));
        printFields(out, [
          ['Name', config.name],
          ['Min decryption', config.minDecryptionVersion],
          ['Min encryption', zeroAs(config.minEncryptionVersion, 'none')],
          ...(config.encryptionVersion !== undefined ? [['Encryption version', zeroAs(config.encryptionVersion, 'latest')] as const] : []),
        ]);
        return;
      }
    }
  });
}

// `kes identity new` and `kes identity of`.
import { createPrivateKey, randomBytes } from 'node:crypto';
import { lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { ApiKey, KesError, createSelfSignedCertificate, identityOfCertificate } from '@kes/core';
import { parseDuration } from '@kes/core/wire';
import type { IdentityNewArgs, IdentityOfArgs } from '../commands/identity.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { UsageError } from '../internal/usage-error.js';

const DEFAULT_EXPIRY = '720h';

/** True if anything has this name, a dangling symlink included (lstat does not follow it). */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `data` to a new file created with `mode` (O_CREAT|O_EXCL), fsyncs it and
 * closes it. Removes the file again if writing fails, so no torn file is left.
 */
async function writeNewFile(path: string, data: string, mode: number): Promise<void> {
  // O_EXCL also refuses a symlink (even a dangling one): nothing is written through it.
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await handle.close();
}

/**
 * Writes `data` to `path` with `mode` from the moment the file exists.
 *
 * Without `replace` the file is created exclusively: anything already at `path`
 * (a file, a directory, a symlink, even a dangling one) fails with EEXIST.
 *
 * With `replace` the data goes to a fresh temp file in the same directory, which
 * is then renamed over `path`. This stops two threats of writing in place: a
 * symlink planted at `path` would redirect the secret to (and clobber) its
 * target, and an existing file with wider permissions (or hard-linked elsewhere)
 * would hold the new private key until a later chmod. `rename` replaces the
 * directory entry itself, never what a symlink points to.
 */
async function writeFileSafely(path: string, data: string, mode: number, replace: boolean): Promise<void> {
  if (!replace) return writeNewFile(path, data, mode);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  await writeNewFile(temp, data, mode);
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/** Best effort: makes a rename durable. Not every platform can open a directory (Windows). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* the file itself is synced; only the directory entry may be lost on a crash */
  }
}

/** A repeatable flag's values (one value per occurrence). */
function listOf(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function fail(message: string): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [message]);
}

/**
 * `kes identity new [--key F --cert F [--ip IP]... [--dns NAME]... [--expiry DUR] [--force] [--api-key K]] [subject]`.
 * With `--api-key` the files hold that API key's key pair, so its identity is the API
 * key's (a client such as curl can then use a server set up with API keys).
 *
 * @throws UsageError for inconsistent flags; `ERR_KES_INVALID_ARGUMENT` when a file exists (without `--force`) or cannot be written.
 */
export async function runIdentityNew(args: IdentityNewArgs, ctx: CliContext): Promise<void> {
  const files = args.key !== undefined || args.cert !== undefined;
  if (files && (args.key === undefined || args.cert === undefined || args.key === '' || args.cert === '')) {
    throw new UsageError('--key and --cert must be given together');
  }
  if (!files) {
    const needFiles = (['ip', 'dns', 'expiry', 'force', 'apiKey'] as const).filter((f) => args[f] !== undefined && args[f] !== false);
    if (needFiles.length > 0) throw new UsageError(`${needFiles.map((f) => `--${f === 'apiKey' ? 'api-key' : f}`).join(', ')} need --key and --cert`);
    return printApiKey(ApiKey.generate(), ctx, args.json === true);
  }
  const keyPath = args.key as string;
  const certPath = args.cert as string;
  if (keyPath === certPath) throw new UsageError('--key and --cert must be different files');

  let validityMs: number;
  try {
    validityMs = parseDuration(args.expiry ?? DEFAULT_EXPIRY);
  } catch {
    throw new UsageError(`--expiry '${args.expiry}' is not a duration (e.g. 720h, 8760h)`);
  }
  if (!(validityMs > 0)) throw new UsageError('--expiry must be positive');
  const ips = listOf(args.ip);
  for (const ip of ips) if (isIP(ip) === 0) throw new UsageError(`--ip '${ip}' is not an IP address`);
  const dns = listOf(args.dns);
  for (const name of dns) if (name === '' || /[\s,/]/.test(name)) throw new UsageError(`--dns '${name}' is not a DNS name`);
  let apiKey: ApiKey;
  if (args.apiKey !== undefined) {
    try {
      apiKey = ApiKey.parse(args.apiKey.trim());
    } catch (err) {
      // The message says why (length, prefix); the key itself is a secret and never echoed.
      throw new UsageError(`--api-key: ${err instanceof Error ? err.message : 'invalid API key'}`);
    }
  } else {
    apiKey = ApiKey.generate();
  }

  if (!args.force) {
    // Check both before writing either, so a refusal leaves nothing half-written.
    for (const p of [keyPath, certPath]) {
      if (await exists(p)) throw fail(`refusing to overwrite '${p}': it already exists (use --force to replace it)`);
    }
  }

  const now = new Date();
  const cert = createSelfSignedCertificate({
    privateKey: apiKey.privateKey,
    ...(args.subject !== undefined ? { commonName: args.subject } : {}),
    dnsNames: dns,
    ipAddresses: ips,
    notBefore: now,
    notAfter: new Date(now.getTime() + validityMs),
    extKeyUsage: ['serverAuth', 'clientAuth'],
  });
  const keyPem = apiKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // The private key is a secret: owner-only permissions from creation, also when replacing a file.
  const outputs = [
    [keyPath, keyPem, 0o600],
    [certPath, cert.certificatePem, 0o644],
  ] as const;
  for (const [path, data, mode] of outputs) {
    try {
      await writeFileSafely(path, data, mode, args.force === true);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EEXIST'
          ? 'it already exists (use --force to replace it)'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'ENOENT'
              ? 'no such directory'
              : code === 'EISDIR'
                ? 'is a directory'
                : (code ?? 'write failed');
      throw new KesError('ERR_KES_INVALID_ARGUMENT', [`cannot write '${path}': ${why}`], { cause: err });
    }
  }

  if (args.json) {
    println(ctx.stdout, JSON.stringify({ identity: cert.identity, private_key: keyPath, certificate: certPath }));
  } else if (ctx.stdoutIsTTY) {
    println(ctx.stdout, `Private key:  ${keyPath}`);
    println(ctx.stdout, `Certificate:  ${certPath}`);
    println(ctx.stdout, `Identity:     ${paint(ctx, 'bold', cert.identity)}`);
  } else {
    println(ctx.stdout, cert.identity);
  }
}

function printApiKey(apiKey: ApiKey, ctx: CliContext, json: boolean): void {
  const key = apiKey.toString();
  if (json) {
    println(ctx.stdout, JSON.stringify({ api_key: key, identity: apiKey.identity }));
  } else if (ctx.stdoutIsTTY) {
    println(ctx.stdout, 'Your API key:');
    println(ctx.stdout);
    println(ctx.stdout, `   ${paint(ctx, 'bold', key)}`);
    println(ctx.stdout);
    println(ctx.stdout, 'This is the only time it is shown. Keep it secret and store it in a safe place.');
    println(ctx.stdout);
    println(ctx.stdout, `Identity:  ${apiKey.identity}`);
  } else {
    println(ctx.stdout, `API key:  ${key}`);
    println(ctx.stdout, `Identity: ${apiKey.identity}`);
  }
}

/**
 * `kes identity of <API key | certificate file | Ed25519 private key file> [--api-key]`.
 * For a private key file only the identity is printed, its API key only with `--api-key`.
 *
 * @throws `ERR_KES_INVALID_API_KEY` for a malformed `kes:v1:` key; `ERR_KES_INVALID_ARGUMENT`
 *   when the input is neither an API key nor a readable certificate/private key file.
 */
export async function runIdentityOf(args: IdentityOfArgs, ctx: CliContext): Promise<void> {
  const input = args.input.trim();
  if (input.startsWith('kes:v1:')) return printIdentity(ApiKey.parse(input).identity, ctx, args.json === true);

  let text: string | undefined;
  try {
    text = await readFile(input, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT')
      throw fail(
        `cannot read '${input}': ${code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'read failed')}`,
      );
  }
  if (text === undefined) {
    // A bare base64 API key (without the kes:v1: prefix) is accepted, as upstream.
    try {
      return printIdentity(ApiKey.parse(input).identity, ctx, args.json === true);
    } catch {
      // Something that looks like a (mistyped) key is a secret: never echo it.
      const shown = /^[A-Za-z0-9+/=:]{16,}$/.test(input) ? 'the argument' : `'${input}'`;
      throw fail(`${shown} is neither an API key nor an existing file`);
    }
  }

  const block = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text);
  if (!block) throw fail(`'${input}' contains no PEM block (expected a CERTIFICATE or an Ed25519 PRIVATE KEY)`);
  const type = block[1];
  if (type === 'CERTIFICATE') {
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text)?.[0] ?? '';
    let identity: string;
    try {
      identity = identityOfCertificate(pem);
    } catch (err) {
      throw new KesError('ERR_KES_INVALID_ARGUMENT', [`'${input}' does not contain a valid certificate`], { cause: err });
    }
    return printIdentity(identity, ctx, args.json === true);
  }
  if (type === 'PRIVATE KEY' || type === 'ENCRYPTED PRIVATE KEY' || / PRIVATE KEY$/.test(type ?? '')) {
    if (type !== 'PRIVATE KEY') throw fail(`'${input}': only unencrypted Ed25519 PKCS#8 private keys can be converted to an API key`);
    let apiKey: ApiKey;
    try {
      const key = createPrivateKey(text);
      if (key.asymmetricKeyType !== 'ed25519')
        throw fail(`'${input}': only Ed25519 private keys can be converted to an API key (found ${key.asymmetricKeyType ?? 'unknown'})`);
      apiKey = ApiKey.fromPrivateKey(key);
    } catch (err) {
      if (err instanceof KesError) throw err;
      throw new KesError('ERR_KES_INVALID_ARGUMENT', [`'${input}' does not contain a valid private key`], { cause: err });
    }
    // The API key is the private key in another encoding: printed only when asked for.
    if (!args.apiKey) return printIdentity(apiKey.identity, ctx, args.json === true);
    if (args.json) println(ctx.stdout, JSON.stringify({ api_key: apiKey.toString(), identity: apiKey.identity }));
    else {
      println(ctx.stdout, `API key:  ${apiKey.toString()}`);
      println(ctx.stdout, `Identity: ${apiKey.identity}`);
    }
    return;
  }
  throw fail(`'${input}': unsupported PEM block '${type}' (expected a CERTIFICATE or an Ed25519 PRIVATE KEY)`);
}

function printIdentity(identity: string, ctx: CliContext, json: boolean): void {
  if (json) println(ctx.stdout, JSON.stringify({ identity }));
  else if (ctx.stdoutIsTTY) println(ctx.stdout, `Identity: ${paint(ctx, 'bold', identity)}`);
  else println(ctx.stdout, identity);
}

/**
 * Envelope encryption of files with data keys (DEKs) from a KES server.
 *
 * Encrypting a file asks KES for a fresh DEK under a named key, encrypts the file
 * locally with AES-256-GCM under the DEK, writes the *encrypted* DEK into the file's
 * header and forgets the plaintext DEK. Decrypting later sends the encrypted DEK back to
 * KES, which returns the plaintext DEK only to a caller its policy allows. The file's
 * contents never travel to KES, and a stolen file is useless without KES.
 *
 * File format (version 1): a one-line JSON header, then the AES-256-GCM ciphertext.
 *   {"v":1,"key":"<KES key name>","dek":"<base64 encrypted DEK>","iv":"<base64 12 bytes>","tag":"<base64 16 bytes>"}\n<ciphertext>
 * The header (without `tag`) is the GCM additional data and, with the file's label, the
 * DEK's KES context: changing any of it makes decryption fail.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { KesClient } from '@kes/client';

/** The header of an encrypted file. */
interface Header {
  readonly v: 1;
  readonly key: string;
  readonly dek: string;
  readonly iv: string;
  readonly tag?: string;
}

/** Options of {@link encryptFile} and {@link decryptFile}. */
export interface EnvelopeOptions {
  /**
   * A label bound to the file, e.g. its logical name (`invoices/2026-17.pdf`). It is the
   * KES context of the DEK: the file decrypts only with the same label, so a file
   * cannot be swapped for another one encrypted under the same key.
   */
  readonly label: string;
}

const encoder = new TextEncoder();

/** The additional authenticated data: everything in the header except the tag. */
function aad(header: Header): Buffer {
  return Buffer.from(JSON.stringify({ v: header.v, key: header.key, dek: header.dek, iv: header.iv }));
}

/** Writes `data` to `path` through a temporary file, so a crash never leaves half a file. */
async function writeAtomically(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Encrypts the file at `input` into `output` with a new DEK from KES key `keyName`.
 *
 * @throws the client's KesError (e.g. `ERR_KES_KEY_NOT_FOUND`, `ERR_KES_NOT_ALLOWED`) when KES refuses
 * @example
 * await encryptFile(client, 'my-app-key', 'report.pdf', 'report.pdf.enc', { label: 'report.pdf' });
 */
export async function encryptFile(client: KesClient, keyName: string, input: string, output: string, options: EnvelopeOptions): Promise<void> {
  const plaintext = await readFile(input);
  const dek = await client.generateKey(keyName, encoder.encode(options.label));
  try {
    const header: Header = { v: 1, key: keyName, dek: Buffer.from(dek.ciphertext).toString('base64'), iv: randomBytes(12).toString('base64') };
    const cipher = createCipheriv('aes-256-gcm', dek.plaintext, Buffer.from(header.iv, 'base64'));
    cipher.setAAD(aad(header));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const line = JSON.stringify({ ...header, tag: cipher.getAuthTag().toString('base64') });
    await writeAtomically(output, Buffer.concat([Buffer.from(`${line}\n`), body]));
  } finally {
    dek.plaintext.fill(0); // the plaintext DEK is not needed any more: wipe it
  }
}

/**
 * Decrypts a file written by {@link encryptFile} into `output`.
 *
 * @throws Error `not an encrypted file` for a file without a valid header
 * @throws the client's KesError `ERR_KES_DECRYPT` when the label (or the encrypted DEK) is wrong
 * @throws Error `file was modified` when the contents or header were tampered with
 */
export async function decryptFile(client: KesClient, input: string, output: string, options: EnvelopeOptions): Promise<void> {
  const file = await readFile(input);
  const newline = file.indexOf(0x0a);
  let header: Header;
  try {
    header = JSON.parse(file.subarray(0, newline).toString('utf8')) as Header;
    if (newline < 0 || header.v !== 1 || typeof header.key !== 'string' || typeof header.tag !== 'string') throw new Error();
  } catch {
    throw new Error(`${input}: not an encrypted file (no version 1 header)`);
  }
  const dek = await client.decrypt(header.key, Buffer.from(header.dek, 'base64'), encoder.encode(options.label));
  try {
    const decipher = createDecipheriv('aes-256-gcm', dek, Buffer.from(header.iv, 'base64'));
    decipher.setAAD(aad(header));
    decipher.setAuthTag(Buffer.from(header.tag!, 'base64'));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(file.subarray(newline + 1)), decipher.final()]);
    } catch {
      // One message for every authentication failure: which byte changed is nobody's business.
      throw new Error(`${input}: file was modified (authentication failed)`);
    }
    await writeAtomically(output, plaintext);
  } finally {
    dek.fill(0);
  }
}

/**
 * Names of version records (`KeyVersionStore`) for stores with one flat namespace of
 * objects, where records sit next to the keys and must never be taken for one.
 *
 * Two shapes, both impossible as KES key names (so no key can ever collide with a
 * record and `KeyStore.list`, which keeps only valid KES names, never shows one):
 *
 * - separated: `<name><sep>versions<sep><id>` with a `sep` outside the KES alphabet
 *   (`/`, `.`), for services that accept it in object names;
 * - padded: `<name>--versions--<id>` followed by `-` up to at least 81 characters, for
 *   services whose names allow only `0-9 A-Z a-z -` (and `_`). It ends with `-` and is
 *   longer than 80 characters: two reasons it is no KES name.
 *
 * Both are exact: a name is the record of exactly one (key name, id) pair, so listing
 * the records of `a` never picks up those of `a-b` or `a--versions--2`. Each is also a
 * {@link RecordNaming} ({@link separatedNaming}, {@link paddedNaming}) for `recordStoreOver`.
 */
import { isValidRecordId } from '@kes/core';

/** Longest KES key name. A padded record name is longer. */
const MAX_KEY_NAME = 80;
const PADDED_MARK = '--versions--';

/** `<name><sep>versions<sep><id>`; `name` and `id` must have been checked (`checkRecordRef`). */
export function separatedRecordName(name: string, id: string, sep: '/' | '.'): string {
  return `${separatedRecordPrefix(name, sep)}${id}`;
}

/** What every separated record name of `name` starts with. */
export function separatedRecordPrefix(name: string, sep: '/' | '.'): string {
  return `${name}${sep}versions${sep}`;
}

/** The record id if `object` is a separated record name of key `name`, else undefined. */
export function separatedRecordId(name: string, object: string, sep: '/' | '.'): string | undefined {
  const prefix = separatedRecordPrefix(name, sep);
  if (!object.startsWith(prefix)) return undefined;
  const id = object.slice(prefix.length);
  return isValidRecordId(id) ? id : undefined;
}

/**
 * `<name>--versions--<id>` padded with `-` to at least 81 characters (always at least
 * one `-` at the end). At most 80 + 12 + 16 + 1 = 109 characters: within Azure Key
 * Vault's 127 and GCP Secret Manager's 255.
 */
export function paddedRecordName(name: string, id: string): string {
  const base = `${paddedRecordPrefix(name)}${id}`;
  return base + '-'.repeat(Math.max(1, MAX_KEY_NAME + 1 - base.length));
}

/** What every padded record name of `name` starts with (also a valid substring filter). */
export function paddedRecordPrefix(name: string): string {
  return `${name}${PADDED_MARK}`;
}

/**
 * The record id if `object` is exactly the padded record name of key `name` and some
 * id, else undefined. The candidate is rebuilt and compared, so a name with more
 * behind the id (another key's record, a different padding) never matches.
 */
export function paddedRecordId(name: string, object: string): string | undefined {
  const prefix = paddedRecordPrefix(name);
  if (!object.startsWith(prefix)) return undefined;
  const m = /^([0-9a-z]{1,16})-+$/.exec(object.slice(prefix.length));
  const id = m?.[1];
  return id !== undefined && paddedRecordName(name, id) === object ? id : undefined;
}

/** A naming scheme of version records: the object name of a (key name, id) pair, and back. */
export interface RecordNaming {
  /** The object name of record `id` of key `name`; both must have been checked (`checkRecordRef`). */
  readonly name: (name: string, id: string) => string;
  /** The record id if `object` is a record name of key `name` in this scheme, else undefined. */
  readonly id: (name: string, object: string) => string | undefined;
}

/** The separated scheme with `sep` ({@link separatedRecordName}, {@link separatedRecordId}). */
export function separatedNaming(sep: '/' | '.'): RecordNaming {
  return { name: (name, id) => separatedRecordName(name, id, sep), id: (name, object) => separatedRecordId(name, object, sep) };
}

/** The padded scheme ({@link paddedRecordName}, {@link paddedRecordId}). */
export const paddedNaming: RecordNaming = { name: paddedRecordName, id: paddedRecordId };

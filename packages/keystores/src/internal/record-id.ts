/** Checks shared by the `KeyVersionStore` implementations. */
import { KesError, isValidRecordId } from '@kes/core';
import { isSafeKeyName } from './key-name.js';

/**
 * Refuses, before any I/O, a key name that could escape a namespace or a record id
 * outside `0-9 a-z` (1–16 characters).
 *
 * @throws ERR_KES_INVALID_ARGUMENT naming what is wrong (never the value itself beyond the name)
 */
export function checkRecordRef(name: string, id: string): void {
  if (!isSafeKeyName(name)) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid key name for a version record']);
  if (!isValidRecordId(id)) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid version record id']);
}

/** Like {@link checkRecordRef} for calls that take only a key name (`list`). */
export function checkRecordName(name: string): void {
  if (!isSafeKeyName(name)) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid key name for a version record']);
}

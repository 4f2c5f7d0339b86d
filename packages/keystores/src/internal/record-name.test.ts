import { describe, expect, it } from 'vitest';
import { isValidName } from '@kes/core';
import { paddedRecordId, paddedRecordName, paddedRecordPrefix, separatedRecordId, separatedRecordName } from './record-name.js';

describe('separated record names', () => {
  it('are <name><sep>versions<sep><id> and never a KES name', () => {
    expect(separatedRecordName('my-key', '2', '/')).toBe('my-key/versions/2');
    expect(separatedRecordName('my_key', 'c1', '.')).toBe('my_key.versions.c1');
    expect(isValidName(separatedRecordName('a', '2', '.'))).toBe(false);
  });

  it('parse back to the id of exactly that name', () => {
    expect(separatedRecordId('a', 'a.versions.2', '.')).toBe('2');
    expect(separatedRecordId('a', 'a.versions.c12', '.')).toBe('c12');
    for (const other of ['a', 'a.versions.', 'a.versions.X', 'a.versions.2.x', 'a.versions.2/', 'ab.versions.2', 'xa.versions.2', 'a/versions/2']) {
      expect(separatedRecordId('a', other, '.')).toBeUndefined();
    }
    expect(separatedRecordId('a', 'a/versions/2', '/')).toBe('2');
    expect(separatedRecordId('a', `a/versions/${'1'.repeat(17)}`, '/')).toBeUndefined();
  });
});

describe('padded record names', () => {
  it('are <name>--versions--<id> padded with "-" to at least 81 characters, ending in "-"', () => {
    const r = paddedRecordName('k', '2');
    expect(r).toBe(`k--versions--2${'-'.repeat(67)}`);
    expect(r).toHaveLength(81);
    const long = paddedRecordName('L'.repeat(80), 'c1234567890abcde');
    expect(long).toBe(`${'L'.repeat(80)}--versions--c1234567890abcde-`);
    expect(long).toHaveLength(109); // within Azure Key Vault's 127
    for (const x of [r, long, paddedRecordName('a-b_c', '10')]) {
      expect(isValidName(x)).toBe(false);
      expect(x).toMatch(/^[0-9A-Za-z_-]+-$/);
      expect(x.length).toBeGreaterThan(80);
    }
    expect(paddedRecordPrefix('k')).toBe('k--versions--');
  });

  it('parse back to the id of exactly that name', () => {
    for (const [name, id] of [
      ['k', '2'],
      ['a-b', 'c1'],
      ['n_', '10'],
      ['L'.repeat(80), 'c1234567890abcde'],
    ] as const) {
      expect(paddedRecordId(name, paddedRecordName(name, id))).toBe(id);
    }
    const r = paddedRecordName('a', '2');
    expect(paddedRecordId('a', `${r}-`)).toBeUndefined(); // other padding
    expect(paddedRecordId('a', r.slice(0, -1))).toBeUndefined();
    expect(paddedRecordId('a', 'a--versions--2')).toBeUndefined(); // not padded: a valid key name
    expect(paddedRecordId('a', paddedRecordName('a-b', '2'))).toBeUndefined();
    expect(paddedRecordId('a', paddedRecordName('a--versions--2', '3'))).toBeUndefined();
    expect(paddedRecordId('a--versions--2', paddedRecordName('a--versions--2', '3'))).toBe('3');
    expect(paddedRecordId('a', `a--versions--2-x${'-'.repeat(70)}`)).toBeUndefined();
    expect(paddedRecordId('a', `a--versions--A${'-'.repeat(70)}`)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { isKesError } from './errors.js';
import { isValidName, isValidPattern, validateIdentityName, validateKeyName, validatePattern, validatePolicyName } from './names.js';
import { loadVectors, thrown } from '../../../test/support/index.js';

const vectors = loadVectors<{
  name_validation: { cases: Array<{ name: string; valid: boolean }> };
  pattern_validation: { cases: Array<{ pattern: string; valid: boolean }> };
}>();

describe('isValidName (vectors: name_validation)', () => {
  it.each(vectors.name_validation.cases)('$name → $valid', ({ name, valid }) => {
    expect(isValidName(name)).toBe(valid);
  });
});

describe('isValidPattern (vectors: pattern_validation)', () => {
  it.each(vectors.pattern_validation.cases)('$pattern → $valid', ({ pattern, valid }) => {
    expect(isValidPattern(pattern)).toBe(valid);
  });
});

describe('rules beyond the vectors', () => {
  it('counts bytes, not characters, and rejects non-ASCII', () => {
    expect(isValidName('é')).toBe(false);
    expect(isValidName('a'.repeat(80))).toBe(true);
    expect(isValidName('a'.repeat(81))).toBe(false);
  });

  it('applies the hyphen rule to patterns as well', () => {
    expect(isValidPattern('-')).toBe(false);
    expect(isValidPattern('-a')).toBe(false);
    expect(isValidPattern('a-')).toBe(false);
    expect(isValidPattern('-*')).toBe(false);
    expect(isValidPattern('a-*')).toBe(true);
  });

  it('rejects a lone underscore but accepts `_*`', () => {
    expect(isValidPattern('_')).toBe(false);
    expect(isValidPattern('_*')).toBe(true);
  });

  it('limits the whole pattern, star included, to 80 bytes', () => {
    expect(isValidPattern(`${'a'.repeat(79)}*`)).toBe(true);
    expect(isValidPattern(`${'a'.repeat(80)}*`)).toBe(false);
  });

  it('allows only one star, and only at the end', () => {
    expect(isValidPattern('**')).toBe(false);
    expect(isValidPattern('*a')).toBe(false);
    expect(isValidName('*')).toBe(false);
  });
});

describe('validate*', () => {
  it('accepts valid names silently', () => {
    expect(() => validateKeyName('my-key')).not.toThrow();
    expect(() => validatePolicyName('minio')).not.toThrow();
    expect(() => validateIdentityName('3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22')).not.toThrow();
    expect(() => validatePattern('')).not.toThrow();
  });

  it.each([
    [validateKeyName, 'my.key', 'ERR_KES_INVALID_KEY_NAME', "key name 'my.key' is empty, too long or contains invalid characters"],
    [validatePolicyName, '', 'ERR_KES_INVALID_POLICY_NAME', "policy name '' is empty, too long or contains invalid characters"],
    [validateIdentityName, 'a/b', 'ERR_KES_INVALID_IDENTITY', "identity 'a/b' is empty, too long or contains invalid characters"],
    [validatePattern, '*-*', 'ERR_KES_INVALID_PATTERN', "listing pattern '*-*' is empty, too long or is invalid"],
  ] as const)('%o rejects %s with %s', (fn, input, code, message) => {
    const e = thrown(() => fn(input));
    expect(isKesError(e, code)).toBe(true);
    expect((e as Error).message).toBe(message);
    expect((e as { status: number }).status).toBe(400);
  });
});

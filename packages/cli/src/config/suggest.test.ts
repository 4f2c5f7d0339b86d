import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, nearestName } from './suggest.js';

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and transpositions', () => {
    expect(editDistance('adress', 'address')).toBe(1);
    expect(editDistance('adderss', 'address')).toBe(1);
    expect(editDistance('fss', 'fs')).toBe(1);
    expect(editDistance('Address', 'address')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('nearestName', () => {
  it('suggests close names and nothing for unrelated ones', () => {
    expect(nearestName('adress', ['version', 'address', 'admin'])).toBe('address');
    expect(nearestName('keystor', ['keys', 'keystore'])).toBe('keystore');
    expect(nearestName('fss', ['fs', 'vault', 'aws'])).toBe('fs');
    expect(nearestName('skipauth', ['timeout', 'skip_auth'])).toBe('skip_auth');
    expect(nearestName('/v1/key/create', ['/v1/key/create/', '/v1/status'])).toBe('/v1/key/create/');
    expect(nearestName('colour', ['version', 'address', 'admin', 'tls'])).toBeUndefined();
    expect(nearestName('xy', ['fs'])).toBeUndefined();
  });

  it('formats the hint', () => {
    expect(didYouMean('adress', ['address'])).toBe(" (did you mean 'address'?)");
    expect(didYouMean('colour', ['address'])).toBe('');
  });
});

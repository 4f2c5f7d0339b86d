import { describe, expect, it } from 'vitest';
import { keyStoreTypes } from '@kes/keystores';
import { KEY_STORE_SECTIONS, keyStoreSectionPath } from './index.js';

describe('key-store sections', () => {
  it('the sections the loader reads are exactly the built-in registry types', () => {
    const read = KEY_STORE_SECTIONS.filter((s) => s.read !== undefined).map((s) => s.name);
    expect([...read].sort()).toEqual([...keyStoreTypes()].sort());
  });

  it('names where a store is configured', () => {
    expect(keyStoreSectionPath({ type: 'aws', options: { endpoint: 'e', region: 'r' } })).toBe('aws.secretsmanager');
    expect(keyStoreSectionPath({ type: 'fs', options: { path: '/k' } })).toBe('fs');
    expect(keyStoreSectionPath({ type: 'unsupported', name: 'gcp' })).toBe('gcp');
  });
});

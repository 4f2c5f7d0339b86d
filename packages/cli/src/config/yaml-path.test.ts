import { describe, expect, it } from 'vitest';
import { formatPath, locateLine } from './yaml-path.js';

describe('formatPath', () => {
  it('renders keys, indexes and odd keys', () => {
    expect(formatPath(['policy', 'my-app', 'allow', 0])).toBe('policy.my-app.allow[0]');
    expect(formatPath(['api', '/v1/status', 'timeout'])).toBe('api["/v1/status"].timeout');
    expect(formatPath([])).toBe('(root)');
  });
});

describe('locateLine', () => {
  const text = [
    '# comment',
    'admin:',
    '  identity: x',
    'keys:',
    '- name: a',
    '- name: b',
    '  other: c',
    'policy:',
    '  p:',
    '    allow:',
    '      - /x',
    '      - "/y"',
    'tls: {key: k}',
  ].join('\n');
  it('finds nested keys and list items', () => {
    expect(locateLine(text, ['admin', 'identity'])).toBe(3);
    expect(locateLine(text, ['keys', 1, 'name'])).toBe(6);
    expect(locateLine(text, ['keys', 1, 'other'])).toBe(7);
    expect(locateLine(text, ['policy', 'p', 'allow', 1])).toBe(12);
  });
  it('falls back to the deepest ancestor', () => {
    expect(locateLine(text, ['tls', 'cert'])).toBe(13);
    expect(locateLine(text, ['nothing'])).toBeUndefined();
  });
});

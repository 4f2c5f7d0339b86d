import { describe, expect, it } from 'vitest';
import { parseLogLevel } from './log.js';

describe('parseLogLevel', () => {
  it('parses upstream level spellings', () => {
    expect(parseLogLevel(undefined)).toBe('INFO');
    expect(parseLogLevel('on')).toBe('INFO');
    expect(parseLogLevel('OFF')).toBe('off');
    expect(parseLogLevel('debug')).toBe('DEBUG');
    expect(parseLogLevel('INFO+2')).toBe('WARN');
    expect(parseLogLevel('ERROR+1')).toBe('off');
    expect(parseLogLevel('-4')).toBe('DEBUG');
    expect(parseLogLevel('8')).toBe('ERROR');
    expect(parseLogLevel('loud')).toBeUndefined();
  });
});

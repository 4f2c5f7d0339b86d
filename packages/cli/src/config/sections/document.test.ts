import { describe, expect, it } from 'vitest';
import { checkAddress } from './document.js';

describe('checkAddress', () => {
  it('accepts IP literals and an empty host', () => {
    expect(checkAddress('0.0.0.0:7373')).toBeUndefined();
    expect(checkAddress(':7373')).toBeUndefined();
    expect(checkAddress('[::1]:7373')).toBeUndefined();
  });
  it('rejects host names, bad ports and missing ports', () => {
    expect(checkAddress('example.com:7373')).toBe("host 'example.com' must be an IP address or empty (host names are not allowed)");
    expect(checkAddress('1.2.3.4:70000')).toBe('port 70000 is out of range (0–65535)');
    expect(checkAddress('1.2.3.4')).toBe("'1.2.3.4' is not a listen address of the form [ip]:port (e.g. 0.0.0.0:7373 or :7373)");
  });
});

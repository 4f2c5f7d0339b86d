import { describe, expect, it } from 'vitest';
import { joinHostPort, splitHostPort } from './address.js';

describe('splitHostPort', () => {
  it.each([
    ['[::1]:7373', '::1', 7373],
    ['[::1]', '::1', undefined],
    ['127.0.0.1:7373', '127.0.0.1', 7373],
    [':7373', '', 7373],
    ['localhost', 'localhost', undefined],
    ['::1', '::1', undefined],
    ['fe80::1:7373', 'fe80::1:7373', undefined],
    ['', '', undefined],
  ])('%s', (address, host, port) => {
    expect(splitHostPort(address)).toEqual({ host, port });
  });

  it.each(['host:', 'host:x', 'host:-1', 'host:+1', '[::1]:', '[::1]:80x', '[::1]x:80', '[::1'])('%s has a NaN port', (address) => {
    expect(splitHostPort(address).port).toBeNaN();
  });
});

describe('joinHostPort', () => {
  it('brackets IPv6 hosts only', () => {
    expect(joinHostPort('::1', 7373)).toBe('[::1]:7373');
    expect(joinHostPort('0.0.0.0', 7373)).toBe('0.0.0.0:7373');
    expect(joinHostPort('', 7373)).toBe(':7373');
  });

  it('round-trips with splitHostPort', () => {
    for (const a of ['[::1]:1', '10.0.0.1:7373', ':0']) {
      const { host, port } = splitHostPort(a);
      expect(joinHostPort(host, port as number)).toBe(a);
    }
  });
});

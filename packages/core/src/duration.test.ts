import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { expectKesErrorSync as expectKesError } from '../../../test/support/index.js';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['5m30s', 330_000],
    ['1h2m3s4ms5us6ns', 3_723_004.005006],
    ['10s', 10_000],
    ['-1.5s', -1_500],
    ['.5s', 500],
    ['1.s', 1_000],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['100μs', 0.1],
    ['1ns', 0.000001],
    ['1.5ns', 0.000001], // Go truncates the fraction of a nanosecond
    ['0.000000001s', 0.000001],
    ['2562047h', 9_223_369_200_000],
  ])('parses %j as %d ms', (s, ms) => {
    expect(parseDuration(s)).toBeCloseTo(ms, 9);
  });

  it.each(['', '1', 's', '.s', '1x', '1 s', '--1s', '1h-1m', '9223372036854775808ns', '2562048h', '1.5.5s'])('rejects %j', (s) => {
    expectKesError(() => parseDuration(s), 'ERR_KES_INVALID_ARGUMENT', `invalid duration ${JSON.stringify(s)}`);
  });
});

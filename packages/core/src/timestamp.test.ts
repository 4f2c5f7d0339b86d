import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseTimestamp } from './timestamp.js';
import { expectKesErrorSync as expectKesError } from '../../../test/support/index.js';

describe('formatTimestamp / parseTimestamp', () => {
  it.each([
    [{ seconds: 1705055960, nanos: 886816000 }, 0, '2024-01-12T10:39:20.886816Z'],
    [{ seconds: 1705055960, nanos: 886816000 }, 60, '2024-01-12T11:39:20.886816+01:00'],
    [{ seconds: 1705055960, nanos: 0 }, -330, '2024-01-12T05:09:20-05:30'],
    [{ seconds: -62135596800, nanos: 0 }, 0, '0001-01-01T00:00:00Z'],
    [{ seconds: 0, nanos: 0 }, 0, '1970-01-01T00:00:00Z'],
    [{ seconds: 0, nanos: 1 }, 0, '1970-01-01T00:00:00.000000001Z'],
    [{ seconds: 1, nanos: 500000000 }, 0, '1970-01-01T00:00:01.5Z'],
    [{ seconds: 951782400, nanos: 0 }, 0, '2000-02-29T00:00:00Z'],
    [{ seconds: 253402300799, nanos: 999999999 }, 0, '9999-12-31T23:59:59.999999999Z'],
  ])('formats %j at offset %i as %s', (ts, off, want) => {
    expect(formatTimestamp(ts, off)).toBe(want);
    const back = parseTimestamp(want);
    expect(back).toEqual({ seconds: ts.seconds, nanos: ts.nanos, utcOffsetMinutes: off });
  });

  it('defaults to UTC', () => {
    expect(formatTimestamp({ seconds: 1258894800, nanos: 0 })).toBe('2009-11-22T13:00:00Z');
  });

  it('rejects years Go cannot marshal', () => {
    expectKesError(
      () => formatTimestamp({ seconds: 253402300800, nanos: 0 }),
      'ERR_KES_INVALID_ARGUMENT',
      'timestamp year outside of range [0,9999]',
    );
  });

  it('parses +00:00 as a zero offset and truncates beyond nanoseconds', () => {
    expect(parseTimestamp('2009-11-10T23:00:00+00:00')).toEqual({ seconds: 1257894000, nanos: 0, utcOffsetMinutes: 0 });
    expect(parseTimestamp('1970-01-01T00:00:00.1234567891Z').nanos).toBe(123456789);
  });

  it.each([
    '',
    '2024-01-12',
    '2024-01-12 10:39:20Z',
    '2024-13-01T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-01-12T24:00:00Z',
    '2024-01-12T10:39:20',
    '2024-01-12T10:39:20+1:00',
    '2024-01-12T10:39:20.Z',
  ])('rejects %j', (s) => {
    expectKesError(() => parseTimestamp(s), 'ERR_KES_INVALID_ARGUMENT', 'invalid RFC 3339 timestamp');
  });
});

import { describe, expect, it } from 'vitest';
import { ESCAPE_PREFIX, decodeMaterial, encodeMaterial } from './gemalto-value.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('gemalto material codec', () => {
  it('keeps UTF-8 text as it is (upstream layout: the value is the material)', () => {
    for (const s of ['CiQKIKqt', '{"bytes":"AAAA"}', 'ä€😀', 'a\nb\tc']) {
      expect(encodeMaterial(text(s))).toBe(s);
      expect(decodeMaterial(s)).toEqual(text(s));
    }
  });

  it('escapes invalid UTF-8, NUL and text that starts with the escape marker; all round-trip', () => {
    const cases = [
      new Uint8Array([0xff, 0xfe]),
      new Uint8Array([0x80]),
      new Uint8Array([0x61, 0x00, 0x62]),
      text(`${ESCAPE_PREFIX}AAAA`),
      new Uint8Array([0xc3, 0x28]),
    ];
    for (const v of cases) {
      const m = encodeMaterial(v);
      expect(m.startsWith(ESCAPE_PREFIX)).toBe(true);
      expect(m).toBe(ESCAPE_PREFIX + Buffer.from(v).toString('base64'));
      expect(decodeMaterial(m)).toEqual(v);
    }
  });

  it('encodes the viewed bytes only, not the whole underlying buffer', () => {
    const backing = new Uint8Array([1, 0xff, 0xfe, 2]);
    expect(encodeMaterial(backing.subarray(1, 3))).toBe(`${ESCAPE_PREFIX}//4=`);
  });

  it('rejects a malformed escaped value', () => {
    expect(decodeMaterial(`${ESCAPE_PREFIX}abc`)).toBeUndefined();
    expect(decodeMaterial(`${ESCAPE_PREFIX}ab!=`)).toBeUndefined();
  });

  it('returns a fresh buffer', () => {
    const a = decodeMaterial('xyz')!;
    a.fill(0);
    expect(decodeMaterial('xyz')).toEqual(text('xyz'));
  });
});

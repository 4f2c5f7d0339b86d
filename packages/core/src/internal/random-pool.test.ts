import { describe, expect, it } from 'vitest';
import { fillRandom, randomBuffer } from './random-pool.js';

describe('random pool', () => {
  it('never hands out the same bytes twice, across many pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool, 60 bytes per generate (28 iv ‖ nonce + 32 key): ~70 draws per refill.
    for (let i = 0; i < 20_000; i++) {
      const a = randomBuffer(28).toString('hex');
      const b = randomBuffer(32).toString('hex');
      expect(seen.has(a) || seen.has(b)).toBe(false);
      seen.add(a);
      seen.add(b);
    }
  });

  it('fills exactly the target, of any size, including sizes that bypass the pool', () => {
    for (const n of [0, 1, 28, 32, 255, 256, 257, 4096, 10_000]) {
      const big = new Uint8Array(n + 2);
      const target = big.subarray(1, n + 1);
      fillRandom(target);
      expect(big[0]).toBe(0);
      expect(big[n + 1]).toBe(0);
      // A 32-byte run of zeros in n ≥ 32 random bytes has probability ~2^-256.
      if (n >= 32) expect(Buffer.from(target).includes(Buffer.alloc(32))).toBe(false);
    }
  });

  it('draws that straddle a refill still come out whole and random', () => {
    // Odd sizes make a draw land on every offset near the end of the pool.
    const zeros = Buffer.alloc(16);
    for (let i = 0; i < 2_000; i++) {
      const out = randomBuffer(17 + (i % 13));
      expect(out.subarray(0, 16).equals(zeros)).toBe(false);
    }
  });
});

// CRC-32C (Castagnoli), the checksum Secret Manager keeps next to a secret payload
// (`dataCrc32c`). Node 20 has no built-in for it (zlib.crc32 is plain CRC-32, Node 22+).

/** Reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC-32C of `data` as an unsigned 32-bit integer.
 *
 * @example
 * crc32c(Buffer.from('123456789')); // 0xe3069283
 */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

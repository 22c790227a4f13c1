/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) — Go's `crc32.ChecksumIEEE`, zlib's crc32.
 * Used for memberlist's CRC wrapper and for the integrity of Weft's state records.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Feeds `data[from..to)` into a running CRC state (start with 0xffffffff). */
export function crc32Update(state: number, data: Uint8Array, from = 0, to = data.length): number {
  let c = state;
  for (let i = from; i < to; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

/** CRC-32 of `data[from..to)`. */
export function crc32(data: Uint8Array, from = 0, to = data.length): number {
  return (crc32Update(0xffffffff, data, from, to) ^ 0xffffffff) >>> 0;
}

/** CRC-32 of the concatenation of `parts`, without concatenating them. */
export function crc32Parts(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) c = crc32Update(c, p);
  return (c ^ 0xffffffff) >>> 0;
}

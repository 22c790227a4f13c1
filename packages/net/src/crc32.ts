/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) — Go's `crc32.ChecksumIEEE`, zlib's crc32.
 * Used for memberlist's CRC wrapper (every gossip datagram, sent and received: a hot path) and for
 * the integrity of Weft's state records.
 */
// Eight derived tables: the loop consumes 8 bytes per step ("slicing-by-8"), several times
// faster than the byte-at-a-time table on packet-sized inputs.
const TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i] as number;
    for (let s = 1; s < 8; s++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[s * 256 + i] = c;
    }
  }
  return t;
})();

/** Feeds `data[from..to)` into a running CRC state (start with 0xffffffff; finish with `~state >>> 0`). */
export function crc32Update(state: number, data: Uint8Array, from = 0, to = data.length): number {
  const T = TABLES;
  let c = state | 0;
  let i = from;
  for (const end8 = to - 7; i < end8; i += 8) {
    const lo = c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
    c =
      (T[1792 + (lo & 0xff)] as number) ^
      (T[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (T[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (T[1024 + (lo >>> 24)] as number) ^
      (T[768 + (data[i + 4] as number)] as number) ^
      (T[512 + (data[i + 5] as number)] as number) ^
      (T[256 + (data[i + 6] as number)] as number) ^
      (T[data[i + 7] as number] as number);
  }
  for (; i < to; i++) c = (T[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return c;
}

/** CRC-32 of `data[from..to)`. */
export function crc32(data: Uint8Array, from = 0, to = data.length): number {
  return ~crc32Update(~0, data, from, to) >>> 0;
}

/** CRC-32 of the concatenation of `parts`, without concatenating them. */
export function crc32Parts(parts: readonly Uint8Array[]): number {
  let c = ~0;
  for (const p of parts) c = crc32Update(c, p);
  return ~c >>> 0;
}

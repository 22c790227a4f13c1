// Helpers shared by the tests only (not exported from mod.ts).

/** "45 00 00 73" -> bytes; whitespace ignored. */
export const hex = (s: string): Uint8Array => {
  const t = s.replace(/\s+/g, '');
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
};

export const toHex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** Deliberately naive RFC 1071 reference: concatenate, pad, sum 16-bit words, fold, complement. */
export const referenceChecksum = (...parts: Uint8Array[]): number => {
  const all: number[] = [];
  for (const p of parts) all.push(...p);
  if (all.length % 2 === 1) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all[i]! * 256 + all[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return 0xffff - sum;
};

export const u16be = (n: number): Uint8Array => new Uint8Array([n >> 8, n & 255]);
export const u32be = (n: number): Uint8Array => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
export const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

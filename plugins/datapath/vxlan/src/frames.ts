/**
 * Per-packet code: plain loops over Uint8Array, no allocation. Offsets are absolute into `b`.
 */

export const ETH = 14;
export const VXLAN_HDR = 8;

export const readMac = (b: Uint8Array, o: number): number =>
  ((b[o]! << 8) | b[o + 1]!) * 4294967296 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);

export function writeMac(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  const lo = v >>> 0;
  b[o] = hi >>> 8;
  b[o + 1] = hi & 255;
  b[o + 2] = lo >>> 24;
  b[o + 3] = (lo >>> 16) & 255;
  b[o + 4] = (lo >>> 8) & 255;
  b[o + 5] = lo & 255;
}

export const readU32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}
export const readU16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}

let sumArr: Uint8Array | undefined;
let sumU32: Uint32Array<ArrayBufferLike> = new Uint32Array(1);

/**
 * One's-complement sum of b[start..end) as big-endian 16-bit words, added to `sum`, not folded.
 * The bulk is read as native (little-endian) 32-bit words: RFC 1071 §2 allows summing in either
 * byte order and swapping the folded result, and W = hi·65536 + lo ≡ hi + lo (mod 0xffff).
 */
export function sum16(b: Uint8Array, start: number, end: number, sum: number): number {
  if (((b.byteOffset | start) & 1) !== 0 || end - start < 32) return sum16Bytes(b, start, end, sum);
  if (b !== sumArr) {
    sumArr = b;
    const shift = b.byteOffset & 3;
    sumU32 = new Uint32Array(b.buffer, b.byteOffset - shift, (b.byteLength + shift) >>> 2);
  }
  const shift = b.byteOffset & 3;
  let i = start;
  let le = 0;
  if (((i + shift) & 3) === 2) {
    le += b[i]! | (b[i + 1]! << 8);
    i += 2;
  }
  const u = sumU32;
  let k = (i + shift) >>> 2;
  const n = (end - i) >>> 2;
  for (let j = 0; j < n; j++) le += u[k++]!;
  i += n * 4;
  if (i + 1 < end) {
    le += b[i]! | (b[i + 1]! << 8);
    i += 2;
  }
  if (i < end) le += b[i]!;
  const x = fold(le);
  return sum + (((x & 0xff) << 8) | (x >>> 8));
}

function sum16Bytes(b: Uint8Array, start: number, end: number, sum: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return sum;
}

/** RFC 7348 §5: flags with the I bit, 24-bit VNI, reserved fields zero (Linux drops otherwise). */
export function writeVxlanHeader(b: Uint8Array, o: number, vni: number): void {
  b[o] = 0x08;
  b[o + 1] = 0;
  b[o + 2] = 0;
  b[o + 3] = 0;
  b[o + 4] = (vni >>> 16) & 255;
  b[o + 5] = (vni >>> 8) & 255;
  b[o + 6] = vni & 255;
  b[o + 7] = 0;
}

/** The VNI of a valid header, or -1 (I flag missing or reserved bits set, as vxlan_rcv checks). */
export function readVxlanVni(b: Uint8Array, o: number): number {
  if (b[o] !== 0x08 || b[o + 1] !== 0 || b[o + 2] !== 0 || b[o + 3] !== 0 || b[o + 7] !== 0) return -1;
  return (b[o + 4]! << 16) | (b[o + 5]! << 8) | b[o + 6]!;
}

/**
 * A hash of the inner flow (IPv4/IPv6 addresses, protocol, L4 ports; MACs otherwise) so that
 * one flow always leaves from one source port and different flows spread over ECMP paths.
 */
export function flowHash(b: Uint8Array, f: number, len: number): number {
  const et = readU16(b, f + 12);
  let h = 0x9e3779b9;
  if (et === 0x0800 && len >= ETH + 20) {
    const ip = f + ETH;
    h = Math.imul(h ^ readU32(b, ip + 12), 0x85ebca6b);
    h = Math.imul(h ^ readU32(b, ip + 16), 0xc2b2ae35);
    const proto = b[ip + 9]!;
    h = Math.imul(h ^ proto, 0x85ebca6b);
    const ihl = (b[ip]! & 15) * 4;
    if ((proto === 6 || proto === 17) && len >= ETH + ihl + 4) h = Math.imul(h ^ readU32(b, ip + ihl), 0xc2b2ae35);
  } else if (et === 0x86dd && len >= ETH + 40) {
    const ip = f + ETH;
    for (let i = 8; i < 40; i += 4) h = Math.imul(h ^ readU32(b, ip + i), 0x85ebca6b);
    const nh = b[ip + 6]!;
    if ((nh === 6 || nh === 17) && len >= ETH + 44) h = Math.imul(h ^ readU32(b, ip + 40), 0xc2b2ae35);
  } else {
    h = Math.imul(h ^ readU32(b, f), 0x85ebca6b);
    h = Math.imul(h ^ readU32(b, f + 4), 0xc2b2ae35);
    h = Math.imul(h ^ readU32(b, f + 8), 0x85ebca6b);
  }
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Turns the ARP request at `f` into the reply for `mac` in place (RFC 826): returns the frame
 * length, or 0 when it is not an Ethernet/IPv4 request.
 */
export function arpReplyInPlace(b: Uint8Array, f: number, len: number, mac: number): number {
  if (len < ETH + 28) return 0;
  const a = f + ETH;
  if (readU16(b, a) !== 1 || readU16(b, a + 2) !== 0x0800 || b[a + 4] !== 6 || b[a + 5] !== 4 || readU16(b, a + 6) !== 1) return 0;
  const sha = readMac(b, a + 8);
  const spa = readU32(b, a + 14);
  const tpa = readU32(b, a + 24);
  writeMac(b, f, sha);
  writeMac(b, f + 6, mac);
  writeU16(b, a + 6, 2);
  writeMac(b, a + 8, mac);
  writeU32(b, a + 14, tpa);
  writeMac(b, a + 18, sha);
  writeU32(b, a + 24, spa);
  return len;
}

/** Turns an ICMP echo request at `f` into the reply from `mac` in place; 0 when not one. */
export function icmpEchoReplyInPlace(b: Uint8Array, f: number, len: number, mac: number): number {
  const ip = f + ETH;
  if (len < ETH + 20 || readU16(b, f + 12) !== 0x0800 || b[ip + 9] !== 1) return 0;
  const ihl = (b[ip]! & 15) * 4;
  const tot = readU16(b, ip + 2);
  if (tot + ETH > len || tot < ihl + 8 || b[ip + ihl] !== 8) return 0;
  const src = readMac(b, f + 6);
  writeMac(b, f, src);
  writeMac(b, f + 6, mac);
  const s = readU32(b, ip + 12);
  writeU32(b, ip + 12, readU32(b, ip + 16));
  writeU32(b, ip + 16, s);
  b[ip + 8] = 64;
  writeU16(b, ip + 10, 0);
  writeU16(b, ip + 10, ~fold(sum16(b, ip, ip + ihl, 0)) & 0xffff);
  const ic = ip + ihl;
  b[ic] = 0;
  writeU16(b, ic + 2, 0);
  writeU16(b, ic + 2, ~fold(sum16(b, ic, ip + tot, 0)) & 0xffff);
  return ETH + tot;
}

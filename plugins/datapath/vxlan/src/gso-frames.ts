/**
 * Test support for gso.ts (gso.test.ts and the fuzz harness `gso` build the same frames): TSO
 * super-frames as a TAP with TUNSETOFFLOAD hands them over, and a full TCP checksum check over
 * IPv4 or IPv6. Not used by the data path.
 */
import { fold, readU16, sum16, writeU16, writeU32 } from './frames.ts';

/** The virtio-net header in front of a TAP frame. */
export const VNET_HDR = 10;

export interface SuperFrameOptions {
  readonly v6: boolean;
  /** TCP payload bytes. */
  readonly payload: number;
  readonly mss: number;
  /** First sequence number (a value near 2^32 makes the train wrap). */
  readonly seq: number;
  /** IPv6 flow label (20 bits); ignored for IPv4. */
  readonly flowLabel?: number;
  /** Payload byte i is (i * mul + add) & 255. */
  readonly fill: readonly [mul: number, add: number];
}

/**
 * Virtio header (GSO_TCPV4 or GSO_TCPV6, gso_size = mss) + Ethernet + IPv4 (10.0.0.1 → 10.0.0.2,
 * DF) or IPv6 (fd00:7::2 → fd00:7::3) + TCP 40000 → 5201, ACK|PSH, with 12 bytes of options
 * (NOP NOP timestamps) + payload. Checksums are left for segmentTcp to fill in.
 */
export function tsoSuperFrame(o: SuperFrameOptions): Uint8Array {
  const iphl = o.v6 ? 40 : 20;
  const hl = 14 + iphl + 32;
  const b = new Uint8Array(VNET_HDR + hl + o.payload);
  b[1] = o.v6 ? 4 : 1;
  b[4] = o.mss & 255;
  b[5] = o.mss >> 8;
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, o.v6 ? 0x86 : 0x08, o.v6 ? 0xdd : 0], VNET_HDR);
  const ip = VNET_HDR + 14;
  if (o.v6) {
    const fl = (o.flowLabel ?? 0) & 0xfffff;
    const host = (n: number) => [0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n];
    b.set([0x60, fl >> 16, (fl >> 8) & 255, fl & 255, 0, 0, 6, 64, ...host(2), ...host(3)], ip);
    writeU16(b, ip + 4, 32 + o.payload);
  } else {
    b.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], ip);
    writeU16(b, ip + 2, 20 + 32 + o.payload);
  }
  const tcp = ip + iphl;
  writeU16(b, tcp, 40000);
  writeU16(b, tcp + 2, 5201);
  writeU32(b, tcp + 4, o.seq >>> 0);
  writeU32(b, tcp + 8, 777);
  b[tcp + 12] = 8 << 4;
  b[tcp + 13] = 0x18; // ACK|PSH
  b.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], tcp + 20);
  const [mul, add] = o.fill;
  for (let i = 0; i < o.payload; i++) b[VNET_HDR + hl + i] = (i * mul + add) & 255;
  return b;
}

/** The TCP checksum of the segment whose IP header starts at `ip` checks out (IPv4 or IPv6 pseudo-header). */
export function tcpChecksumOk(b: Uint8Array, ip: number, v6: boolean): boolean {
  if (v6) {
    const plen = readU16(b, ip + 4);
    return fold(sum16(b, ip + 40, ip + 40 + plen, sum16(b, ip + 8, ip + 40, 6 + plen))) === 0xffff;
  }
  const ihl = (b[ip]! & 15) * 4;
  const tot = readU16(b, ip + 2);
  return fold(sum16(b, ip + ihl, ip + tot, sum16(b, ip + 12, ip + 20, 6 + tot - ihl))) === 0xffff;
}

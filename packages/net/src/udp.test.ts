import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  udpLength, udpSrcPort, udpDstPort, udpChecksum, writeUdpHeader, udpComputeChecksumIPv4, udpComputeChecksumIPv6,
  udpSetChecksum, udpChecksumValidIPv4, udpChecksumValidIPv6, decodeUdp, UDP_HEADER_LEN,
} from './udp.ts';
import { ipv6ToBytes, parseIPv6 } from './ip.ts';
import { unwrap } from './result.ts';
import { concat, hex, referenceChecksum, u16be, u32be } from './_testutil.ts';

const SRC4 = 0x0a000001;
const DST4 = 0x0a000002;

test('header fields and validation', () => {
  const d = hex('d431 12b5 000c 0000 deadbeef');
  assert.is(udpLength(d), 12);
  assert.is(udpSrcPort(d, 0), 54321);
  assert.is(udpDstPort(d, 0), 4789);
  assert.is(udpChecksum(d, 0), 0);
  assert.equal(decodeUdp(d), { srcPort: 54321, dstPort: 4789, length: 12, checksum: 0, payloadOffset: 8 });
  assert.is(udpLength(d, 0, 11), -1, 'length field beyond end');
  const tiny = d.slice();
  tiny[5] = 7;
  assert.is(udpLength(tiny), -1, 'length below 8');
  assert.is(udpLength(d.subarray(0, 7)), -1);
  assert.is(decodeUdp(d, 10), undefined);
});

test('IPv4 checksum matches the reference over pseudo-header + segment', () => {
  const seg = new Uint8Array(13);
  writeUdpHeader(seg, 0, 53, 40000, 13);
  seg.set([1, 2, 3, 4, 5], 8);
  const c = udpComputeChecksumIPv4(seg, 0, 13, SRC4, DST4);
  const pseudo = concat(u32be(SRC4), u32be(DST4), hex('0011'), u16be(13));
  assert.is(c, referenceChecksum(pseudo, seg));
  assert.not.ok(udpChecksumValidIPv4(hex('0035 9c40 000d 1234 0102030405'), 0, 13, SRC4, DST4));
  udpSetChecksum(seg, 0, c);
  assert.ok(udpChecksumValidIPv4(seg, 0, 13, SRC4, DST4));
  assert.is(referenceChecksum(pseudo, seg), 0);
  udpSetChecksum(seg, 0, 0);
  assert.ok(udpChecksumValidIPv4(seg, 0, 13, SRC4, DST4), 'zero means no checksum over IPv4');
});

test('IPv6 checksum matches the reference; zero is invalid', () => {
  const src = ipv6ToBytes(unwrap(parseIPv6('fd00::1')));
  const dst = ipv6ToBytes(unwrap(parseIPv6('fd00::2')));
  const seg = new Uint8Array(UDP_HEADER_LEN + 3);
  writeUdpHeader(seg, 0, 1000, 2000, seg.length);
  seg.set([9, 8, 7], 8);
  const c = udpComputeChecksumIPv6(seg, 0, seg.length, src, 0, dst, 0);
  assert.is(c, referenceChecksum(src, dst, u32be(seg.length), hex('00000011'), seg));
  assert.not.ok(udpChecksumValidIPv6(seg, 0, seg.length, src, 0, dst, 0));
  udpSetChecksum(seg, 0, c);
  assert.ok(udpChecksumValidIPv6(seg, 0, seg.length, src, 0, dst, 0));
});

test('property: checksums match the reference for random segments', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (payload, src, addrs) => {
      const seg = new Uint8Array(8 + payload.length);
      writeUdpHeader(seg, 0, 1, 2, seg.length);
      seg.set(payload, 8);
      const c4 = udpComputeChecksumIPv4(seg, 0, seg.length, src, DST4);
      const r4 = referenceChecksum(u32be(src), u32be(DST4), hex('0011'), u16be(seg.length), seg);
      assert.is(c4, r4 === 0 ? 0xffff : r4);
      const c6 = udpComputeChecksumIPv6(seg, 0, seg.length, addrs, 0, addrs, 16);
      const r6 = referenceChecksum(addrs, u32be(seg.length), hex('00000011'), seg);
      assert.is(c6, r6 === 0 ? 0xffff : r6);
      udpSetChecksum(seg, 0, c6);
      assert.ok(udpChecksumValidIPv6(seg, 0, seg.length, addrs, 0, addrs, 16));
    }),
  );
});

test.run();

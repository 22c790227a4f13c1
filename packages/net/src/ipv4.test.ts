import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  ipv4HeaderLength, ipv4TotalLength, ipv4Protocol, ipv4Ttl, ipv4Src, ipv4Dst, ipv4Id, ipv4Flags, ipv4FragmentOffset,
  ipv4Checksum, ipv4ComputeChecksum, ipv4ChecksumValid, ipv4SetChecksum, writeIPv4Header, decodeIPv4, IPPROTO_UDP,
} from './ipv4.ts';
import { hex } from './_testutil.ts';

// A commonly cited example header: 192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64, checksum b861.
const header = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
const packet = new Uint8Array(0x73);
packet.set(header);

test('fields of a known header', () => {
  assert.is(ipv4HeaderLength(packet), 20);
  assert.is(ipv4TotalLength(packet, 0), 0x73);
  assert.is(ipv4Protocol(packet, 0), IPPROTO_UDP);
  assert.is(ipv4Ttl(packet, 0), 64);
  assert.is(ipv4Id(packet, 0), 0);
  assert.is(ipv4Flags(packet, 0), 0b010);
  assert.is(ipv4FragmentOffset(packet, 0), 0);
  assert.is(ipv4Src(packet, 0), 0xc0a80001);
  assert.is(ipv4Dst(packet, 0), 0xc0a800c7);
  assert.is(ipv4Checksum(packet, 0), 0xb861);
});

test('checksum compute / verify / set', () => {
  assert.is(ipv4ComputeChecksum(packet, 0), 0xb861);
  assert.ok(ipv4ChecksumValid(packet, 0));
  const p = packet.slice();
  p[8] = 63;
  assert.not.ok(ipv4ChecksumValid(p, 0));
  ipv4SetChecksum(p, 0);
  assert.ok(ipv4ChecksumValid(p, 0));
});

test('validation', () => {
  assert.is(ipv4HeaderLength(header), -1, 'total length 0x73 exceeds the 20 bytes given');
  assert.is(ipv4HeaderLength(packet, 0, 0x72), -1);
  const v6 = packet.slice();
  v6[0] = 0x65;
  assert.is(ipv4HeaderLength(v6), -1);
  const ihl4 = packet.slice();
  ihl4[0] = 0x44;
  assert.is(ipv4HeaderLength(ihl4), -1);
  const shortTotal = packet.slice();
  shortTotal[3] = 19;
  shortTotal[2] = 0;
  assert.is(ipv4HeaderLength(shortTotal), -1);
  const opts = packet.slice();
  opts[0] = 0x46;
  assert.is(ipv4HeaderLength(opts), 24);
  assert.is(decodeIPv4(new Uint8Array(3)), undefined);
});

test('write header', () => {
  const b = new Uint8Array(40);
  const p = writeIPv4Header(b, 2, { src: 0x0a000001, dst: 0x0a000002, protocol: IPPROTO_UDP, payloadLength: 8, ttl: 1, id: 0xbeef });
  assert.is(p, 22);
  assert.equal(decodeIPv4(b, 2), {
    headerLength: 20, totalLength: 28, tos: 0, id: 0xbeef, flags: 0b010, fragmentOffset: 0, ttl: 1, protocol: 17,
    checksum: ipv4ComputeChecksum(b, 2), checksumValid: true, src: 0x0a000001, dst: 0x0a000002,
  });
});

test('property: written headers decode to the same fields with a valid checksum', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  fc.assert(
    fc.property(u32, u32, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 255 }), (src, dst, proto, len, ttl) => {
      const b = new Uint8Array(20 + len);
      writeIPv4Header(b, 0, { src, dst, protocol: proto, payloadLength: len, ttl });
      const h = decodeIPv4(b)!;
      assert.ok(h.checksumValid);
      assert.equal([h.src, h.dst, h.protocol, h.totalLength, h.ttl], [src, dst, proto, 20 + len, ttl]);
    }),
  );
});

test.run();

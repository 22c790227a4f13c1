import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  icmpValid, icmpType, icmpCode, icmpEchoId, icmpEchoSeq, icmpChecksum, icmpChecksumValid, icmpComputeChecksum,
  writeIcmpEcho, writeIcmpEchoReply, writeIcmpv6EchoReply, icmpv6ComputeChecksum, icmpv6ChecksumValid, ndpNsValid, ndpTargetOffset,
  ndpLinkAddrOption, writeNeighborSolicitation, writeNeighborAdvertisementFrame,
  ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMPV6_NEIGHBOR_ADVERTISEMENT, NA_FLAG_SOLICITED, NA_FLAG_OVERRIDE, NA_FRAME_LEN,
  NDP_OPT_SOURCE_LINK_ADDR, NDP_OPT_TARGET_LINK_ADDR,
} from './icmp.ts';
import { ethDst, ethSrc, ethType, ETHERTYPE_IPV6 } from './ethernet.ts';
import { ipv6Valid, ipv6Src, ipv6Dst, ipv6HopLimit, ipv6NextHeader, ipv6PayloadLength } from './ipv6.ts';
import { ipv6ToBytes, parseIPv6, formatIPv6 } from './ip.ts';
import { unwrap } from './result.ts';
import { concat, hex, referenceChecksum, u32be } from './_testutil.ts';

test('ICMPv4 echo request by hand, reply in place and into another buffer', () => {
  // type 8, code 0, checksum, id 0x1234, seq 1, payload "abcd"
  const req = hex('08 00 0000 1234 0001 61626364');
  const c = referenceChecksum(req);
  req[2] = c >> 8;
  req[3] = c & 255;
  assert.ok(icmpValid(req));
  assert.ok(icmpChecksumValid(req, 0, req.length));
  assert.is(icmpComputeChecksum(req, 0, req.length), c);
  assert.is(icmpType(req, 0), ICMP_ECHO_REQUEST);
  assert.is(icmpCode(req, 0), 0);
  assert.is(icmpEchoId(req, 0), 0x1234);
  assert.is(icmpEchoSeq(req, 0), 1);

  const out = new Uint8Array(20);
  assert.is(writeIcmpEchoReply(out, 3, req, 0, req.length), 12);
  assert.is(icmpType(out, 3), ICMP_ECHO_REPLY);
  assert.ok(icmpChecksumValid(out, 3, 15));
  assert.equal([...out.subarray(7, 15)], [...req.subarray(4)]);

  const inPlace = req.slice();
  assert.is(writeIcmpEchoReply(inPlace, 0, inPlace, 0, inPlace.length), 12);
  assert.ok(icmpChecksumValid(inPlace, 0, 12));
  assert.is(icmpChecksum(inPlace, 0), icmpChecksum(out, 3));

  assert.is(writeIcmpEchoReply(out, 0, inPlace, 0, 12), -1, 'a reply is not a request');
  assert.is(writeIcmpEchoReply(new Uint8Array(11), 0, req, 0, 12), -1, 'no room');
  assert.is(writeIcmpEchoReply(out, 0, req, 0, 7), -1, 'truncated');
});

test('ICMPv6 echo reply keeps a valid checksum', () => {
  const src = ipv6ToBytes(unwrap(parseIPv6('fd00::1')));
  const dst = ipv6ToBytes(unwrap(parseIPv6('fd00::2')));
  const req = hex('80 00 0000 abcd 0002 00112233');
  const c = referenceChecksum(src, dst, u32be(req.length), hex('0000003a'), req);
  req[2] = c >> 8;
  req[3] = c & 255;
  assert.ok(icmpv6ChecksumValid(req, 0, req.length, src, 0, dst, 0));
  const out = new Uint8Array(req.length);
  assert.is(writeIcmpv6EchoReply(out, 0, req, 0, req.length), req.length);
  assert.is(out[0], 129);
  // The reply travels dst -> src.
  assert.ok(icmpv6ChecksumValid(out, 0, out.length, dst, 0, src, 0));
  assert.is(writeIcmpv6EchoReply(out, 0, out, 0, out.length), -1);
});

test('writeIcmpEcho', () => {
  const b = new Uint8Array(16);
  assert.is(writeIcmpEcho(b, 0, ICMP_ECHO_REQUEST, 7, 9, hex('0102')), 10);
  assert.ok(icmpChecksumValid(b, 0, 10));
  assert.is(icmpEchoSeq(b, 0), 9);
  assert.not.ok(icmpValid(b, 10));
});

const SRC = ipv6ToBytes(unwrap(parseIPv6('fd00::1')));
const TARGET = ipv6ToBytes(unwrap(parseIPv6('fd00::2')));
const SOLICITED_NODE = ipv6ToBytes(unwrap(parseIPv6('ff02::1:ff00:2')));

/** NS for fd00::2 from fd00::1 (02:42:0a:00:00:01), built byte by byte. */
const nsFrame = (src: Uint8Array): Uint8Array => {
  const icmp = concat(hex('87 00 0000 00000000'), TARGET, hex('01 01 02420a000001'));
  const c = referenceChecksum(src, SOLICITED_NODE, u32be(icmp.length), hex('0000003a'), icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 255;
  return concat(hex('3333ff000002 02420a000001 86dd'), hex('6000 0000 0020 3a ff'), src, SOLICITED_NODE, icmp);
};

test('parse a neighbour solicitation', () => {
  const f = nsFrame(SRC);
  assert.ok(ipv6Valid(f, 14));
  const icmp = 54;
  assert.ok(ndpNsValid(f, icmp));
  assert.ok(icmpv6ChecksumValid(f, icmp, 32, f, 22, f, 38));
  assert.equal([...f.subarray(ndpTargetOffset(icmp), ndpTargetOffset(icmp) + 16)], [...TARGET]);
  assert.is(ndpLinkAddrOption(f, icmp, f.length, NDP_OPT_SOURCE_LINK_ADDR), 0x02420a000001);
  assert.is(ndpLinkAddrOption(f, icmp, f.length, NDP_OPT_TARGET_LINK_ADDR), -1);
  assert.is(ndpLinkAddrOption(f, icmp, f.length - 1, NDP_OPT_SOURCE_LINK_ADDR), -1, 'truncated option');
  const zeroLen = f.slice();
  zeroLen[icmp + 25] = 0;
  assert.is(ndpLinkAddrOption(zeroLen, icmp, f.length, NDP_OPT_SOURCE_LINK_ADDR), -1, 'length 0 option stops the walk');
  assert.not.ok(ndpNsValid(f, icmp, icmp + 23));
});

test('writeNeighborSolicitation produces the same bytes as the hand-built one', () => {
  const f = nsFrame(SRC);
  const b = new Uint8Array(32);
  writeNeighborSolicitation(b, 0, TARGET, 0, 0x02420a000001, SRC, 0, SOLICITED_NODE, 0);
  assert.equal([...b], [...f.subarray(54)]);
});

test('proxy NDP: neighbour advertisement frame', () => {
  const f = nsFrame(SRC);
  const out = new Uint8Array(100);
  const n = writeNeighborAdvertisementFrame(out, 0, f, 0, f.length, 0x02420a000002);
  assert.is(n, NA_FRAME_LEN);
  assert.is(ethDst(out, 0), 0x02420a000001);
  assert.is(ethSrc(out, 0), 0x02420a000002);
  assert.is(ethType(out, 0, n), ETHERTYPE_IPV6);
  assert.ok(ipv6Valid(out, 14, n));
  assert.is(formatIPv6(ipv6Src(out, 14)), 'fd00::2');
  assert.is(formatIPv6(ipv6Dst(out, 14)), 'fd00::1');
  assert.is(ipv6HopLimit(out, 14), 255);
  assert.is(ipv6NextHeader(out, 14), 58);
  assert.is(ipv6PayloadLength(out, 14), 32);
  const icmp = 54;
  assert.is(out[icmp], ICMPV6_NEIGHBOR_ADVERTISEMENT);
  assert.is(out[icmp + 4], NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
  assert.equal([...out.subarray(icmp + 8, icmp + 24)], [...TARGET]);
  assert.is(ndpLinkAddrOption(out, icmp, n, NDP_OPT_TARGET_LINK_ADDR), 0x02420a000002);
  const want = referenceChecksum(TARGET, SRC, u32be(32), hex('0000003a'), concat(out.subarray(icmp, icmp + 2), out.subarray(icmp + 4, n)));
  assert.is(icmpChecksum(out, icmp), want);
  assert.is(icmpv6ComputeChecksum(out, icmp, 32, out, 22, out, 38), want);
});

test('proxy NDP: DAD solicitation (source ::) is answered to all-nodes without S', () => {
  const f = nsFrame(new Uint8Array(16));
  const out = new Uint8Array(NA_FRAME_LEN);
  assert.is(writeNeighborAdvertisementFrame(out, 0, f, 0, f.length, 0x02420a000002), NA_FRAME_LEN);
  assert.is(ethDst(out, 0), 0x333300000001);
  assert.is(formatIPv6(ipv6Dst(out, 14)), 'ff02::1');
  assert.is(out[54 + 4], NA_FLAG_OVERRIDE);
  assert.ok(icmpv6ChecksumValid(out, 54, 32, out, 22, out, 38));
});

test('proxy NDP rejects bad solicitations', () => {
  const out = new Uint8Array(NA_FRAME_LEN);
  const f = nsFrame(SRC);
  const hop = f.slice();
  hop[21] = 64;
  assert.is(writeNeighborAdvertisementFrame(out, 0, hop, 0, hop.length, 1), -1, 'hop limit must be 255');
  const csum = f.slice();
  csum[56] = csum[56]! ^ 1;
  assert.is(writeNeighborAdvertisementFrame(out, 0, csum, 0, csum.length, 1), -1, 'bad checksum');
  assert.is(writeNeighborAdvertisementFrame(out, 0, f, 0, f.length - 1, 1), -1, 'truncated');
  assert.is(writeNeighborAdvertisementFrame(new Uint8Array(85), 0, f, 0, f.length, 1), -1, 'no room');
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ipv6Valid, ipv6TrafficClass, ipv6FlowLabel, ipv6PayloadLength, ipv6NextHeader, ipv6HopLimit, ipv6Src, ipv6Dst,
  ipv6SrcOffset, ipv6DstOffset, ipv6BytesEqual, writeIPv6Header, decodeIPv6, IPV6_HEADER_LEN,
} from './ipv6.ts';
import { parseIPv6 } from './ip.ts';
import { unwrap } from './result.ts';
import { hex } from './_testutil.ts';

// fd00::1 -> ff02::1, TC 0xb8, flow 0x12345, payload 4, next header 17 (UDP), hop limit 255.
const pkt = hex(`
  6b 81 23 45  0004 11 ff
  fd00 0000 0000 0000 0000 0000 0000 0001
  ff02 0000 0000 0000 0000 0000 0000 0001
  00000000
`);

test('fixed header fields', () => {
  assert.ok(ipv6Valid(pkt));
  assert.is(ipv6TrafficClass(pkt, 0), 0xb8);
  assert.is(ipv6FlowLabel(pkt, 0), 0x12345);
  assert.is(ipv6PayloadLength(pkt, 0), 4);
  assert.is(ipv6NextHeader(pkt, 0), 17);
  assert.is(ipv6HopLimit(pkt, 0), 255);
  assert.is(ipv6Src(pkt, 0), unwrap(parseIPv6('fd00::1')));
  assert.is(ipv6Dst(pkt, 0), unwrap(parseIPv6('ff02::1')));
  assert.is(ipv6SrcOffset(0), 8);
  assert.is(ipv6DstOffset(0), 24);
  assert.not.ok(ipv6BytesEqual(pkt, 8, pkt, 24));
  assert.ok(ipv6BytesEqual(pkt, 8, pkt.slice(), 8));
});

test('validation', () => {
  assert.not.ok(ipv6Valid(pkt, 0, pkt.length - 1), 'payload exceeds end');
  assert.not.ok(ipv6Valid(pkt.subarray(0, 39)));
  const v4 = pkt.slice();
  v4[0] = 0x45;
  assert.not.ok(ipv6Valid(v4));
  assert.is(decodeIPv6(v4), undefined);
});

test('write/decode round trip', () => {
  const b = new Uint8Array(IPV6_HEADER_LEN + 4);
  const src = unwrap(parseIPv6('fd00::1'));
  const dst = unwrap(parseIPv6('ff02::1'));
  assert.is(writeIPv6Header(b, 0, { src, dst, nextHeader: 17, payloadLength: 4, hopLimit: 255, trafficClass: 0xb8, flowLabel: 0x12345 }), 40);
  assert.equal([...b], [...pkt]);
  assert.equal(decodeIPv6(b), { trafficClass: 0xb8, flowLabel: 0x12345, payloadLength: 4, nextHeader: 17, hopLimit: 255, src, dst });
});

test.run();

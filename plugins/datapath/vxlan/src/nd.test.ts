import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { icmp6EchoReplyInPlace, ipv6Key, ipv6TextKey, ndAdvertInPlace, nsTarget } from './nd.ts';
import { fold, readU16, sum16 } from './frames.ts';

test('IPv6 text keys match wire keys', () => {
  const b = new Uint8Array(16);
  b.set([0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
  assert.is(ipv6TextKey('fd00:7::3'), ipv6Key(b, 0));
  assert.is(ipv6TextKey('::1'), '0:0:0:0:0:0:0:1:');
  assert.throws(() => ipv6TextKey('fd00::7::3'));
});

test('a Neighbor Solicitation becomes a valid solicited, override Advertisement', () => {
  const f = 0;
  const b = new Uint8Array(14 + 40 + 32);
  b.set([0x33, 0x33, 0xff, 0, 0, 3, 2, 0x42, 0, 0, 0, 2, 0x86, 0xdd]);
  const ip = 14;
  b.set([0x60, 0, 0, 0, 0, 32, 58, 255], ip);
  b.set([0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], ip + 8);
  b.set([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 3], ip + 24);
  const icmp = ip + 40;
  b[icmp] = 135;
  b.set([0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3], icmp + 8);
  b.set([1, 1, 2, 0x42, 0, 0, 0, 2], icmp + 24);
  assert.is(nsTarget(b, f, b.length), ipv6TextKey('fd00:7::3'));
  const n = ndAdvertInPlace(b, f, 0x02420a070003);
  assert.is(n, 86);
  assert.equal([...b.subarray(0, 12)], [2, 0x42, 0, 0, 0, 2, 2, 0x42, 0x0a, 0x07, 0, 3]);
  assert.is(b[icmp], 136);
  assert.is(b[icmp + 4], 0x60);
  assert.is(ipv6Key(b, ip + 8), ipv6TextKey('fd00:7::3'), 'from the target');
  assert.is(ipv6Key(b, ip + 24), ipv6TextKey('fd00:7::2'), 'to the solicitor');
  const s = sum16(b, ip + 8, ip + 40, 32 + 58);
  assert.is(fold(sum16(b, icmp, icmp + 32, s)), 0xffff, 'ICMPv6 checksum');
  assert.is(readU16(b, ip + 4), 32);
  // DAD probes (source ::) are not answered.
  b.fill(0, ip + 8, ip + 24);
  b[icmp] = 135;
  assert.is(nsTarget(b, f, b.length), undefined);
});

test('an ICMPv6 Echo Request to a gateway becomes the Echo Reply from it; others are left alone', () => {
  const echo = (dst: number[], type = 128) => {
    const payload = 13; // odd: the checksum covers a trailing byte
    const b = new Uint8Array(14 + 40 + 8 + payload + 3); // 3 bytes of Ethernet padding after the packet
    b.set([0x02, 0x57, 0x46, 0, 0x10, 0x92, 2, 0x42, 0, 0, 0, 2, 0x86, 0xdd]);
    b.set([0x60, 0, 0, 0, 0, 8 + payload, 58, 64], 14);
    b.set([0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 14 + 8);
    b.set(dst, 14 + 24);
    b.set([type, 0, 0, 0, 0x12, 0x34, 0, 1], 54);
    for (let i = 0; i < payload; i++) b[62 + i] = i * 7;
    return b;
  };
  const gw = [0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const gws = [ipv6TextKey('fd00:7::1')];
  const b = echo(gw);
  const n = icmp6EchoReplyInPlace(b, 0, b.length, 0x025746001092, gws);
  assert.is(n, 14 + 40 + 21);
  assert.equal([...b.subarray(0, 12)], [2, 0x42, 0, 0, 0, 2, 0x02, 0x57, 0x46, 0, 0x10, 0x92]);
  assert.is(ipv6Key(b, 14 + 8), ipv6TextKey('fd00:7::1'), 'from the gateway');
  assert.is(ipv6Key(b, 14 + 24), ipv6TextKey('fd00:7::2'), 'to the pinger');
  assert.is(b[54], 129);
  assert.equal([...b.subarray(58, 62)], [0x12, 0x34, 0, 1], 'identifier and sequence kept');
  assert.is(b[62 + 12], 84, 'payload kept');
  const s = sum16(b, 14 + 8, 14 + 40, 21 + 58);
  assert.is(fold(sum16(b, 54, 54 + 21, s)), 0xffff, 'ICMPv6 checksum');
  assert.is(icmp6EchoReplyInPlace(echo([0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]), 0, b.length, 1, gws), 0, 'not a gateway');
  assert.is(icmp6EchoReplyInPlace(echo(gw, 129), 0, b.length, 1, gws), 0, 'not a request');
  assert.is(icmp6EchoReplyInPlace(echo(gw), 0, b.length, 1, []), 0, 'no IPv6 gateway');
  const truncated = echo(gw);
  assert.is(icmp6EchoReplyInPlace(truncated, 0, 14 + 40 + 10, 1, gws), 0, 'payload length beyond the frame');
});

test.run();

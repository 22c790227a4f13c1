import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ipv6Key, ipv6TextKey, ndAdvertInPlace, nsTarget } from './nd.ts';
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

test.run();

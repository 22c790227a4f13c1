import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  type Cidr, parseCidr, formatCidr, makeCidr, cidrSize, cidrNetwork, cidrBroadcast, cidrLast, cidrContains,
  cidrContainsCidr, cidrOverlaps, cidrNth, cidrIndexOf, cidrSubnets, cidrSubnetAt, cidrSubnetCount, cidrNext,
  compareCidr, cidrEquals, ipv4PrefixMask, cidr4ContainsIPv4,
} from './cidr.ts';
import { formatIP, ipv4, ipv6, parseIP } from './ip.ts';
import { unwrap } from './result.ts';

const c = (s: string): Cidr => unwrap(parseCidr(s, { strict: true }));
const ip = (s: string) => unwrap(parseIP(s));

test('parse and format', () => {
  assert.equal(c('10.0.0.0/24'), { family: 4, addr: 0x0a000000, prefix: 24 });
  assert.equal(c('fd00::/64'), { family: 6, addr: 0xfd00n << 112n, prefix: 64 });
  assert.is(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
  assert.is(formatCidr(c('::/0')), '::/0');
  assert.is(formatCidr(c('FD00:0::/8')), 'fd00::/8');
  assert.is(formatCidr(c('192.168.1.7/32')), '192.168.1.7/32');
  // Non-strict clears host bits.
  assert.is(formatCidr(unwrap(parseCidr('10.0.0.77/24'))), '10.0.0.0/24');
  assert.is(formatCidr(unwrap(parseCidr('fd00::1/64'))), 'fd00::/64');
});

test('parse errors', () => {
  assert.equal(parseCidr('10.0.0.1/24', { strict: true }), {
    ok: false, error: 'invalid CIDR "10.0.0.1/24": host bits are set; did you mean "10.0.0.0/24"?',
  });
  assert.equal(parseCidr('fd00::1/64', { strict: true }), {
    ok: false, error: 'invalid CIDR "fd00::1/64": host bits are set; did you mean "fd00::/64"?',
  });
  assert.equal(parseCidr('10.0.0.0'), {
    ok: false, error: 'invalid CIDR "10.0.0.0": expected address/prefix-length, such as "10.0.0.0/24" or "fd00::/64"',
  });
  assert.equal(parseCidr('10.0.0.0/33'), { ok: false, error: 'invalid CIDR "10.0.0.0/33": prefix length must be a decimal number 0-32' });
  for (const s of ['10.0.0.0/', '10.0.0.0/024', '10.0.0.0/-1', '10.0.0.0/ 8', '::/129', '10.0.0/8', '/8', 'x/8', '10.0.0.0/8/8']) {
    const r = parseCidr(s);
    assert.not.ok(r.ok, s);
    if (!r.ok) assert.ok(r.error.startsWith(`invalid CIDR ${JSON.stringify(s)}: `), r.error);
  }
  const r = parseCidr('10.0.0.256/24');
  assert.ok(!r.ok && r.error.includes('each part must be 0-255'));
});

test('size, network, broadcast, masks', () => {
  assert.is(cidrSize(c('10.0.0.0/24')), 256n);
  assert.is(cidrSize(c('0.0.0.0/0')), 1n << 32n);
  assert.is(cidrSize(c('fd00::/64')), 1n << 64n);
  assert.is(cidrSize(c('::/0')), 1n << 128n);
  assert.is(formatIP(cidrNetwork(c('172.16.0.0/12'))), '172.16.0.0');
  assert.is(formatIP(cidrBroadcast(c('172.16.0.0/12'))), '172.31.255.255');
  assert.is(formatIP(cidrLast(c('fd00::/64'))), 'fd00::ffff:ffff:ffff:ffff');
  assert.is(ipv4PrefixMask(0), 0);
  assert.is(ipv4PrefixMask(24), 0xffffff00);
  assert.is(ipv4PrefixMask(32), 0xffffffff);
  assert.equal(makeCidr(ip('10.1.2.3'), 16), c('10.1.0.0/16'));
  assert.throws(() => makeCidr(ip('10.1.2.3'), 33), /out of range/);
});

test('contains, containsCidr, overlaps', () => {
  const n = c('10.0.0.0/24');
  assert.ok(cidrContains(n, ip('10.0.0.0')));
  assert.ok(cidrContains(n, ip('10.0.0.255')));
  assert.not.ok(cidrContains(n, ip('10.0.1.0')));
  assert.not.ok(cidrContains(n, ip('::ffff:10.0.0.1')));
  assert.ok(cidr4ContainsIPv4(n as Extract<Cidr, { family: 4 }>, 0x0a000005));
  assert.ok(cidrContains(c('0.0.0.0/0'), ip('255.1.2.3')));
  assert.ok(cidrContains(c('fd00::/8'), ip('fdff::1')));
  assert.ok(cidrContainsCidr(c('10.0.0.0/8'), c('10.20.0.0/16')));
  assert.not.ok(cidrContainsCidr(c('10.20.0.0/16'), c('10.0.0.0/8')));
  assert.ok(cidrContainsCidr(n, n));
  assert.ok(cidrOverlaps(c('10.0.0.0/8'), c('10.20.0.0/16')));
  assert.ok(cidrOverlaps(c('10.20.0.0/16'), c('10.0.0.0/8')));
  assert.not.ok(cidrOverlaps(c('10.0.0.0/24'), c('10.0.1.0/24')));
  assert.not.ok(cidrOverlaps(c('10.0.0.0/8'), c('::/0')));
});

test('nth and indexOf', () => {
  const n = c('192.168.1.0/24');
  assert.is(formatIP(cidrNth(n, 1)!), '192.168.1.1');
  assert.is(formatIP(cidrNth(n, 255n)!), '192.168.1.255');
  assert.is(cidrNth(n, 256), undefined);
  assert.is(cidrNth(n, -1), undefined);
  assert.is(cidrNth(n, 1.5), undefined);
  assert.is(cidrIndexOf(n, ip('192.168.1.42')), 42n);
  assert.is(cidrIndexOf(n, ip('192.168.2.42')), undefined);
  const v6 = c('fd00:1::/64');
  assert.is(formatIP(cidrNth(v6, 0x1234n)!), 'fd00:1::1234');
  assert.is(cidrIndexOf(v6, ip('fd00:1::ffff')), 0xffffn);
});

test('lazy split: 10.0.0.0/8 into /24s and 192.168.0.0/16 into /20s', () => {
  const big = c('10.0.0.0/8');
  assert.is(cidrSubnetCount(big, 24), 65536n);
  const it = cidrSubnets(big, 24);
  assert.is(formatCidr(it.next().value as Cidr), '10.0.0.0/24');
  assert.is(formatCidr(it.next().value as Cidr), '10.0.1.0/24');
  assert.is(formatCidr(cidrSubnetAt(big, 24, 65535)!), '10.255.255.0/24');
  assert.is(cidrSubnetAt(big, 24, 65536), undefined);
  const twenties = [...cidrSubnets(c('192.168.0.0/16'), 20)].map(formatCidr);
  assert.is(twenties.length, 16);
  assert.is(twenties[0], '192.168.0.0/20');
  assert.is(twenties[1], '192.168.16.0/20');
  assert.is(twenties[15], '192.168.240.0/20');
  assert.equal([...cidrSubnets(c('192.168.0.0/16'), 20, 14)].map(formatCidr), ['192.168.224.0/20', '192.168.240.0/20']);
  // IPv6 /8 into /64s: 2^56 prefixes, consumed lazily.
  let k = 0;
  for (const s of cidrSubnets(c('fd00::/8'), 64)) {
    if (++k === 3) {
      assert.is(formatCidr(s), 'fd00:0:0:2::/64');
      break;
    }
  }
  assert.is(cidrSubnetCount(big, 7), 0n);
  assert.is(cidrSubnetCount(big, 33), 0n);
  assert.equal([...cidrSubnets(big, 33)], []);
  assert.equal([...cidrSubnets(big, 8)], [big]);
  assert.equal([...cidrSubnets(big, 24, 0.5)], []);
});

test('next prefix and ordering', () => {
  assert.is(formatCidr(cidrNext(c('10.0.0.0/24'))!), '10.0.1.0/24');
  assert.is(formatCidr(cidrNext(c('10.255.255.0/24'))!), '11.0.0.0/24');
  assert.is(cidrNext(c('255.255.255.0/24')), undefined);
  assert.is(cidrNext(c('0.0.0.0/0')), undefined);
  assert.is(formatCidr(cidrNext(c('fd00::/64'))!), 'fd00:0:0:1::/64');
  assert.is(cidrNext(c('ffff::/16')), undefined);
  assert.is(compareCidr(c('10.0.0.0/8'), c('10.0.0.0/16')), -1);
  assert.is(compareCidr(c('10.0.0.0/8'), c('9.0.0.0/8')), 1);
  assert.is(compareCidr(c('255.0.0.0/8'), c('::/0')), -1);
  assert.ok(cidrEquals(c('10.0.0.0/8'), unwrap(parseCidr('10.9.9.9/8'))));
});

const arbCidr4 = fc
  .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
  .map(([a, p]) => makeCidr(ipv4(a), p));
const arbCidr6 = fc
  .tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 128 }))
  .map(([a, p]) => makeCidr(ipv6(a), p));
const arbCidr = fc.oneof(arbCidr4, arbCidr6);

test('property: CIDR format/parse round trip (strict)', () => {
  fc.assert(fc.property(arbCidr, (x) => cidrEquals(unwrap(parseCidr(formatCidr(x), { strict: true })), x)));
});

test('property: contains/overlaps consistency', () => {
  // Small IPv4 prefixes within 10.0.0.0/16 so that overlaps actually happen.
  const small = fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 16, max: 32 }))
    .map(([a, p]) => makeCidr(ipv4(0x0a000000 + a), p));
  fc.assert(
    fc.property(small, small, fc.integer({ min: 0, max: 0xffff }), (a, b, h) => {
      const x = ipv4(0x0a000000 + h);
      // overlaps is symmetric and equals "some address is in both" (prefixes nest or are disjoint).
      assert.is(cidrOverlaps(a, b), cidrOverlaps(b, a));
      assert.is(cidrOverlaps(a, b), cidrContainsCidr(a, b) || cidrContainsCidr(b, a));
      if (cidrContains(a, x) && cidrContains(b, x)) assert.ok(cidrOverlaps(a, b));
      if (cidrContainsCidr(a, b) && cidrContains(b, x)) assert.ok(cidrContains(a, x));
      // network/last are inside, their neighbours are not.
      assert.ok(cidrContains(a, cidrNetwork(a)) && cidrContains(a, cidrLast(a)));
      const i = cidrIndexOf(a, x);
      if (i !== undefined) assert.equal(cidrNth(a, i), x);
      else assert.not.ok(cidrContains(a, x));
    }),
  );
});

test('property: sub-prefixes tile the parent', () => {
  fc.assert(
    fc.property(arbCidr, fc.integer({ min: 0, max: 6 }), fc.bigInt({ min: 0n, max: 63n }), (x, extra, k) => {
      const bits = x.family === 4 ? 32 : 128;
      const np = Math.min(bits, x.prefix + extra);
      const count = cidrSubnetCount(x, np);
      const i = k % count;
      const s = cidrSubnetAt(x, np, i)!;
      assert.ok(cidrContainsCidr(x, s));
      const next = cidrSubnetAt(x, np, i + 1n);
      if (next !== undefined) assert.ok(cidrEquals(cidrNext(s)!, next) && !cidrOverlaps(s, next));
    }),
  );
});

test.run();

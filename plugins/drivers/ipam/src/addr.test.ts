import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6, formatPrefix, parseAddr, parseIPv6, parsePrefix, prefixOverlaps } from './addr.ts';
import { parseRoutes, pickPool } from './pools.ts';

test('IPv4 and IPv6 parse and format canonically', () => {
  assert.is(parseAddr('10.0.0.256'), undefined);
  assert.is(parseAddr('01.2.3.4'), undefined);
  assert.is(formatIPv6(parseIPv6('FD00:0:0:0:0:0:0:1')!), 'fd00::1');
  assert.is(formatIPv6(parseIPv6('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
  assert.is(formatIPv6(parseIPv6('::ffff:10.0.0.1')!), '::ffff:a00:1');
  assert.is(parseIPv6('1::2::3'), undefined);
  assert.is(parseIPv6('1:2:3:4:5:6:7'), undefined);
  assert.is(formatPrefix(parsePrefix('10.1.2.3/16')!), '10.1.0.0/16');
  assert.is(formatPrefix(parsePrefix('fd00:77::5/64')!), 'fd00:77::/64');
  assert.is(parsePrefix('10.0.0.0/33'), undefined);
  assert.ok(prefixOverlaps(parsePrefix('10.0.0.0/8')!, parsePrefix('10.9.0.0/16')!));
  assert.not.ok(prefixOverlaps(parsePrefix('10.0.0.0/24')!, parsePrefix('10.0.1.0/24')!));
});

test('host routes: ip route lines, bare prefixes and IPs; default ignored', () => {
  const r = parseRoutes(['default via 192.168.1.1 dev eth0', '172.17.0.0/16 dev docker0 proto kernel scope link', '10.9.9.9', 'garbage', '0.0.0.0/0']);
  assert.equal(r.map(formatPrefix), ['172.17.0.0/16', '10.9.9.9/32']);
});

test('pickPool skips every candidate an existing prefix covers', () => {
  const pools = [{ base: parsePrefix('10.0.0.0/8')!, size: 24 }];
  const p = pickPool(pools, [parsePrefix('10.0.0.0/12')!, parsePrefix('10.16.0.77/32')!]);
  assert.is(formatPrefix(p!), '10.16.1.0/24');
  assert.is(pickPool([{ base: parsePrefix('10.0.0.0/24')!, size: 25 }], [parsePrefix('10.0.0.0/24')!]), undefined);
});

test.run();

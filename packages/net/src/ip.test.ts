import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  parseIPv4, formatIPv4, parseIPv6, formatIPv6, parseIP, formatIP, compareIP, addIP, ipv4, ipv6,
  ipv6ToBytes, ipv6FromBytes, readIPv4, writeIPv4, ipToBytes, ipEquals, IPV6_MAX,
} from './ip.ts';
import { unwrap } from './result.ts';

test('IPv4 parses canonical dotted quads', () => {
  assert.is(unwrap(parseIPv4('0.0.0.0')), 0);
  assert.is(unwrap(parseIPv4('10.0.0.1')), 0x0a000001);
  assert.is(unwrap(parseIPv4('255.255.255.255')), 0xffffffff);
  assert.is(unwrap(parseIPv4('192.168.1.254')), 0xc0a801fe);
});

test('IPv4 rejects non-canonical input with a quoting message', () => {
  const cases: [string, string][] = [
    ['10.0.0.256', 'invalid IPv4 address "10.0.0.256": each part must be 0-255'],
    ['01.2.3.4', 'invalid IPv4 address "01.2.3.4": leading zeros are not allowed'],
    [' 1.2.3.4', 'invalid IPv4 address " 1.2.3.4": whitespace is not allowed'],
    ['1.2.3.4\n', 'invalid IPv4 address "1.2.3.4\\n": whitespace is not allowed'],
  ];
  for (const [s, msg] of cases) {
    const r = parseIPv4(s);
    assert.equal(r, { ok: false, error: msg });
  }
  for (const s of ['', '1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.', '.1.2.3', '+1.2.3.4', '-1.2.3.4', '1.2.3.4a', '0x1.2.3.4', '1234.1.1.1', '1.2.3.0004', '::1', '१.२.३.४']) {
    const r = parseIPv4(s);
    assert.not.ok(r.ok, s);
    if (!r.ok) assert.ok(r.error.startsWith(`invalid IPv4 address ${JSON.stringify(s)}: `), r.error);
  }
});

test('IPv4 format and byte helpers', () => {
  assert.is(formatIPv4(0xc0a80001), '192.168.0.1');
  const b = new Uint8Array(6);
  writeIPv4(b, 1, 0xdeadbeef);
  assert.equal([...b], [0, 0xde, 0xad, 0xbe, 0xef, 0]);
  assert.is(readIPv4(b, 1), 0xdeadbeef);
});

test('IPv6 parsing', () => {
  assert.is(unwrap(parseIPv6('::')), 0n);
  assert.is(unwrap(parseIPv6('::1')), 1n);
  assert.is(unwrap(parseIPv6('fd00::')), 0xfd00n << 112n);
  assert.is(unwrap(parseIPv6('2001:DB8::8:800:200C:417A')), 0x20010db80000000000080800200c417an);
  assert.is(unwrap(parseIPv6('1:2:3:4:5:6:7:8')), 0x00010002000300040005000600070008n);
  assert.is(unwrap(parseIPv6('::ffff:10.0.0.1')), 0xffff0a000001n);
  assert.is(unwrap(parseIPv6('64:ff9b::192.0.2.33')), (0x64ff9bn << 96n) | 0xc0000221n);
  assert.is(unwrap(parseIPv6('1:2:3:4:5:6:1.2.3.4')), 0x000100020003000400050006_01020304n);
  assert.is(unwrap(parseIPv6('1::2:3:4:5:6:7')), 0x0001000000020003000400050006_0007n);
  for (const s of [
    '', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::', '::1.2.3', '1.2.3.4::',
    '1:2:3:4:5:6:7::8', ':1::', '1::2:', 'fe80::1%eth0', ' ::1', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', '::01.2.3.4',
  ]) {
    const r = parseIPv6(s);
    assert.not.ok(r.ok, s);
    if (!r.ok) assert.ok(r.error.startsWith(`invalid IPv6 address ${JSON.stringify(s)}: `), r.error);
  }
});

test('IPv6 formatting follows RFC 5952', () => {
  const table: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // §4.1 leading zeros, §4.2.1 longest run
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 a single 0 group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3 longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3 first of equal runs
    ['2001:DB8::AAAA', '2001:db8::aaaa'], // §4.3 lowercase
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
    ['0:0:0:0:0:ffff:c000:280', '::ffff:192.0.2.128'], // §5 IPv4-mapped
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ['0:1:0:0:1:0:0:0', '0:1:0:0:1::'],
  ];
  for (const [input, want] of table) assert.is(formatIPv6(unwrap(parseIPv6(input))), want, input);
});

test('IPv6 bytes', () => {
  const v = unwrap(parseIPv6('2001:db8::ff00:42:8329'));
  const b = ipv6ToBytes(v);
  assert.equal([...b], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]);
  assert.is(ipv6FromBytes(b), v);
  const big = new Uint8Array(20);
  ipv6ToBytes(v, big, 3);
  assert.is(ipv6FromBytes(big, 3), v);
});

test('tagged IP: parse, format, compare, add', () => {
  assert.equal(unwrap(parseIP('10.1.2.3')), { family: 4, value: 0x0a010203 });
  assert.equal(unwrap(parseIP('fd00::1')), { family: 6, value: (0xfd00n << 112n) | 1n });
  const bad = parseIP('web');
  assert.equal(bad, { ok: false, error: 'invalid IP address "web": expected an IPv4 dotted quad or an IPv6 address' });
  assert.is(formatIP(ipv4(0x7f000001)), '127.0.0.1');
  assert.is(formatIP(ipv6(1n)), '::1');
  assert.is(compareIP(ipv4(1), ipv4(2)), -1);
  assert.is(compareIP(ipv4(2), ipv4(2)), 0);
  assert.is(compareIP(ipv6(0n), ipv4(0xffffffff)), 1);
  assert.equal(addIP(ipv4(0x0a0000ff), 1), ipv4(0x0a000100));
  assert.equal(addIP(ipv4(5), -5), ipv4(0));
  assert.is(addIP(ipv4(0), -1), undefined);
  assert.is(addIP(ipv4(0xffffffff), 1), undefined);
  assert.is(addIP(ipv4(1), 0.5), undefined);
  assert.equal(addIP(ipv6(1n), 10n), ipv6(11n));
  assert.is(addIP(ipv6(IPV6_MAX), 1), undefined);
  assert.equal([...ipToBytes(ipv4(0x01020304))], [1, 2, 3, 4]);
  assert.ok(ipEquals(ipv4(3), ipv4(3)));
  assert.not.ok(ipEquals(ipv4(3), ipv6(3n)));
});

test('property: IPv4 format/parse round trip', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => unwrap(parseIPv4(formatIPv4(n))) === n));
});

test('property: IPv6 format/parse round trip (and format is canonical)', () => {
  // Bias towards zero groups so "::" placement is exercised.
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const v6 = fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => gs.reduce((a, g) => (a << 16n) | BigInt(g), 0n));
  fc.assert(
    fc.property(v6, (v) => {
      const s = formatIPv6(v);
      const back = unwrap(parseIPv6(s));
      return back === v && formatIPv6(back) === s && s === s.toLowerCase();
    }),
  );
});

test('property: parsers never throw on arbitrary strings', () => {
  const chars = fc.constantFrom(...'0123456789abcdefABCDEF:.%/ x-'.split(''));
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: chars, maxLength: 50 })), (s) => {
      parseIPv4(s);
      parseIPv6(s);
      const r = parseIP(s);
      if (r.ok) assert.is(compareIP(unwrap(parseIP(formatIP(r.value))), r.value), 0);
    }),
  );
});

test.run();

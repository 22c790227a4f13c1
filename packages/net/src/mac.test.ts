import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  parseMac, formatMac, readMac, writeMac, macFromBytes, macToBytes, isMulticastMac, isBroadcastMac, isUnicastMac,
  isLocallyAdministeredMac, randomMac, macFromIPv4, parseDockerMac, formatDockerMac, MAC_BROADCAST,
} from './mac.ts';
import { unwrap } from './result.ts';

test('parse and format', () => {
  assert.is(unwrap(parseMac('02:42:0a:00:00:02')), 0x02420a000002);
  assert.is(unwrap(parseMac('02:42:0A:00:00:02')), 0x02420a000002);
  assert.is(unwrap(parseMac('FF-FF-FF-FF-FF-FF')), MAC_BROADCAST);
  assert.is(formatMac(0x02420a000002), '02:42:0a:00:00:02');
  assert.is(formatMac(MAC_BROADCAST), 'ff:ff:ff:ff:ff:ff');
  assert.is(formatMac(0), '00:00:00:00:00:00');
  assert.equal(parseMac('02:42:0a:00:00'), {
    ok: false, error: 'invalid MAC address "02:42:0a:00:00": expected six two-digit hex parts such as "02:42:0a:00:00:02"',
  });
  assert.equal(parseMac('02:42:0g:00:00:02'), { ok: false, error: 'invalid MAC address "02:42:0g:00:00:02": part "0g" is not hexadecimal' });
  for (const s of ['02:42-0a:00:00:02', '0242.0a00.0002', '02:42:0a:00:00:02:', '2:42:a:0:0:2', ' 2:42:0a:00:00:02']) {
    assert.not.ok(parseMac(s).ok, s);
  }
});

test('bytes', () => {
  const b = new Uint8Array([9, 0x02, 0x42, 0xac, 0x11, 0x00, 0x03, 9]);
  assert.is(readMac(b, 1), 0x0242ac110003);
  const out = new Uint8Array(8);
  writeMac(out, 1, 0xfedcba987654);
  assert.equal([...out], [0, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0]);
  assert.is(macFromBytes(b.subarray(1, 7)), 0x0242ac110003);
  assert.is(macFromBytes(b), undefined);
  assert.equal([...macToBytes(0x0242ac110003)], [0x02, 0x42, 0xac, 0x11, 0x00, 0x03]);
});

test('address kinds', () => {
  assert.ok(isBroadcastMac(MAC_BROADCAST) && isMulticastMac(MAC_BROADCAST));
  assert.ok(isMulticastMac(0x01005e000001)); // IPv4 multicast
  assert.ok(isMulticastMac(0x333300000001)); // IPv6 all-nodes
  assert.ok(isUnicastMac(0x02420a000002) && !isBroadcastMac(0x02420a000002));
  assert.ok(isLocallyAdministeredMac(0x02420a000002));
  assert.not.ok(isLocallyAdministeredMac(0x001122334455));
});

test('random MAC is locally administered unicast and uses the given source', () => {
  const m = randomMac((b) => b.fill(0xff));
  assert.is(formatMac(m), 'fe:ff:ff:ff:ff:ff');
  assert.is(formatMac(randomMac((b) => b.fill(0))), '02:00:00:00:00:00');
  let seed = 1;
  const lcg = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  };
  for (let i = 0; i < 50; i++) {
    const r = randomMac(lcg);
    assert.ok(isUnicastMac(r) && isLocallyAdministeredMac(r));
  }
});

test('Docker MACs', () => {
  assert.is(formatMac(macFromIPv4(0x0a630032)), '02:42:0a:63:00:32');
  assert.is(formatMac(macFromIPv4(0xac110002)), '02:42:ac:11:00:02');
  assert.is(formatMac(unwrap(parseDockerMac('AkIKYwAy'))), '02:42:0a:63:00:32');
  assert.is(formatMac(unwrap(parseDockerMac('02:42:0a:63:00:32'))), '02:42:0a:63:00:32');
  assert.is(formatDockerMac(0x02420a630032), 'AkIKYwAy');
  assert.equal(parseDockerMac('AkIKYwA'), {
    ok: false, error: 'invalid MAC address "AkIKYwA": expected 8 base64 characters (6 bytes) or "xx:xx:xx:xx:xx:xx"',
  });
  assert.equal(parseDockerMac('AkIKYw=='), { ok: false, error: 'invalid MAC address "AkIKYw==": "=" is not a base64 character' });
});

const arbMac = fc.integer({ min: 0, max: 0xffff_ffff_ffff });

test('property: MAC round trips (colon, base64, bytes)', () => {
  fc.assert(
    fc.property(arbMac, (m) => {
      assert.is(unwrap(parseMac(formatMac(m))), m);
      assert.is(unwrap(parseMac(formatMac(m).toUpperCase())), m);
      assert.is(unwrap(parseDockerMac(formatDockerMac(m))), m);
      assert.is(macFromBytes(macToBytes(m)), m);
      assert.is(isMulticastMac(m), (macToBytes(m)[0]! & 1) === 1);
    }),
  );
});

test('property: MAC parsers never throw', () => {
  fc.assert(fc.property(fc.string({ maxLength: 20 }), (s) => {
    parseMac(s);
    parseDockerMac(s);
  }));
});

test.run();

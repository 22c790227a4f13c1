import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from './mod.ts';

test('mod.ts re-exports every module', () => {
  const names = [
    'parseIPv4', 'parseIPv6', 'formatIP', 'parseCidr', 'cidrSubnets', 'parseMac', 'parseDockerMac', 'internetChecksum',
    'ethType', 'writeArpReplyFrame', 'ipv4HeaderLength', 'ipv6Valid', 'udpComputeChecksumIPv4', 'writeIcmpEchoReply',
    'writeNeighborAdvertisementFrame', 'vxlanVni', 'parseDnsMessage', 'buildDnsResponse', 'unwrap',
  ] as const;
  for (const n of names) assert.type(net[n], 'function', n);
  assert.is(net.VXLAN_PORT, 4789);
});

test('README example', () => {
  const subnet = net.unwrap(net.parseCidr('10.0.0.0/24', { strict: true }));
  const gateway = net.cidrNth(subnet, 1)!;
  assert.is(net.formatIP(gateway), '10.0.0.1');
  assert.is(net.formatMac(net.macFromIPv4(0x0a000002)), '02:42:0a:00:00:02');
  const bad = net.parseIPv4('10.0.0.256');
  assert.equal(bad, { ok: false, error: 'invalid IPv4 address "10.0.0.256": each part must be 0-255' });
});

test.run();

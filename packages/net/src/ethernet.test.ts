import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ethDst, ethSrc, ethType, ethPayloadOffset, ethVlanId, writeEthHeader, decodeEthernet,
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER_LEN,
} from './ethernet.ts';
import { hex } from './_testutil.ts';

test('untagged frame', () => {
  const f = hex('ffffffffffff 02420a000002 0806 0001');
  assert.is(ethDst(f, 0), 0xffffffffffff);
  assert.is(ethSrc(f, 0), 0x02420a000002);
  assert.is(ethType(f), ETHERTYPE_ARP);
  assert.is(ethPayloadOffset(f), 14);
  assert.is(ethVlanId(f), 0);
  assert.equal(decodeEthernet(f), { dst: 0xffffffffffff, src: 0x02420a000002, ethertype: ETHERTYPE_ARP, vlan: 0, payloadOffset: 14 });
});

test('802.1Q and QinQ tags are skipped', () => {
  const q = hex('020000000001 020000000002 8100 2064 0800 45');
  assert.is(ethType(q), ETHERTYPE_IPV4);
  assert.is(ethPayloadOffset(q), 18);
  assert.is(ethVlanId(q), 100);
  const qinq = hex('020000000001 020000000002 88a8 000a 8100 0014 86dd 60');
  assert.is(ethType(qinq), ETHERTYPE_IPV6);
  assert.is(ethPayloadOffset(qinq), 22);
  assert.is(ethVlanId(qinq), 10);
  const three = hex('020000000001 020000000002 8100 0001 8100 0002 8100 0003 0800');
  assert.is(ethType(three), -1);
});

test('offsets and truncation', () => {
  const f = hex('aa bb ffffffffffff 02420a000002 0800');
  assert.is(ethType(f, 2), ETHERTYPE_IPV4);
  assert.is(ethSrc(f, 2), 0x02420a000002);
  assert.is(ethType(f, 2, f.length - 1), -1);
  assert.is(ethType(hex('ffffffffffff02420a0000020800').subarray(0, 13)), -1);
  assert.is(ethType(hex('020000000001 020000000002 8100 0064')), -1);
  assert.is(decodeEthernet(new Uint8Array(5)), undefined);
  assert.is(ethType(f, -1), -1);
  assert.is(ethType(f, 100), -1);
});

test('write header', () => {
  const out = new Uint8Array(20);
  assert.is(writeEthHeader(out, 2, 0x333300000001, 0x02420a000002, ETHERTYPE_IPV6), 2 + ETH_HEADER_LEN);
  assert.is(ethDst(out, 2), 0x333300000001);
  assert.is(ethSrc(out, 2), 0x02420a000002);
  assert.is(ethType(out, 2), ETHERTYPE_IPV6);
});

test.run();

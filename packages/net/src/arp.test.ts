import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  arpValid, arpOp, arpSenderMac, arpSenderIp, arpTargetMac, arpTargetIp, writeArp, writeArpReplyFrame, decodeArp,
  ARP_OP_REQUEST, ARP_OP_REPLY, ARP_LEN,
} from './arp.ts';
import { ethDst, ethSrc, ethType, ETHERTYPE_ARP } from './ethernet.ts';
import { hex, toHex } from './_testutil.ts';

// Who has 10.0.0.3? Tell 10.0.0.2 — broadcast from 02:42:0a:00:00:02.
const request = hex(`
  ffffffffffff 02420a000002 0806
  0001 0800 06 04 0001
  02420a000002 0a000002
  000000000000 0a000003
`);

test('parse a hand-built ARP request', () => {
  assert.is(ethType(request), ETHERTYPE_ARP);
  const p = 14;
  assert.ok(arpValid(request, p));
  assert.is(arpOp(request, p), ARP_OP_REQUEST);
  assert.is(arpSenderMac(request, p), 0x02420a000002);
  assert.is(arpSenderIp(request, p), 0x0a000002);
  assert.is(arpTargetMac(request, p), 0);
  assert.is(arpTargetIp(request, p), 0x0a000003);
  assert.equal(decodeArp(request, p), { op: 1, senderMac: 0x02420a000002, senderIp: 0x0a000002, targetMac: 0, targetIp: 0x0a000003 });
});

test('reject non-IPv4/Ethernet ARP and truncation', () => {
  assert.not.ok(arpValid(request, 14, request.length - 1));
  const bad = request.slice();
  bad[14 + 4] = 8; // hlen 8
  assert.not.ok(arpValid(bad, 14));
  assert.is(decodeArp(bad, 14), undefined);
  assert.not.ok(arpValid(request, -1));
});

test('proxy ARP reply frame', () => {
  const out = new Uint8Array(64).fill(0xee);
  const n = writeArpReplyFrame(out, 4, request, 0, request.length, 0x02420a000003);
  assert.is(n, 42);
  const expected = hex(`
    02420a000002 02420a000003 0806
    0001 0800 06 04 0002
    02420a000003 0a000003
    02420a000002 0a000002
  `);
  assert.is(toHex(out.subarray(4, 4 + n)), toHex(expected));
  assert.is(out[3], 0xee);
  assert.is(out[46], 0xee);
  assert.is(ethDst(out, 4), 0x02420a000002);
  assert.is(ethSrc(out, 4), 0x02420a000003);
  assert.is(arpOp(out, 18), ARP_OP_REPLY);
});

test('proxy ARP refuses replies, truncated requests and small buffers', () => {
  const reply = new Uint8Array(42);
  writeArpReplyFrame(reply, 0, request, 0, request.length, 0x02420a000003);
  assert.is(writeArpReplyFrame(new Uint8Array(42), 0, reply, 0, reply.length, 1), -1);
  assert.is(writeArpReplyFrame(new Uint8Array(42), 0, request, 0, 41, 1), -1);
  assert.is(writeArpReplyFrame(new Uint8Array(41), 0, request, 0, request.length, 1), -1);
  assert.is(writeArpReplyFrame(new Uint8Array(42), 1, request, 0, request.length, 1), -1);
});

test('writeArp round trip', () => {
  const b = new Uint8Array(ARP_LEN);
  assert.is(writeArp(b, 0, ARP_OP_REPLY, 0xaabbccddeeff, 0xc0a80001, 0x112233445566, 0xc0a80002), ARP_LEN);
  assert.equal(decodeArp(b), { op: 2, senderMac: 0xaabbccddeeff, senderIp: 0xc0a80001, targetMac: 0x112233445566, targetIp: 0xc0a80002 });
});

test.run();

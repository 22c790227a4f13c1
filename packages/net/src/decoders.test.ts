// Robustness: every decoder fed random or mutated bytes returns a value or an
// error, never throws, and never depends on bytes outside [off, end) — which is
// how we check it never reads out of bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeEthernet, ethType, ethPayloadOffset, ethVlanId } from './ethernet.ts';
import { decodeArp, writeArpReplyFrame } from './arp.ts';
import { decodeIPv4, ipv4HeaderLength } from './ipv4.ts';
import { decodeIPv6 } from './ipv6.ts';
import { decodeUdp } from './udp.ts';
import { writeIcmpEchoReply, writeIcmpv6EchoReply, ndpLinkAddrOption, ndpNsValid, writeNeighborAdvertisementFrame, icmpChecksumValid } from './icmp.ts';
import { decodeVxlan } from './vxlan.ts';
import { parseDnsMessage, buildDnsFormErr, buildDnsQuery, buildDnsResponse } from './dns.ts';
import { unwrap } from './result.ts';
import { ipv4 } from './ip.ts';
import { hex } from './_testutil.ts';

type Decoder = (buf: Uint8Array, off: number, end: number) => unknown;

const decoders: Record<string, Decoder> = {
  ethernet: decodeEthernet,
  ethType: (b, o, e) => ethType(b, o, e),
  ethPayloadOffset: (b, o, e) => ethPayloadOffset(b, o, e),
  ethVlanId: (b, o, e) => ethVlanId(b, o, e),
  arp: decodeArp,
  ipv4: decodeIPv4,
  ipv6: decodeIPv6,
  udp: decodeUdp,
  vxlan: decodeVxlan,
  ndpNs: (b, o, e) => ndpNsValid(b, o, e) && ndpLinkAddrOption(b, o, e, 1),
  icmpChecksum: (b, o, e) => icmpChecksumValid(b, o, e),
  dns: (b, o, e) => parseDnsMessage(b, o, e),
  dnsFormErr: (b, o, e) => buildDnsFormErr(b, o, e),
  arpProxy: (b, o, e) => {
    const out = new Uint8Array(64);
    return [writeArpReplyFrame(out, 0, b, o, e, 1), out];
  },
  ndpProxy: (b, o, e) => {
    const out = new Uint8Array(100);
    return [writeNeighborAdvertisementFrame(out, 0, b, o, e, 1), out];
  },
  icmpv6EchoReply: (b, o, e) => {
    const out = new Uint8Array(256);
    return [writeIcmpv6EchoReply(out, 0, b, o, e), out];
  },
  icmpEchoReply: (b, o, e) => {
    const out = new Uint8Array(256);
    return [writeIcmpEchoReply(out, 0, b, o, e), out];
  },
};

/** Runs `d` on buf[off, end) embedded in two different surroundings and checks the results agree. */
const check = (name: string, d: Decoder, bytes: Uint8Array, off: number, end: number) => {
  const keep = bytes.subarray(0, Math.max(0, end));
  const a = new Uint8Array(bytes.length + 16).fill(0x00);
  const b = new Uint8Array(bytes.length + 16).fill(0xff);
  a.set(keep);
  b.set(keep);
  assert.equal(d(a, off, end), d(b, off, end), `${name} depends on bytes past end`);
  // And with the buffer itself ending at `end`.
  assert.equal(d(keep, off, end), d(a, off, end), `${name} differs when the buffer ends at end`);
};

test('property: random bytes and offsets never throw or read past end', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: -4, max: 130 }), fc.integer({ min: -4, max: 130 }), (bytes, off, endRaw) => {
      const end = Math.min(endRaw, bytes.length);
      for (const [name, d] of Object.entries(decoders)) check(name, d, bytes, off, end);
    }),
    { numRuns: 300 },
  );
});

// Valid seeds, mutated, reach the deeper branches that random bytes rarely hit.
const arpReq = hex('ffffffffffff 02420a000002 0806 0001 0800 0604 0001 02420a000002 0a000002 000000000000 0a000003');
const ipUdp = hex('4500 001c 0000 4000 4011 0000 0a000001 0a000002 d431 12b5 0008 0000');
const vx = hex('0800000000000100 02420a000001 02420a000002 0800');
const echo = hex('08 00 f7fe 0001 0000');
const dnsQ = unwrap(buildDnsQuery({ id: 1, name: 'web.mynet', type: 1, ednsUdpSize: 1232 }));
const dnsR = unwrap(buildDnsResponse(unwrap(parseDnsMessage(dnsQ)), {
  answers: [{ type: 1, ttl: 5, data: ipv4(1) }, { name: 'x.mynet', type: 5, ttl: 5, data: 'web.mynet' }],
}));
const seeds = [arpReq, ipUdp, vx, echo, dnsQ, dnsR];

test('property: mutated valid frames never throw or read past end', () => {
  const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 });
  fc.assert(
    fc.property(fc.constantFrom(...seeds), mutation, fc.nat(), (seed, muts, cut) => {
      const b = seed.slice();
      for (const [pos, val] of muts) b[pos % b.length] = val;
      const end = b.length - (cut % 4);
      for (const [name, d] of Object.entries(decoders)) {
        check(name, d, b, 0, end);
        check(name, d, b, 14, end);
      }
      ipv4HeaderLength(b, 0, end);
    }),
    { numRuns: 400 },
  );
});

test('property: parsed DNS messages can be answered', () => {
  fc.assert(
    fc.property(fc.constantFrom(dnsQ, dnsR), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (seed, muts) => {
      const b = seed.slice();
      for (const [pos, val] of muts) b[pos % b.length] = val;
      const m = parseDnsMessage(b);
      if (m.ok) {
        const r = buildDnsResponse(m.value, { answers: [{ type: 1, ttl: 1, data: ipv4(2) }] });
        if (r.ok) assert.ok(parseDnsMessage(r.value).ok);
      }
    }),
    { numRuns: 300 },
  );
});

test.run();

/** @weft/net frame decoders, the VXLAN header and the vxlan plugin's in-place frame code, and DNS messages. */
import fc from 'fast-check';
import {
  decodeEthernet, decodeArp, decodeIPv4, decodeIPv6, decodeUdp, decodeVxlan, ethPayloadOffset, ethVlanId, ipv4HeaderLength, icmpChecksumValid,
  ndpNsValid, ndpLinkAddrOption, writeArpReplyFrame, writeNeighborAdvertisementFrame, writeIcmpEchoReply, writeIcmpv6EchoReply,
  parseDnsMessage, buildDnsFormErr, buildDnsQuery, buildDnsResponse, classifyDnsQuery, unwrap, encodeVxlan, DNS_TYPE,
} from '@weft/net';
import { readVxlanVni, flowHash, arpReplyInPlace, icmpEchoReplyInPlace } from '../../../../plugins/datapath/vxlan/src/frames.ts';
import { bytesMix, must, type Harness } from '../lib.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const cat = (...p: Uint8Array[]) => {
  const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let i = 0;
  for (const x of p) (o.set(x, i), (i += x.length));
  return o;
};

const ETH_V4 = hex('02420a000002 02420a000001 0800');
const ETH_V6 = hex('3333ff000002 02420a000001 86dd');
const IPV4_UDP = hex('4500 0024 0000 4000 4011 0000 0a000001 0a000002 d431 0035 0010 0000 0001 0100 0001 0000');
const IPV4_ICMP = hex('4500 001c 0000 4000 4001 0000 0a000001 0a000002 0800 f7fe 0001 0000');
const ARP_REQ = hex('ffffffffffff 02420a000002 0806 0001 0800 0604 0001 02420a000002 0a000002 000000000000 0a000003');
const NS = hex(
  '6000 0000 0020 3aff fd000000000000000000000000000001 ff020000000000000000000001ff0002' +
    '87 00 0000 00000000 fd000000000000000000000000000002 0101 02420a000001',
);
const VLAN = hex('02420a000002 02420a000001 8100 0005 8100 0006 0800');

export const FRAME_SEEDS: readonly Uint8Array[] = [
  ARP_REQ,
  cat(ETH_V4, IPV4_UDP),
  cat(ETH_V4, IPV4_ICMP),
  cat(ETH_V6, NS),
  cat(VLAN, IPV4_ICMP),
  cat(encodeVxlan(42), ETH_V4, IPV4_ICMP),
  cat(encodeVxlan(0xffffff), ARP_REQ),
];

type Decoder = (b: Uint8Array, o: number, e: number) => unknown;
const DECODERS: readonly Decoder[] = [
  decodeEthernet, ethPayloadOffset, ethVlanId, decodeArp, decodeIPv4, ipv4HeaderLength, decodeIPv6, decodeUdp, decodeVxlan,
  (b, o, e) => ndpNsValid(b, o, e) && ndpLinkAddrOption(b, o, e, 1),
  icmpChecksumValid,
];

/** Every L2-L4 decoder of @weft/net at every layer offset of the frame. */
export const netFrames: Harness = {
  name: 'net-frames',
  what: 'Ethernet/VLAN/ARP/IPv4/IPv6/UDP/ICMP/NDP decoders and the ARP/NDP/echo reply writers of @weft/net on random and mutated frames, at offsets 0, 14, 18, 22, 34; no throw, replies stay inside their output buffer',
  async make() {
    let invalid = 0;
    let replies = 0;
    const out = new Uint8Array(512);
    return {
      arb: bytesMix(FRAME_SEEDS, 128),
      check(b: Uint8Array) {
        for (const off of [0, 14, 18, 22, 34]) {
          for (const d of DECODERS) {
            const r = d(b, off, b.length);
            if (r === undefined || r === -1 || r === false) invalid++;
          }
        }
        for (const w of [
          () => writeArpReplyFrame(out, 0, b, 0, b.length, 1),
          () => writeNeighborAdvertisementFrame(out, 0, b, 0, b.length, 1),
          () => writeIcmpEchoReply(out, 0, b, 14, b.length),
          () => writeIcmpv6EchoReply(out, 0, b, 14, b.length),
        ]) {
          const n = w() as unknown as number;
          must(typeof n !== 'number' || n <= out.length, `reply writer returned ${n} > ${out.length}`);
          if (typeof n === 'number' && n > 0) replies++;
        }
      },
      counts: () => ({ invalid, replies }),
    };
  },
};

/** VXLAN: the @weft/net header decoder and the data path's in-place frame code (frames.ts). */
export const vxlan: Harness = {
  name: 'vxlan',
  what: 'VXLAN header (decodeVxlan, the switch\'s readVxlanVni) and the switch\'s in-place frame code (flowHash, arpReplyInPlace, icmpEchoReplyInPlace) on random and mutated encapsulated frames; no throw, VNI in 0..2^24-1, replies never longer than the frame and never written past it',
  async make() {
    let badHeader = 0;
    let answered = 0;
    return {
      arb: bytesMix(FRAME_SEEDS.filter((s) => s[0] === 0x08).concat(FRAME_SEEDS.map((s) => cat(encodeVxlan(7), s))), 128),
      check(b: Uint8Array) {
        const h = decodeVxlan(b, 0, b.length);
        const vni = b.length >= 8 ? readVxlanVni(b, 0) : -1;
        if (h === undefined) badHeader++;
        must(vni >= -1 && vni <= 0xffffff, `readVxlanVni returned ${vni}`);
        if (b.length < 8) return;
        const f = 8;
        const len = b.length - f;
        // The switch hands these functions a frame inside a larger buffer: pad so reads stay
        // defined, then check nothing past the frame was written.
        const buf = new Uint8Array(b.length + 128).fill(0xa5);
        buf.set(b);
        const h32 = flowHash(buf, f, len);
        must(Number.isInteger(h32) && h32 >= 0 && h32 <= 0xffffffff, `flowHash returned ${h32}`);
        for (const fn of [arpReplyInPlace, icmpEchoReplyInPlace]) {
          const copy = buf.slice();
          const n = fn(copy, f, len, 0x0242_0a00_00fe);
          must(n >= 0 && n <= len, `${fn.name} returned ${n} for a ${len}-byte frame`);
          if (n > 0) answered++;
          for (let i = f + len; i < copy.length; i++) must(copy[i] === 0xa5, `${fn.name} wrote byte ${i - f} of a ${len}-byte frame`);
        }
      },
      counts: () => ({ badHeader, answered }),
      after: (c) => must((c.badHeader ?? 0) > 0, 'no input was refused: the mutator is not reaching bad headers'),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// DNS

/** DNS messages with compression pointers that loop, point forward, or chain deeply. */
export function dnsHostileSeeds(): Uint8Array[] {
  const hdr = (qd: number, an = 0) => hex(`1234 0100 ${qd.toString(16).padStart(4, '0')} ${an.toString(16).padStart(4, '0')} 0000 0000`);
  const selfLoop = cat(hdr(1), hex('c00c 0001 0001')); // name at 12 points to 12
  const twoLoop = cat(hdr(1), hex('01 61 c0 0e 0001 0001 c00c')); // a → ptr 14 → ptr 12 → ...
  const forward = cat(hdr(1), hex('c0 20 0001 0001'), new Uint8Array(40));
  // A long pointer chain: every label pointing to the previous one.
  const chain: number[] = [];
  for (let i = 0; i < 200; i++) chain.push(0xc0, 12 + Math.max(0, 2 * (i - 1)));
  const longChain = cat(hdr(1), Uint8Array.from(chain), hex('0001 0001'));
  const bigCount = cat(hdr(0xffff, 0xffff), new Uint8Array(20));
  const longLabel = cat(hdr(1), Uint8Array.of(63), new Uint8Array(63).fill(0x61), Uint8Array.of(63), new Uint8Array(63).fill(0x62), Uint8Array.of(63), new Uint8Array(63).fill(0x63), Uint8Array.of(63), new Uint8Array(63).fill(0x64), hex('00 0001 0001'));
  return [selfLoop, twoLoop, forward, longChain, bigCount, longLabel];
}

export function dnsValidSeeds(): Uint8Array[] {
  const q = (name: string, type: number, edns?: number) => unwrap(buildDnsQuery({ id: 7, name, type, ...(edns !== undefined ? { ednsUdpSize: edns } : {}) }));
  const a = unwrap(parseDnsMessage(q('web.mynet', DNS_TYPE.A)));
  const resp = unwrap(buildDnsResponse(a, { rcode: 3 }));
  return [q('web', DNS_TYPE.A), q('web.mynet', DNS_TYPE.AAAA, 1232), q('2.0.0.10.in-addr.arpa', DNS_TYPE.PTR), q('tasks.api', DNS_TYPE.ANY, 4096), resp];
}

export const dnsMessage: Harness = {
  name: 'dns-message',
  what: 'parseDnsMessage / classifyDnsQuery / buildDnsFormErr / buildDnsResponse of @weft/net on random, mutated and hostile messages (compression loops, forward pointers, 200-pointer chains, 65535 counts); no throw, the parse is a Result, no name over 255 bytes, replies ≤ 65535 bytes',
  async make() {
    let parsed = 0;
    let refused = 0;
    const seeds = [...dnsValidSeeds(), ...dnsHostileSeeds()];
    return {
      arb: fc.oneof({ weight: 4, arbitrary: bytesMix(seeds, 96) }, { weight: 1, arbitrary: fc.constantFrom(...dnsHostileSeeds()) }),
      check(b: Uint8Array) {
        const r = parseDnsMessage(b, 0, b.length);
        must(typeof r === 'object' && r !== null && typeof r.ok === 'boolean', 'parseDnsMessage did not return a Result');
        const fe = buildDnsFormErr(b, 0, b.length);
        must(fe === undefined || fe.length <= 512, `FORMERR of ${fe?.length} bytes`);
        if (!r.ok) {
          refused++;
          return;
        }
        parsed++;
        for (const q of r.value.questions) must(q.name.length <= 255, `a ${q.name.length}-character name was accepted`);
        classifyDnsQuery(r.value);
        const resp = buildDnsResponse(r.value, { answers: [] });
        must(!resp.ok || resp.value.length <= 65535, 'response over 65535 bytes');
      },
      counts: () => ({ parsed, refused }),
      after: (c) => must((c.refused ?? 0) > 0 && (c.parsed ?? 0) > 0, 'the mix reached only one outcome'),
    };
  },
};

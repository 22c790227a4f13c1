import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coalesceTcp, newSegOut, rxVnetHeader, segmentTcp, type SegOut } from './gso.ts';
import { tcpChecksumOk, tsoSuperFrame } from './gso-frames.ts';
import { arpReplyInPlace, flowHash, fold, icmpEchoReplyInPlace, readU16, readU32, readVxlanVni, sum16, writeU16, writeU32, writeVxlanHeader } from './frames.ts';

const F = 10;
const HL = 14 + 20 + 32;

/** A TSO super-frame over IPv4 (GSO_TCPV4) whose sequence wraps during the train. */
const superFrame = (payload: number, mss: number): Uint8Array => tsoSuperFrame({ v6: false, payload, mss, seq: 0xfffff000, fill: [7, 3] });
const tcpOk = (b: Uint8Array, ip: number): boolean => tcpChecksumOk(b, ip, false);

test('segmentTcp: MSS-sized frames with valid IP/TCP checksums, sequence, flags, VXLAN header', () => {
  const mss = 1398;
  const payload = 5000;
  const sf = superFrame(payload, mss);
  const b = new Uint8Array(80000);
  b.set(sf);
  const OUT = 8000;
  const out = b.subarray(OUT);
  const r: SegOut = newSegOut();
  assert.ok(segmentTcp(b, F, sf.length - F, 4242, OUT, r));
  assert.is(r.count, 4);
  assert.is(r.size, 8 + HL + mss);
  const collected: number[] = [];
  for (let i = 0; i < r.count; i++) {
    const o = i * r.size;
    assert.is(readVxlanVni(out, o), 4242);
    const ip = o + 8 + 14;
    assert.is(fold(sum16(out, ip, ip + 20, 0)), 0xffff, 'IP header checksum');
    assert.ok(tcpOk(out, ip), `TCP checksum of segment ${i}`);
    assert.is(readU32(out, ip + 24), (0xfffff000 + i * mss) >>> 0);
    assert.is(readU16(out, ip + 4), 0x1234 + i);
    assert.is(out[ip + 33], i === r.count - 1 ? 0x18 : 0x10, 'PSH only on the last');
    const tot = readU16(out, ip + 2);
    for (let k = ip + 52; k < ip + tot; k++) collected.push(out[k]!);
  }
  assert.equal(collected, [...sf.subarray(F + HL)]);
  assert.is(r.total, 3 * r.size + 8 + HL + (payload - 3 * mss));
});

test('coalesceTcp rebuilds the super-frame from a GRO train; rxVnetHeader marks CHECKSUM_PARTIAL', () => {
  const mss = 1398;
  const sf = superFrame(5000, mss);
  const b = new Uint8Array(80000);
  b.set(sf);
  const out = b.subarray(8000);
  const r: SegOut = newSegOut();
  segmentTcp(b, F, sf.length - F, 99, 8000, r);
  const buf = new Uint8Array(70000);
  buf.set(out.subarray(0, r.total), 2);
  const co: SegOut = newSegOut();
  assert.ok(coalesceTcp(buf, 2, r.total, r.size, co));
  assert.is(co.size, 2);
  const f = 10;
  const ip = f + 14;
  assert.is(co.total, 8 + HL + 5000);
  assert.is(readU16(buf, ip + 2), 20 + 32 + 5000);
  assert.equal([...buf.subarray(f + HL, f + HL + 5000)], [...sf.subarray(F + HL)]);
  assert.is(buf[0], 1, 'NEEDS_CSUM');
  assert.is(buf[1], 1, 'GSO_TCPV4');
  assert.is(buf[4]! | (buf[5]! << 8), mss);
  assert.is(buf[6], 34);
  assert.is(buf[8], 16);
  assert.is(buf[ip + 33], 0x18, 'PSH of the last segment kept');
  // A train with a gap in sequence numbers is left alone.
  const buf2 = new Uint8Array(70000);
  buf2.set(out.subarray(0, r.total), 2);
  writeU32(buf2, 2 + r.size + 8 + 14 + 24, 1);
  assert.not.ok(coalesceTcp(buf2, 2, r.total, r.size, co));
  // Single frames: checksum field becomes the pseudo-header sum and the header points at it.
  const one = new Uint8Array(2000);
  one.set(out.subarray(0, r.size), 2);
  rxVnetHeader(one, 10, r.size - 8);
  assert.is(one[0], 1);
  assert.is(one[6], 34);
  assert.is(one[8], 16);
});

test('gather mode: headers only, payload left in place; checksums still valid; coalesce lists the pieces', () => {
  const mss = 1398;
  const payload = 5000;
  const sf = superFrame(payload, mss);
  const b = new Uint8Array(80000);
  b.set(sf);
  const r = newSegOut();
  assert.ok(segmentTcp(b, F, sf.length - F, 7, 8000, r, true, true));
  assert.is(r.hsz, 8 + HL);
  // Assemble what sendmsg would gather: header i then payload chunk i.
  const wire = new Uint8Array(r.total);
  let o = 0;
  for (let i = 0; i < r.count; i++) {
    wire.set(b.subarray(8000 + i * r.hsz, 8000 + (i + 1) * r.hsz), o);
    o += r.hsz;
    const chunk = Math.min(mss, payload - i * mss);
    wire.set(b.subarray(F + HL + i * mss, F + HL + i * mss + chunk), o);
    o += chunk;
  }
  assert.is(o, r.total);
  for (let i = 0; i < r.count; i++) assert.ok(tcpOk(wire, i * r.size + 8 + 14), `segment ${i}`);
  const buf = new Uint8Array(70000);
  buf.set(wire, 2);
  const co = newSegOut();
  assert.ok(coalesceTcp(buf, 2, wire.length, r.size, co, true));
  assert.is(co.nparts, r.count);
  const joined: number[] = [];
  for (let k = 0; k < co.nparts; k++) joined.push(...buf.subarray(co.parts[2 * k]!, co.parts[2 * k]! + co.parts[2 * k + 1]!));
  assert.is(joined.length, 10 + HL + payload);
  assert.equal(joined.slice(10 + HL), [...sf.subarray(F + HL)]);
});

// ---------------------------------------------------------------------------------------------
// IPv6

const HL6 = 14 + 40 + 32;

/** A TSO super-frame over IPv6 (GSO_TCPV6), flow label 0x12345, as a TAP hands it over. */
const superFrame6 = (payload: number, mss: number): Uint8Array => tsoSuperFrame({ v6: true, payload, mss, seq: 0xfffff000, flowLabel: 0x12345, fill: [11, 5] });
/** Full TCP checksum over IPv6 (pseudo-header: addresses, upper-layer length, next header). */
const tcp6Ok = (b: Uint8Array, ip: number): boolean => tcpChecksumOk(b, ip, true);

/** The GRO train segmentTcp makes of a v6 super-frame, 2 bytes into a fresh buffer (as udpBatch lays it out). */
function train6(payload: number, mss: number): { buf: Uint8Array; total: number; size: number; count: number; sf: Uint8Array } {
  const sf = superFrame6(payload, mss);
  const b = new Uint8Array(80000);
  b.set(sf);
  const r = newSegOut();
  assert.ok(segmentTcp(b, F, sf.length - F, 99, 8000, r));
  const buf = new Uint8Array(70000);
  buf.set(b.subarray(8000, 8000 + r.total), 2);
  return { buf, total: r.total, size: r.size, count: r.count, sf };
}

test('segmentTcp over IPv6: payload length, sequence, PSH on the last only, valid TCP checksums, flow label kept', () => {
  const mss = 1378;
  const { buf, size, count, total, sf } = train6(5000, mss);
  assert.is(count, 4);
  assert.is(size, 8 + HL6 + mss);
  const collected: number[] = [];
  for (let i = 0; i < count; i++) {
    const ip = 2 + i * size + 8 + 14;
    assert.is(readU32(buf, ip), 0x60012345, 'version, class, flow label');
    assert.is(readU16(buf, ip + 4), 32 + Math.min(mss, 5000 - i * mss));
    assert.ok(tcp6Ok(buf, ip), `TCP checksum of segment ${i}`);
    assert.is(readU32(buf, ip + 44), (0xfffff000 + i * mss) >>> 0);
    assert.is(buf[ip + 53], i === count - 1 ? 0x18 : 0x10);
    for (let k = ip + 72; k < ip + 40 + readU16(buf, ip + 4); k++) collected.push(buf[k]!);
  }
  assert.equal(collected, [...sf.subarray(F + HL6)]);
  assert.is(total, 3 * size + 8 + HL6 + (5000 - 3 * mss));
});

test('coalesceTcp over IPv6: one TCPV6 super-frame, bytes intact, CHECKSUM_PARTIAL that completes to a valid checksum', () => {
  const mss = 1378;
  for (const gather of [false, true]) {
    const { buf, total, size, count, sf } = train6(5000, mss);
    const co = newSegOut();
    assert.ok(coalesceTcp(buf, 2, total, size, co, gather), `gather=${gather}`);
    assert.is(co.size, 2);
    assert.is(co.total, 8 + HL6 + 5000);
    // The super-frame as the TAP write sees it (one piece, or gathered pieces).
    const joined: number[] = [];
    for (let k = 0; k < co.nparts; k++) joined.push(...buf.subarray(co.parts[2 * k]!, co.parts[2 * k]! + co.parts[2 * k + 1]!));
    assert.is(co.nparts, gather ? count : 1);
    const fr = Uint8Array.from(joined);
    assert.is(fr.length, 10 + HL6 + 5000);
    assert.is(fr[0], 1, 'NEEDS_CSUM');
    assert.is(fr[1], 4, 'GSO_TCPV6');
    assert.is(fr[2]! | (fr[3]! << 8), HL6, 'hdr_len');
    assert.is(fr[4]! | (fr[5]! << 8), mss, 'gso_size');
    assert.is(fr[6]! | (fr[7]! << 8), 54, 'csum_start');
    assert.is(fr[8], 16, 'csum_offset');
    const ip = 10 + 14;
    assert.is(readU16(fr, ip + 4), 32 + 5000, 'payload length of the whole');
    assert.is(readU32(fr, ip), 0x60012345);
    assert.is(fr[ip + 53], 0x18, 'PSH of the last segment kept');
    assert.equal([...fr.subarray(10 + HL6)], [...sf.subarray(F + HL6)]);
    // Finish the partial checksum as the stack would: the result is a valid TCP checksum.
    const t = ip + 40;
    writeU16(fr, t + 16, ~fold(sum16(fr, t, fr.length, 0)) & 0xffff);
    assert.ok(tcp6Ok(fr, ip), 'completed checksum');
  }
});

/** Asserts the train is refused and left byte for byte as it was. */
function refused(buf: Uint8Array, total: number, size: number, what: string): void {
  const before = buf.slice(0, total + 2);
  assert.not.ok(coalesceTcp(buf, 2, total, size, newSegOut()), what);
  assert.equal(buf.subarray(0, total + 2), before, `${what}: buffer untouched`);
}

test('coalesceTcp over IPv6 refuses trains it must not merge', () => {
  const mss = 1378;
  const seg = (i: number, size: number) => 2 + i * size + 8 + 14; // IPv6 header of datagram i
  const cases: [string, (b: Uint8Array, size: number) => void][] = [
    ['PSH on a middle segment', (b, s) => (b[seg(1, s) + 53] = 0x18)],
    ['FIN on the last segment', (b, s) => (b[seg(3, s) + 53] = 0x19)],
    ['SYN', (b, s) => (b[seg(0, s) + 53] = 0x12)],
    ['another source port', (b, s) => writeU16(b, seg(2, s) + 40, 40001)],
    ['another destination port', (b, s) => writeU16(b, seg(1, s) + 42, 80)],
    ['another source address', (b, s) => (b[seg(2, s) + 23] = 9)],
    ['another destination address', (b, s) => (b[seg(3, s) + 39] = 9)],
    ['another flow label', (b, s) => (b[seg(1, s) + 3] = 0x46)],
    ['another traffic class (ECN CE)', (b, s) => (b[seg(1, s) + 1] = 0x31)],
    ['another hop limit', (b, s) => (b[seg(2, s) + 7] = 63)],
    ['another ACK', (b, s) => writeU32(b, seg(1, s) + 48, 778)],
    ['a gap in sequence numbers', (b, s) => writeU32(b, seg(2, s) + 44, 1)],
    ['another TCP option value', (b, s) => (b[seg(1, s) + 40 + 31] = 3)],
    ['another VNI', (b, s) => (b[2 + s + 6] = 1)],
    ['another destination MAC', (b, s) => (b[2 + 2 * s + 8 + 5] = 9)],
    ['a payload length that disagrees with the datagram', (b, s) => writeU16(b, seg(1, s) + 4, 32 + mss - 1)],
    ['a hop-by-hop header announced in the first', (b, s) => (b[seg(0, s) + 6] = 0)],
    ['a routing header announced in a later one', (b, s) => (b[seg(2, s) + 6] = 43)],
    ['version 4 in an IPv6 frame', (b, s) => (b[seg(0, s)] = 0x40)],
  ];
  for (const [what, mutate] of cases) {
    const { buf, total, size } = train6(5000, mss);
    mutate(buf, size);
    refused(buf, total, size, what);
  }
});

test('coalesceTcp over IPv6 refuses a train whose datagrams carry a real extension header', () => {
  // Each datagram of a valid train with an 8-byte Destination Options header (PadN) inserted
  // between the IPv6 and TCP headers: a train of 8-byte-longer datagrams that is otherwise valid.
  const mss = 1378;
  const { buf, total, size, count } = train6(5000, mss);
  const size2 = size + 8;
  const out = new Uint8Array(70000);
  let o = 2;
  for (let i = 0; i < count; i++) {
    const q = 2 + i * size;
    const dl = Math.min(size, total - i * size);
    const ip = q + 8 + 14;
    out.set(buf.subarray(q, ip + 40), o);
    const oip = o + 8 + 14;
    out[oip + 6] = 60; // next header: Destination Options
    writeU16(out, oip + 4, readU16(buf, ip + 4) + 8);
    out.set([6, 0, 1, 4, 0, 0, 0, 0], oip + 40); // next: TCP, len 0, PadN of 4
    out.set(buf.subarray(ip + 40, q + dl), oip + 48);
    o += dl + 8;
  }
  refused(out, o - 2, size2, 'Destination Options header');
});

test('coalesceTcp: a lone IPv6 datagram and v4/v6 mixed in one train are not merged; rxVnetHeader marks a v6 frame CHECKSUM_PARTIAL', () => {
  const mss = 1378;
  const { buf, size } = train6(5000, mss);
  // One datagram "train": coalescing one datagram is harmless but the caller never asks; a
  // train where datagram 1 is IPv4 must be refused.
  const v4 = superFrame(2 * 1398, 1398);
  const b4 = new Uint8Array(80000);
  b4.set(v4);
  const r4 = newSegOut();
  assert.ok(segmentTcp(b4, F, v4.length - F, 99, 8000, r4));
  const mixed = new Uint8Array(70000);
  mixed.set(buf.subarray(2, 2 + size), 2);
  mixed.set(b4.subarray(8000, 8000 + r4.size), 2 + size);
  refused(mixed, size + r4.size, size, 'IPv6 then IPv4');
  const one = new Uint8Array(2000);
  one.set(buf.subarray(2, 2 + size), 2);
  rxVnetHeader(one, 10, size - 8);
  assert.is(one[0], 1, 'NEEDS_CSUM');
  assert.is(one[1], 0, 'no GSO');
  assert.is(one[6], 54, 'csum_start after the IPv6 header');
  assert.is(one[8], 16);
  const ip = 10 + 14;
  writeU16(one, ip + 56, ~fold(sum16(one, ip + 40, ip + 40 + readU16(one, ip + 4), 0)) & 0xffff);
  assert.ok(tcp6Ok(one, ip), 'the partial checksum completes to a valid one');
});

test('VXLAN header: I flag, 24-bit VNI, reserved bits must be zero', () => {
  const b = new Uint8Array(8);
  writeVxlanHeader(b, 0, 0xabcdef);
  assert.equal([...b], [8, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
  assert.is(readVxlanVni(b, 0), 0xabcdef);
  b[7] = 1;
  assert.is(readVxlanVni(b, 0), -1);
  b[7] = 0;
  b[0] = 0x0c;
  assert.is(readVxlanVni(b, 0), -1);
});

test('proxy ARP reply and gateway ICMP echo reply are built in place', () => {
  const a = new Uint8Array(42);
  a.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 9]);
  assert.is(arpReplyInPlace(a, 0, 42, 0x025746000001), 42);
  assert.equal([...a.subarray(0, 12)], [2, 0, 0, 0, 0, 1, 2, 0x57, 0x46, 0, 0, 1]);
  assert.is(readU16(a, 20), 2);
  assert.is(readU32(a, 28), 0x0a000009, 'sender IP is the asked-for IP');
  assert.is(readU32(a, 38), 0x0a000002);
  const e = new Uint8Array(14 + 28);
  e.set([2, 0x57, 0x46, 0, 0, 1, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1, 8, 0, 0, 0, 0, 7, 0, 1]);
  assert.is(icmpEchoReplyInPlace(e, 0, e.length, 0x025746000001), 42);
  assert.is(e[34], 0, 'echo reply');
  assert.is(readU32(e, 26), 0x0a000001);
  assert.is(fold(sum16(e, 14, 34, 0)), 0xffff);
  assert.is(fold(sum16(e, 34, 42, 0)), 0xffff);
  assert.is(flowHash(e, 0, 42), flowHash(e, 0, 42));
});

test('sum16 (32-bit reads) equals a byte-wise RFC 1071 sum at any offset and length', () => {
  const b = new Uint8Array(3000);
  for (let i = 0; i < b.length; i++) b[i] = (i * 131 + 17) & 255;
  const naive = (s: number, e: number) => {
    let x = 0;
    for (let i = s; i < e; i += 2) x += (b[i]! << 8) | (i + 1 < e ? b[i + 1]! : 0);
    return fold(x);
  };
  for (const [s, e] of [[0, 3000], [1, 1500], [3, 4], [7, 1454], [10, 11], [5, 5], [2, 2999]] as const) assert.is(fold(sum16(b, s, e, 0)), naive(s, e), `${s}..${e}`);
});

test.run();

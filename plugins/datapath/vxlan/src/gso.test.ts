import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coalesceTcp, newSegOut, rxVnetHeader, segmentTcp, type SegOut } from './gso.ts';
import { arpReplyInPlace, flowHash, fold, icmpEchoReplyInPlace, readU16, readU32, readVxlanVni, sum16, writeU16, writeU32, writeVxlanHeader } from './frames.ts';

const F = 10;
const HL = 14 + 20 + 32;

/** A TSO super-frame as a TAP with TUNSETOFFLOAD hands it over: virtio header + eth/IPv4/TCP. */
function superFrame(payload: number, mss: number): Uint8Array {
  const b = new Uint8Array(F + HL + payload);
  b[1] = 1; // GSO_TCPV4
  b[4] = mss & 255;
  b[5] = mss >> 8;
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0], F);
  const ip = F + 14;
  b.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], ip);
  writeU16(b, ip + 2, 20 + 32 + payload);
  const tcp = ip + 20;
  writeU16(b, tcp, 40000);
  writeU16(b, tcp + 2, 5201);
  writeU32(b, tcp + 4, 0xfffff000); // wraps during the train
  writeU32(b, tcp + 8, 777);
  b[tcp + 12] = 8 << 4;
  b[tcp + 13] = 0x18; // ACK|PSH
  b.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], tcp + 20); // NOP NOP timestamps
  for (let i = 0; i < payload; i++) b[F + HL + i] = (i * 7 + 3) & 255;
  return b;
}

const tcpOk = (b: Uint8Array, ip: number): boolean => {
  const tot = readU16(b, ip + 2);
  const s = sum16(b, ip + 12, ip + 20, 6 + tot - 20);
  return fold(sum16(b, ip + 20, ip + tot, s)) === 0xffff;
};

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

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { crc32 } from '@weft/net';
import { Keyring, decryptPayload, encryptPayload } from './crypto.ts';
import { lzwDecode, lzwEncode } from './lzw.ts';
import { decodeMessage, encodeAlive, encodeDead, encodeIndirectPing, encodeNack, encodePing, encodeSuspect, encodeAck } from './codec.ts';
import { encodePushPull } from './pushpull.ts';
import { decodePacket, encodeCompound, encodeCompress, encodeCrc, encodePacket, openPacket } from './packet.ts';
import { decodeStream, encodeStream, encodeStreamUser, streamFrameLength } from './stream.ts';
import { decodeTags, encodeTags, encodeSerfLeaveIntent, serfLTime } from './serf.ts';
import { decodeValue, encode } from './msgpack.ts';

/** Hex with inline "quoted ascii" tokens, as written in the spec captures. */
function hx(s: string): Uint8Array {
  const out: number[] = [];
  const re = /"([^"]*)"|([0-9a-fA-F]+)/g;
  for (const m of s.matchAll(re)) {
    if (m[1] !== undefined) for (const c of m[1]) out.push(c.charCodeAt(0));
    else {
      const h = m[2] as string;
      for (let i = 0; i < h.length; i += 2) out.push(parseInt(h.slice(i, i + 2), 16));
    }
  }
  return Uint8Array.from(out);
}
const bytes = (...a: number[]) => Uint8Array.from(a);

test('ping matches spec capture byte for byte', () => {
  const cap = hx('00 85 a4"Node" a2"n1" a5"SeqNo" 01 aa"SourceAddr" a4 7f000002 aa"SourceNode" a2"n2" aa"SourcePort" cd 1f0a');
  const enc = encodePing({ seqNo: 1, node: 'n1', sourceAddr: bytes(127, 0, 0, 2), sourcePort: 7946, sourceNode: 'n2' });
  assert.equal(Array.from(enc), Array.from(cap));
  const d = decodeMessage(cap);
  assert.ok(d.ok && d.value.kind === 'ping');
  if (d.ok && d.value.kind === 'ping') {
    assert.is(d.value.msg.seqNo, 1);
    assert.is(d.value.msg.node, 'n1');
    assert.equal(Array.from(d.value.msg.sourceAddr ?? []), [127, 0, 0, 2]);
    assert.is(d.value.msg.sourcePort, 7946);
  }
});

test('nack and alive match spec captures', () => {
  assert.equal(Array.from(encodeNack({ seqNo: 13 })), Array.from(hx('0b 81 a5"SeqNo" 0d')));
  const alive = hx(
    '04 86 a4"Addr" a4 7f000001 ab"Incarnation" 01 a4"Meta" b2 ff 82 a2"dc" a3"lab" a4"role" a3"web" a4"Node" a2"n1" a4"Port" cd 1f0a a3"Vsn" a6 01 05 02 02 05 05',
  );
  const meta = encodeTags({ role: 'web', dc: 'lab' });
  const enc = encodeAlive({ incarnation: 1, node: 'n1', addr: bytes(127, 0, 0, 1), port: 7946, meta, vsn: bytes(1, 5, 2, 2, 5, 5) });
  assert.equal(Array.from(enc), Array.from(alive));
  const d = decodeMessage(alive);
  assert.ok(d.ok && d.value.kind === 'alive');
  if (d.ok && d.value.kind === 'alive') {
    assert.equal(decodeTags(d.value.msg.meta), { dc: 'lab', role: 'web' });
    assert.equal(Array.from(d.value.msg.vsn), [1, 5, 2, 2, 5, 5]);
  }
});

test('CRC wrapper matches a Go-computed checksum from the spec', () => {
  const cap = hx('0c d26d24ee 03 83 a4"From" a9"127.0.0.3" ab"Incarnation" 01 a4"Node" a2"n2"');
  const inner = encodeSuspect({ incarnation: 1, node: 'n2', from: '127.0.0.3' });
  assert.equal(Array.from(encodeCrc(inner)), Array.from(cap));
  const p = decodePacket(cap);
  assert.is(p.errors.length, 0);
  assert.is(p.messages[0]?.kind, 'suspect');
  const broken = cap.slice();
  broken[broken.length - 1] = (broken[broken.length - 1] ?? 0) ^ 1;
  assert.equal(decodePacket(broken).errors, ['crc mismatch']);
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('msgpack: str and bin decode to bytes, nil and map16 accepted', () => {
  const v = decodeValue(hx('de 0002 a4"Meta" c0 a4"Addr" c4 04 c0a80102'));
  assert.ok(v.ok);
  if (v.ok && v.value.value instanceof Map) {
    assert.is(v.value.value.get('Meta'), null);
    assert.equal(Array.from(v.value.value.get('Addr') as Uint8Array), [192, 168, 1, 2]);
  }
  // never emits undefined / str8 / bin
  const e = encode({ a: undefined, b: new Uint8Array(40), c: 'x'.repeat(40) });
  assert.equal(Array.from(e.subarray(0, 5)), [0x82, 0xa1, 0x62, 0xda, 0x00]);
  const big = decodeValue(hx('dd ffffffff 01'));
  assert.ok(!big.ok);
  const neg = decodeValue(encode([-1, -100, -40000, -3000000000, 3000000000, 1.5]));
  assert.ok(neg.ok);
  if (neg.ok) assert.equal(neg.value.value, [-1, -100, -40000, -3000000000, 3000000000, 1.5]);
});

test('LZW round trip incl. table resets, and a known Go stream', () => {
  const rnd = new Uint8Array(20000);
  let x = 12345;
  for (let i = 0; i < rnd.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    rnd[i] = (x >>> 16) % 7 === 0 ? x & 0xff : 65 + ((x >>> 8) % 4);
  }
  for (const input of [new Uint8Array(0), bytes(1), new TextEncoder().encode('TOBEORNOTTOBEORTOBEORNOT'), rnd, new Uint8Array(100000)]) {
    const d = lzwDecode(lzwEncode(input));
    assert.ok(d.ok);
    if (d.ok) assert.equal(Buffer.from(d.value).equals(Buffer.from(input)), true);
  }
  // "aaaa" = codes clear(256) 'a'(97) 258 'a'(97) eof(257), 9 bits each, LSB first (hand-derived)
  const go = lzwDecode(bytes(0x00, 0xc3, 0x08, 0x0c, 0x13, 0x10));
  assert.ok(go.ok);
  if (go.ok) assert.is(new TextDecoder().decode(go.value), 'aaaa');
  assert.equal(Array.from(lzwEncode(new TextEncoder().encode('aaaa'))), [0x00, 0xc3, 0x08, 0x0c, 0x13, 0x10]);
  // output cap
  const capd = lzwDecode(lzwEncode(new Uint8Array(100000)), 1000);
  assert.ok(!capd.ok);
});

test('compound, compress and CRC nest like serf sends them', () => {
  const parts = [
    encodePing({ seqNo: 7, node: 'x' }),
    encodeSuspect({ incarnation: 3, node: 'y', from: 'z' }),
    encodeDead({ incarnation: 4, node: 'y', from: 'y' }),
  ];
  const pkt = encodePacket(parts, { compress: true, crc: true });
  const d = decodePacket(pkt);
  assert.equal(d.errors, []);
  assert.equal(
    d.messages.map((m) => m.kind),
    ['ping', 'suspect', 'dead'],
  );
  // truncated compound tail is ignored but the head is kept
  const c = encodeCompound(parts);
  const t = decodePacket(c.subarray(0, c.length - 3));
  assert.is(t.messages.length, 2);
});

test('encryption: UDP no AAD, TCP with header AAD, multi-key ring', () => {
  const k1 = new Uint8Array(32).fill(1);
  const k2 = new Uint8Array(16).fill(2);
  const blob = encryptPayload(k2, bytes(1, 2, 3));
  assert.is(blob.length, 3 + 29);
  assert.is(blob[0], 1);
  const d = decryptPayload([k1, k2], blob);
  assert.ok(d.ok);
  assert.ok(!decryptPayload([k1], blob).ok);
  const ring = new Keyring([k1, k2]);
  const pkt = encodePacket([encodeNack({ seqNo: 5 })], { keyring: ring });
  const o = openPacket(pkt, new Keyring([k2, k1]));
  assert.ok(o.ok && o.value.messages[0]?.kind === 'nack');
  const st = encodeStream(encodeStreamUser(bytes(9, 9)), { keyring: ring, compress: true });
  assert.is(st[0], 10);
  const fl = streamFrameLength(st);
  assert.ok(fl.ok && fl.value === st.length);
  const ds = decodeStream(st, ring);
  assert.ok(ds.ok && ds.value.kind === 'user');
  assert.ok(!decodeStream(st, new Keyring([k2])).ok);
  ring.use(k2);
  assert.equal(Array.from(ring.primary() ?? []), Array.from(k2));
  ring.remove(k1);
  assert.is(ring.all().length, 1);
});

test('push/pull stream framing is incremental', () => {
  const pp = encodePushPull({
    join: true,
    nodes: [
      { name: 'a', addr: bytes(127, 0, 0, 1), port: 7946, meta: encodeTags({ role: 'x' }), incarnation: 3, state: 0, vsn: bytes(1, 5, 2, 2, 5, 4) },
      { name: 'b', addr: bytes(127, 0, 0, 2), port: 7946, meta: new Uint8Array(0), incarnation: 1, state: 3, vsn: bytes(1, 5, 2, 2, 5, 4) },
    ],
    userState: bytes(0x57, 1, 2, 3),
  });
  for (const wrapped of [pp, encodeStream(pp, { compress: true })]) {
    for (let i = 0; i < wrapped.length; i++) {
      const f = streamFrameLength(wrapped.subarray(0, i));
      assert.ok(f.ok && f.value === 0, `prefix ${i}`);
    }
    const f = streamFrameLength(wrapped);
    assert.ok(f.ok && f.value === wrapped.length);
    const d = decodeStream(wrapped);
    assert.ok(d.ok && d.value.kind === 'pushPull');
    if (d.ok && d.value.kind === 'pushPull') {
      assert.is(d.value.msg.nodes.length, 2);
      assert.is(d.value.msg.nodes[1]?.state, 3);
      assert.equal(Array.from(d.value.msg.userState), [0x57, 1, 2, 3]);
      assert.is(d.value.msg.join, true);
    }
  }
});

test('serf leave intent and LTime extraction', () => {
  const li = encodeSerfLeaveIntent(5, 'w1');
  assert.is(li[0], 8);
  assert.is(li[1], 0);
  assert.is(serfLTime(li.subarray(1)), 5);
  const ip = encodeIndirectPing({ seqNo: 1, target: bytes(1, 2, 3, 4), port: 1, node: 'n', nack: true });
  const d = decodeMessage(ip);
  assert.ok(d.ok && d.value.kind === 'indirectPing' && d.value.msg.nack);
  const a = decodeMessage(encodeAck({ seqNo: 9, payload: new Uint8Array(0) }));
  assert.ok(a.ok && a.value.kind === 'ack' && a.value.msg.payload.length === 0);
});

test('fuzz: random bytes never throw', () => {
  const ring = new Keyring([new Uint8Array(32)]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      decodePacket(b);
      openPacket(b, ring);
      decodeStream(b);
      streamFrameLength(b);
      decodeValue(b);
      lzwDecode(b, 1 << 16);
      decodeTags(b);
      serfLTime(b);
    }),
    { numRuns: 3000 },
  );
  // mutate valid packets too: flip bytes in a compressed compound
  const base = encodePacket(
    [encodePing({ seqNo: 1, node: 'n' }), encodeAlive({ incarnation: 1, node: 'n', addr: bytes(1, 2, 3, 4), port: 1, meta: encodeTags({}), vsn: bytes(1, 5, 2, 2, 5, 4) })],
    { compress: true },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
      const m = base.slice();
      m[i] = v;
      decodePacket(m);
      decodeStream(m);
    }),
    { numRuns: 2000 },
  );
});

test('one decompression budget per packet: a compound of 34 × 1 MiB bombs inflates at most 1 MiB', () => {
  const bomb = encodeCompress(new Uint8Array(1 << 20)); // 1 MiB of zeros, LZW-compressed
  const dgram = encodeCompound(Array.from({ length: 34 }, () => bomb));
  assert.ok(dgram.length < 65_000, `the attack fits one datagram (${dgram.length} bytes)`);
  const r = decodePacket(dgram);
  assert.ok(r.errors.some((e) => e.includes('budget')), `refused: ${r.errors.slice(0, 3).join('; ')}`);
  assert.ok(r.errors.length >= 33, 'every part after the first is refused');
  // A normal compressed message still decodes.
  const ping = encodeCompress(encodePing({ seqNo: 7, node: 'n1' }));
  const ok = decodePacket(ping);
  assert.is(ok.errors.length, 0, ok.errors.join('; '));
  assert.is(ok.messages.length, 1);
});

test('crc32: slicing-by-8 matches the bitwise definition at every length and offset', () => {
  const bitwise = (d: Uint8Array, f: number, t: number) => {
    let c = 0xffffffff;
    for (let i = f; i < t; i++) {
      c ^= d[i] as number;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(100), fc.nat(100), (d, a, b) => {
      const f = Math.min(a, d.length);
      const t = Math.max(f, Math.min(b, d.length));
      return crc32(d, f, t) === bitwise(d, f, t);
    }),
  );
});

test('encodePacket: fused compound+CRC path gives the same bytes as the layered encoders', () => {
  const a = encodeAlive({ incarnation: 3, node: 'n1', addr: Uint8Array.from([10, 0, 0, 1]), port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) });
  const d = encodeDead({ incarnation: 4, node: 'n2', from: 'n3' });
  assert.equal(encodePacket([a, d], { crc: true }), encodeCrc(encodeCompound([a, d])));
  assert.equal(encodePacket([d], { crc: true }), encodeCrc(d));
});

test('decodeMessage: repeated broadcasts decode to the same (shared) result; other bytes do not hit it', () => {
  const d1 = encodeDead({ incarnation: 4, node: 'n2', from: 'n3' });
  const d2 = encodeDead({ incarnation: 5, node: 'n2', from: 'n3' });
  const r1 = decodeMessage(d1.slice());
  const r1b = decodeMessage(d1.slice());
  const r2 = decodeMessage(d2);
  assert.ok(r1.ok && r2.ok);
  assert.is(r1b, r1);
  assert.equal(r2, { ok: true, value: { kind: 'dead', msg: { incarnation: 5, node: 'n2', from: 'n3' } } });
  const bad = d1.slice(0, d1.length - 2);
  assert.not.ok(decodeMessage(bad).ok);
  assert.not.ok(decodeMessage(bad).ok);
});

test.run();

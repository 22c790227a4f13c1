/** Gossip wire (memberlist-compatible): UDP packets, TCP stream frames, msgpack, LZW. */
import fc from 'fast-check';
import { MAX_STREAM_SIZE } from '../../../../packages/memberlist/src/wire/types.ts';
import { encodeAck, encodeAlive, encodePing, encodeSuspect, encodeUser } from '../../../../packages/memberlist/src/wire/codec.ts';
import { encodePushPull } from '../../../../packages/memberlist/src/wire/pushpull.ts';
import { decodePacket, encodeCompound, encodeCompress, encodeCrc, encodePacket, openPacket } from '../../../../packages/memberlist/src/wire/packet.ts';
import { decodeStream, encodeStream, encodeStreamUser, streamFrameLength } from '../../../../packages/memberlist/src/wire/stream.ts';
import { lzwDecode, lzwEncode } from '../../../../packages/memberlist/src/wire/lzw.ts';
import { decodeValue, skipValue, encode } from '../../../../packages/memberlist/src/wire/msgpack.ts';
import { Keyring } from '../../../../packages/memberlist/src/wire/crypto.ts';
import { bytesMix, must, mutated, type Harness } from '../lib.ts';

const KEY = new Uint8Array(32).fill(7);
const b = (...a: number[]) => Uint8Array.from(a);
const MAX_UDP_DECOMPRESSED = 1024 * 1024;
const MAX_PACKET_MESSAGES = 1024;

function messages(): Uint8Array[] {
  return [
    encodePing({ seqNo: 1, node: 'n1', sourceAddr: b(127, 0, 0, 2), sourcePort: 7946, sourceNode: 'n2' }),
    encodeAck({ seqNo: 9, payload: b(1, 2, 3) }),
    encodeSuspect({ incarnation: 3, node: 'n3', from: 'n1' }),
    encodeAlive({ incarnation: 4, node: 'n4', addr: b(10, 0, 0, 4), port: 7946, meta: b(0xff, 0x80), vsn: b(1, 5, 5, 2, 5, 4) }),
    encodeUser(b(0x57, 1, 2, 3, 4, 5)),
  ];
}

/** Inputs that decompress hugely: LZW of long zero runs (ratio > 1000:1). */
export function lzwBombs(): Uint8Array[] {
  return [lzwEncode(new Uint8Array(2 * 1024 * 1024)), lzwEncode(new Uint8Array(64 * 1024 * 1024).fill(0x41)), lzwEncode(new Uint8Array(MAX_UDP_DECOMPRESSED + 1))];
}

/** Packets: single, compound, nested compound, compress, CRC, bombs wrapped in compress/compound. */
export function packetSeeds(): Uint8Array[] {
  const m = messages();
  const compound = encodeCompound(m);
  const bomb = encodeCompress(new Uint8Array(4 * 1024 * 1024));
  const nested = encodeCompound([compound, encodeCompress(compound), encodeCrc(compound)]);
  let deep = m[0]!;
  for (let i = 0; i < 8; i++) deep = encodeCompound([deep, deep]);
  const wide = encodeCompound(Array.from({ length: 255 }, () => m[4]!));
  return [
    ...m,
    compound,
    nested,
    deep,
    wide,
    encodePacket(m, { compress: true, crc: true }),
    encodeCrc(encodeCompress(compound)),
    bomb,
    encodeCompound([bomb, bomb, bomb]),
    encodeCompress(encodeCompress(encodeCompress(compound))),
  ];
}

export const gossipPacket: Harness = {
  name: 'gossip-packet',
  what: 'openPacket / decodePacket (UDP 7946) without and with a keyring, on random bytes and mutated single, compound (nested 8 deep, 255 wide), compressed, CRC and encrypted packets and LZW bombs (4 MiB of zeros, compound of three); no throw, ≤ 1024 messages per packet, every bad part reported in errors, unencrypted or forged input refused when a key is set',
  async make() {
    const seeds = packetSeeds();
    const keyring = new Keyring([KEY]);
    const sealed = seeds.slice(0, 8).map((s) => encodePacket([s], { keyring, crc: true }));
    let decoded = 0;
    let errors = 0;
    let refused = 0;
    return {
      // Bombs cost milliseconds each: 1 input in ~50 is one, the rest exercise the parsers.
      arb: fc.tuple(
        fc.oneof({ weight: 35, arbitrary: bytesMix(seeds.slice(0, -3), 200) }, { weight: 14, arbitrary: mutated(sealed) }, { weight: 1, arbitrary: mutated(seeds.slice(-3)) }),
        fc.boolean(),
      ),
      check([p, withKey]: [Uint8Array, boolean]) {
        const r = withKey ? openPacket(p, keyring) : openPacket(p);
        if (!r.ok) {
          must(withKey, 'openPacket without a key returned an error instead of a decode');
          refused++;
          return;
        }
        must(r.value.messages.length <= MAX_PACKET_MESSAGES, `${r.value.messages.length} messages from one packet`);
        decoded += r.value.messages.length;
        errors += r.value.errors.length;
      },
      counts: () => ({ messages: decoded, errors, refusedByCrypto: refused }),
      after: (c) => must((c.errors ?? 0) > 0 && (c.refusedByCrypto ?? 0) > 0, 'errors/refusals did not move'),
    };
  },
};

export const gossipLzw: Harness = {
  name: 'gossip-lzw',
  what: 'lzwDecode on random codes and mutated encodings of text, zero runs and bombs (2 MiB, 64 MiB, 1 MiB+1 of one byte) with output caps of 1 KiB / 64 KiB / 1 MiB; no throw, output never over the cap, over-cap input refused',
  async make() {
    const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog '.repeat(40));
    const seeds = [lzwEncode(text), lzwEncode(new Uint8Array(5000)), lzwEncode(b(1, 2, 3))];
    const bombs = lzwBombs();
    let ok = 0;
    let capped = 0;
    let outBytes = 0;
    return {
      arb: fc.tuple(fc.oneof({ weight: 30, arbitrary: bytesMix(seeds, 256) }, { weight: 1, arbitrary: mutated(bombs) }), fc.constantFrom(1024, 64 * 1024, MAX_UDP_DECOMPRESSED)),
      check([input, cap]: [Uint8Array, number]) {
        const r = lzwDecode(input, cap);
        if (r.ok) {
          must(r.value.length <= cap, `lzwDecode produced ${r.value.length} bytes over the ${cap}-byte cap`);
          ok++;
          outBytes += r.value.length;
        } else capped++;
      },
      counts: () => ({ ok, refused: capped, outMB: Math.round(outBytes / 1024 / 1024) }),
      after: (c) => must((c.refused ?? 0) > 0, 'no input was refused'),
    };
  },
};

export const gossipStream: Harness = {
  name: 'gossip-stream',
  what: 'streamFrameLength + decodeStream (TCP 7946 push/pull, user, ping, compressed, encrypted frames) without and with a keyring, on random and mutated frames incl. a push/pull claiming 2^32 nodes and compressed bombs; no throw, frame length ≤ 20 MiB, decode only of complete frames',
  async make() {
    const keyring = new Keyring([KEY]);
    const pp = encodePushPull({ join: true, nodes: [{ name: 'n1', addr: b(10, 0, 0, 1), port: 7946, meta: b(0xff), incarnation: 1, state: 0, vsn: b(1, 5, 5, 2, 5, 4) }], userState: b(1, 2, 3) });
    const plain = [pp, encodeStreamUser(b(1, 2, 3, 4)), encodePing({ seqNo: 2, node: 'n', sourceAddr: b(1, 1, 1, 1), sourcePort: 1, sourceNode: 'm' }), encodeStream(pp, { compress: true })];
    const bomb = encodeStream(new Uint8Array(8 * 1024 * 1024), { compress: true });
    const enc = plain.map((p) => encodeStream(p, { keyring, compress: true }));
    let complete = 0;
    let decoded = 0;
    let refused = 0;
    return {
      arb: fc.tuple(fc.oneof({ weight: 400, arbitrary: bytesMix([...plain, ...enc], 200) }, { weight: 1, arbitrary: mutated([bomb]) }), fc.boolean()),
      check([f, withKey]: [Uint8Array, boolean]) {
        const l = streamFrameLength(f);
        if (l.ok) {
          must(l.value >= 0 && l.value <= f.length && l.value <= MAX_STREAM_SIZE + 5, `frame length ${l.value} for ${f.length} bytes`);
          if (l.value > 0) complete++;
        }
        const r = withKey ? decodeStream(f, keyring) : decodeStream(f);
        if (r.ok) decoded++;
        else refused++;
      },
      counts: () => ({ complete, decoded, refused }),
      after: (c) => must((c.refused ?? 0) > 0 && (c.decoded ?? 0) > 0, 'one outcome only'),
    };
  },
};

export const gossipMsgpack: Harness = {
  name: 'gossip-msgpack',
  what: 'the gossip msgpack reader (decodeValue, skipValue) on random and mutated values incl. str32/bin32/array32/map32 headers claiming 4 GiB; no throw, the end offset never past the buffer',
  async make() {
    const seeds = [
      encode({ Node: 'n1', SeqNo: 1, Addr: b(1, 2, 3, 4), Meta: b(), Tags: { a: 'b' }, List: [1, 2, [3, { x: true }]] }),
      b(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61),
      b(0xc6, 0xff, 0xff, 0xff, 0xff, 0x00),
      b(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01),
      b(0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61, 0x01),
      Uint8Array.from({ length: 2000 }, () => 0x91),
      ...messages(),
    ];
    let ok = 0;
    let refused = 0;
    return {
      arb: bytesMix(seeds, 128),
      check(p: Uint8Array) {
        const r = decodeValue(p, 0);
        const s = skipValue(p, 0);
        if (r.ok) {
          must(r.value.end <= p.length, `decodeValue end ${r.value.end} > ${p.length}`);
          ok++;
        } else refused++;
        if (s.ok) must(s.value <= p.length, `skipValue end ${s.value} > ${p.length}`);
      },
      counts: () => ({ ok, refused }),
    };
  },
};

/**
 * Cost of one decompression-amplified UDP packet: compound → compress → compound of 255
 * compressed 1 MiB runs. Not a fuzz run: one packet, timed.
 */
export function amplificationPacket(): { packet: Uint8Array; describe: string } {
  const part = encodeCompress(new Uint8Array(MAX_UDP_DECOMPRESSED));
  const wide = Math.min(255, Math.floor(0xffff / (part.length + 2)));
  let inner = encodeCompress(encodeCompound(Array.from({ length: wide }, () => part)));
  let wideInner = wide;
  // The compressed inner compound must fit a compound part (≤ 65535 bytes).
  while (inner.length > 0xffff && wideInner > 1) inner = encodeCompress(encodeCompound(Array.from({ length: --wideInner }, () => part)));
  const k = Math.max(1, Math.min(255, Math.floor(60_000 / (inner.length + 2))));
  return {
    packet: encodeCompound(Array.from({ length: k }, () => inner)),
    describe: `compound of ${k} × compress(compound of ${wideInner} × compress(1 MiB zeros, ${part.length} B)) = ${k * wideInner} MiB to inflate`,
  };
}

export { decodePacket };

/**
 * The vxlan data path's userspace TSO/GRO (plugins/datapath/vxlan/src/gso.ts) on random and
 * mutated GRO trains and TSO super-frames, IPv4 and IPv6. Input: 2 bytes of segment size, then
 * the bytes (a train for coalesceTcp, a virtio header + frame for segmentTcp and rxVnetHeader).
 */
import { coalesceTcp, newSegOut, rxVnetHeader, segmentTcp } from '../../../../plugins/datapath/vxlan/src/gso.ts';
import { fold, readU16, sum16, writeU16 } from '../../../../plugins/datapath/vxlan/src/frames.ts';
import { tcpChecksumOk, tsoSuperFrame } from '../../../../plugins/datapath/vxlan/src/gso-frames.ts';
import { bytesMix, must, type Harness } from '../lib.ts';

const PAD = 0xa5;
const ETH = 14;

/** A TSO super-frame (virtio header + Ethernet + IP + TCP with 12 bytes of options + payload). */
const superFrame = (v6: boolean, payload: number, mss: number): Uint8Array => tsoSuperFrame({ v6, payload, mss, seq: 0xffffff00, flowLabel: 7, fill: [7, 3] });

/** The GRO train segmentTcp makes of `sf`, behind its 2-byte segment size. */
function trainSeed(sf: Uint8Array): Uint8Array {
  const b = new Uint8Array(sf.length + 70000);
  b.set(sf);
  const r = newSegOut();
  if (!segmentTcp(b, 10, sf.length - 10, 42, sf.length + 64, r)) throw new Error('gso harness: seed did not segment');
  const out = new Uint8Array(2 + r.total);
  writeU16(out, 0, r.size);
  out.set(b.subarray(sf.length + 64, sf.length + 64 + r.total), 2);
  return out;
}

const withSize = (seg: number, b: Uint8Array): Uint8Array => {
  const o = new Uint8Array(2 + b.length);
  writeU16(o, 0, seg);
  o.set(b, 2);
  return o;
};

export const GSO_SEEDS: readonly Uint8Array[] = [
  trainSeed(superFrame(false, 4 * 300 - 17, 300)),
  trainSeed(superFrame(true, 4 * 280 - 5, 280)),
  trainSeed(superFrame(false, 2 * 1398, 1398)),
  trainSeed(superFrame(true, 3 * 1378 - 100, 1378)),
  // More datagrams than one gathered writev takes (80 pieces): refused in gather mode only.
  trainSeed(superFrame(false, 90 * 8, 8)),
  trainSeed(superFrame(true, 100 * 6 - 3, 6)),
  withSize(0, superFrame(false, 1000, 300)),
  withSize(0, superFrame(true, 1000, 280)),
];

export const gso: Harness = {
  name: 'gso',
  what: 'coalesceTcp (copy and gather), segmentTcp and rxVnetHeader of the vxlan data path on random and mutated IPv4/IPv6 GRO trains and TSO super-frames; no throw, nothing written outside the train or frame, a refused train left untouched, a coalesced super-frame carries exactly the trains\' payloads in order with a coherent virtio header and a checksum that completes, every segment of segmentTcp has a valid TCP checksum and together they carry exactly the super-frame\'s payload',
  async make() {
    let coalesced = 0;
    let refused = 0;
    let segmented = 0;
    let notSegmented = 0;
    const co = newSegOut();
    const sg = newSegOut();
    const buf = new Uint8Array(2 * 65536 + 4096);
    const ref = new Uint8Array(buf.length);
    buf.fill(PAD);
    /** End of the bytes of buf the last input may have written (the rest is still PAD). */
    let dirty = buf.length;
    return {
      arb: bytesMix(GSO_SEEDS, 256),
      check(input: Uint8Array) {
        if (input.length < 2) return;
        const seg = readU16(input, 0);
        const data = input.subarray(2);
        const len = data.length;
        // coalesceTcp, copy mode then gather mode, on the train 2 bytes into a padded buffer.
        if (seg > 0 && len > 0) {
          for (const gather of [false, true]) {
            buf.fill(PAD, 0, Math.max(dirty, len + 256));
            dirty = len + 256;
            buf.set(data, 2);
            ref.set(buf.subarray(0, len + 256));
            const ok = coalesceTcp(buf, 2, len, seg, co, gather);
            for (let i = len + 2; i < len + 256; i++) must(buf[i] === PAD, `coalesceTcp wrote byte ${i - 2} of a ${len}-byte train`);
            if (!ok) {
              for (let i = 0; i < len + 2; i++) must(buf[i] === ref[i], `coalesceTcp refused but changed byte ${i - 2} (gather=${gather})`);
              refused++;
              continue;
            }
            coalesced++;
            must(co.size === 2 && co.total <= len && co.nparts >= 1 && co.nparts <= co.parts.length >> 1, `coalesceTcp result size ${co.size} total ${co.total} nparts ${co.nparts} for a ${len}-byte train`);
            const pieces: Uint8Array[] = [];
            let total = 0;
            for (let k = 0; k < co.nparts; k++) {
              const at = co.parts[2 * k]!;
              const n = co.parts[2 * k + 1]!;
              must(at >= 0 && n > 0 && at + n <= len + 2, `piece ${k} at ${at} of ${n} bytes outside a ${len}-byte train`);
              pieces.push(buf.subarray(at, at + n));
              total += n;
            }
            must(total === 10 + co.total - 8, `pieces ${total} bytes, super-frame ${co.total - 8} + 10`);
            const fr = new Uint8Array(total);
            let o = 0;
            for (const p of pieces) (fr.set(p, o), (o += p.length));
            const v6 = fr[1] === 4;
            must(fr[0] === 1 && (fr[1] === 1 || v6), `virtio flags ${fr[0]} gso_type ${fr[1]}`);
            const iphl = v6 ? 40 : 20;
            const hl = fr[2]! | (fr[3]! << 8);
            const mss = fr[4]! | (fr[5]! << 8);
            must(hl === seg - 8 - mss && (fr[6]! | (fr[7]! << 8)) === ETH + iphl && fr[8] === 16, `virtio hdr_len ${hl} gso_size ${mss} csum_start ${fr[6]} for segments of ${seg}`);
            // The payload is the train's payloads in order: datagram j's bytes after its headers.
            let w = 10 + hl;
            let same = true;
            for (let q = 0; q < len; q += seg) {
              const end = Math.min(q + seg, len);
              for (let i = q + 8 + hl; i < end; i++) same &&= fr[w++] === data[i];
            }
            must(same, "the super-frame's payload differs from the train's payloads");
            must(w === fr.length, `super-frame ${fr.length} bytes, payloads end at ${w}`);
            const ip = 10 + ETH;
            must(v6 ? readU16(fr, ip + 4) === fr.length - 10 - ETH - 40 : readU16(fr, ip + 2) === fr.length - 10 - ETH, 'IP length of the whole');
            const t = ip + iphl;
            writeU16(fr, t + 16, ~fold(sum16(fr, t, fr.length, 0)) & 0xffff);
            must(tcpChecksumOk(fr, ip, v6), 'the partial checksum does not complete to a valid one');
          }
        }
        // segmentTcp on [virtio header | frame]: output after the frame, in the same buffer.
        if (len > 10) {
          const f = 10;
          const flen = len - 10;
          const out = len + 64;
          buf.fill(PAD, 0, dirty);
          buf.set(data, 0);
          const ok = segmentTcp(buf, f, flen, 42, out, sg, true, false);
          // segmentTcp writes only [out, out + count × size) ⊂ buf (it refuses a train that would not fit).
          dirty = ok ? out + sg.total + 256 : buf.length;
          for (let i = 0; i < len; i++) must(buf[i] === data[i], `segmentTcp changed input byte ${i}`);
          for (let i = len; i < out; i++) must(buf[i] === PAD, `segmentTcp wrote between the frame and the output (byte ${i})`);
          if (!ok) notSegmented++;
          else {
            segmented++;
            must(sg.count >= 1 && out + sg.total <= buf.length, `segmentTcp: ${sg.count} segments, ${sg.total} bytes`);
            const padEnd = Math.min(buf.length, out + sg.total + 256);
            for (let i = out + sg.total; i < padEnd; i++) must(buf[i] === PAD, `segmentTcp wrote past its ${sg.total} bytes (byte ${i - out})`);
            const v6 = readU16(buf, f + 12) === 0x86dd;
            const hl = sg.size - 8 - (buf[4]! | (buf[5]! << 8));
            let k = f + hl;
            for (let s = 0; s < sg.count; s++) {
              const o = out + s * sg.size;
              const end = Math.min(o + sg.size, out + sg.total);
              must(tcpChecksumOk(buf, o + 8 + ETH, v6), `segment ${s} has a bad TCP checksum`);
              let same = true;
              for (let i = o + 8 + hl; i < end; i++) same &&= buf[i] === buf[k++];
              must(same, `segment ${s} payload differs from the super-frame's`);
            }
            must(k === f + flen, `segments carry ${k - f - hl} of ${flen - hl} payload bytes`);
          }
          // rxVnetHeader writes only the virtio header and the L4 checksum field inside the frame.
          buf.fill(PAD, 0, Math.max(dirty, len + 256));
          dirty = len + 256;
          buf.set(data, 0);
          rxVnetHeader(buf, f, flen);
          for (let i = len; i < len + 256; i++) must(buf[i] === PAD, `rxVnetHeader wrote past the frame (byte ${i - f})`);
          let changed = 0;
          for (let i = f; i < len; i++) if (buf[i] !== data[i]) changed++;
          must(changed <= 2, `rxVnetHeader changed ${changed} bytes of the frame`);
        }
      },
      counts: () => ({ coalesced, refused, segmented, notSegmented }),
      after: (c) => must((c.coalesced ?? 0) > 0 && (c.refused ?? 0) > 0 && (c.segmented ?? 0) > 0 && (c.notSegmented ?? 0) > 0, `the mix reached only some outcomes: ${JSON.stringify(c)}`),
    };
  },
};

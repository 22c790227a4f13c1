/** The data-path encryption envelope: CipherSession.open of @weft/sodium. */
import fc from 'fast-check';
import sodium from 'libsodium-wrappers';
import { createCipherWith, libsodiumWrappers } from '@weft/sodium';
import { OVERHEAD, HEADER_BYTES } from '@weft/envelope';
import { testRing } from '@weft/testing';
import { DropReason } from '@weft/kernel';
import { bytesMix, must, toHex, type Harness } from '../lib.ts';

const REASONS = new Set<number>(Object.values(DropReason));

export const sodiumEnvelope: Harness = {
  name: 'sodium-envelope',
  what: 'CipherSession.open (ChaCha20-Poly1305 envelope, SPI + 64-bit sequence + tag) on random bytes and on genuine sealed packets with bits flipped, bytes inserted/deleted, truncated, SPI or sequence rewritten; no throw, every result a DropReason or a length ≤ the output buffer, no modified packet ever opens, drops counted in stats',
  async make() {
    await sodium.ready;
    const ring = testRing(1);
    const tx = createCipherWith(libsodiumWrappers());
    const rx = createCipherWith(libsodiumWrappers());
    tx.setKeyRing(ring);
    rx.setKeyRing(ring);
    const sealer = tx.session('10.0.0.1', '10.0.0.2');
    const opener = rx.session('10.0.0.2', '10.0.0.1');
    const seeds: Uint8Array[] = [];
    for (const size of [0, 1, 14, 60, 98, 1400]) {
      const plain = new Uint8Array(size).map((_, i) => i * 31);
      const out = new Uint8Array(size + OVERHEAD);
      const n = sealer.seal(plain, size, out);
      seeds.push(out.slice(0, n));
    }
    const genuine = new Set(seeds.map(toHex));
    const outBuf = new Uint8Array(2048);
    let opened = 0;
    let dropped = 0;
    const byReason: Record<string, number> = {};
    const name = Object.fromEntries(Object.entries(DropReason).map(([k, v]) => [v, k]));
    return {
      arb: fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 80 }) }, { weight: 6, arbitrary: bytesMix(seeds, 64) }),
      check(b: Uint8Array) {
        const r = opener.open(b, b.length, outBuf);
        must(Number.isInteger(r), `open returned ${r}`);
        if (r >= 0) {
          must(genuine.has(toHex(b)), `a forged packet opened (${r} bytes): ${toHex(b).slice(0, 160)}`);
          must(r === b.length - OVERHEAD, `opened length ${r} for a ${b.length}-byte packet`);
          opened++;
        } else {
          must(REASONS.has(r), `open returned ${r}, not a DropReason`);
          dropped++;
          const k = name[r] ?? String(r);
          byReason[k] = (byReason[k] ?? 0) + 1;
        }
      },
      counts: () => {
        const st = opener.stats;
        return { opened, dropped, ...byReason, statsDropped: Number(st.dropped ?? 0), statsOpened: Number(st.openedPackets ?? 0), headerBytes: HEADER_BYTES };
      },
      after(c) {
        must(c.statsDropped === c.dropped, `the session counted ${c.statsDropped} drops, the harness saw ${c.dropped}`);
        must((c.opened ?? 0) <= genuine.size, `${c.opened} packets opened but only ${genuine.size} genuine ones exist (replay)`);
      },
    };
  },
};

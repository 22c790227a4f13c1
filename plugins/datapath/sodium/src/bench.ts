/**
 * Seal/open throughput per backend, one core, preallocated buffers, the full envelope path
 * (session lookup excluded, SPI match, replay window, counters included).
 *
 *   node --import tsx plugins/datapath/sodium/src/bench.ts [--size=1400] [--ms=1500]   (ms per backend, about 5 s in all)
 *   deno run -A plugins/datapath/sodium/src/bench.ts        (the same under Deno; the runtime is in the summary)
 *
 * Gbit/s counts plaintext bits. `seal+open` is one packet through both ends (a sender and a
 * receiver on the same core), so it is about half of either alone. Each figure is the best of 5
 * rounds (the machine is shared). The last line is a JSON summary.
 */
import { createCipherWith } from './cipher.ts';
import { libsodiumWrappers, loadLibsodiumFfi, loadSodiumNative, sodiumNative, type SodiumAead as Aead } from './backend.ts';
import { testRing } from '@weft/testing';

const arg = (name: string, def: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.slice(name.length + 3));
};
const size = arg('size', 1400);
const ms = arg('ms', 1500);

interface Result {
  backend: string;
  mode: string;
  size: number;
  sealGbps: number;
  openGbps: number;
  sealOpenGbps: number;
  sealOpenPps: number;
}

const ROUNDS = 5;

/** Best of ROUNDS rounds: the machine is shared, and the best round is the least disturbed one. */
function best(budgetMs: number, run: (ms: number) => number): number {
  let top = 0;
  for (let r = 0; r < ROUNDS; r++) top = Math.max(top, run(budgetMs / ROUNDS));
  return top;
}

function timeLoop(budgetMs: number, body: (n: number) => void): number {
  // Batches of 256 between clock reads; returns packets per second.
  const batch = 256;
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < budgetMs) {
    body(batch);
    n += batch;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

function bench(aead: Aead): Result {
  const x = createCipherWith(aead);
  const y = createCipherWith(aead);
  x.setKeyRing(testRing(1));
  y.setKeyRing(testRing(1));
  const tx = x.session('x', 'y');
  const rx = y.session('y', 'x');
  const plain = new Uint8Array(size).map((_, i) => i);
  const sealed = new Uint8Array(size + x.overhead);
  const out = new Uint8Array(size);
  // Sealed packets for the open-only loop: a ring of distinct sequence numbers.
  const pool = Array.from({ length: 1024 }, () => new Uint8Array(size + x.overhead));
  const bits = size * 8;

  const sealOpen = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const w = tx.seal(plain, size, sealed);
      if (rx.open(sealed, w, out) !== size) throw new Error('bench: open failed');
    }
  };
  sealOpen(2000); // warm-up (JIT, WASM tier-up)
  const sealPps = best(ms / 3, (b) =>
    timeLoop(b, (n) => {
      for (let i = 0; i < n; i++) tx.seal(plain, size, sealed);
    }),
  );
  // Open-only: seal a pool of distinct packets untimed, then time opening them in order.
  const openPps = best(ms / 3, (b) => {
    let opened = 0;
    let spent = 0;
    while (spent < b) {
      for (const q of pool) tx.seal(plain, size, q);
      const t0 = performance.now();
      for (const q of pool) if (rx.open(q, q.length, out) !== size) throw new Error('bench: open failed');
      spent += performance.now() - t0;
      opened += pool.length;
    }
    return (opened * 1000) / spent;
  });
  const sealOpenPps = best(ms / 3, (b) => timeLoop(b, sealOpen));
  return {
    backend: aead.name,
    mode: aead.mode,
    size,
    sealGbps: +((sealPps * bits) / 1e9).toFixed(3),
    openGbps: +((openPps * bits) / 1e9).toFixed(3),
    sealOpenGbps: +((sealOpenPps * bits) / 1e9).toFixed(3),
    sealOpenPps: Math.round(sealOpenPps),
  };
}

const aeads: Aead[] = [];
const native = await loadSodiumNative();
if (native instanceof Error) console.log(`sodium-native: not loadable here (${native.message.split('\n')[0]})`);
else aeads.push(sodiumNative(native));
const ffi = await loadLibsodiumFfi();
if (ffi instanceof Error) console.log(`libsodium-ffi: not loadable here (${ffi.message.split('\n')[0]})`);
else aeads.push(ffi);
aeads.push(libsodiumWrappers('wasm-heap'), libsodiumWrappers('api'));

const results: Result[] = [];
for (const a of aeads) {
  const r = bench(a);
  results.push(r);
  console.log(
    `${`${r.backend} (${r.mode})`.padEnd(32)} ${size} B  seal ${r.sealGbps.toFixed(2)} Gbit/s  open ${r.openGbps.toFixed(2)} Gbit/s  seal+open ${r.sealOpenGbps.toFixed(2)} Gbit/s (${r.sealOpenPps} pkt/s)`,
  );
}
const runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';
console.log(JSON.stringify({ bench: 'sodium', runtime, size, ms, rounds: ROUNDS, results }));

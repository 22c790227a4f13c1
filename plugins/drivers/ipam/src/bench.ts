/**
 * IPAM benchmark: `node --import tsx plugins/drivers/ipam/src/bench.ts` (from the repo root).
 *
 * 1. Allocator throughput on a /8 (2^24 addresses): allocate + release pairs per second, for
 *    first-free and serial allocation, on an empty and on a randomly half-full pool.
 * 2. The same through IpamState (parsing and formatting addresses) and through the kernel
 *    (io-ts decoding, one checksummed store write per call).
 * 3. Persisted bytes per pool (everything the store holds for it), against libnetwork's bitseq
 *    (12 bytes per run of identical 32-bit words) and a raw bitmap.
 * 4. Exhausting a /16 through the kernel ends in the clear error.
 * The last line is a one-line JSON summary for the bench runner.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, type WeftError } from '@weft/kernel';
import { AddressBitmap } from './bitmap.ts';
import { ipamPlugin, stateOptions } from './plugin.ts';
import { IpamState } from './state.ts';

const SIZE8 = 1 << 24;
const now = () => performance.now();
let seed = 0x2545f491;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};

function slash8(): AddressBitmap {
  const b = new AddressBitmap(BigInt(SIZE8));
  b.set(0);
  b.set(SIZE8 - 1);
  return b;
}

/** Runs `pair` for about `ms` milliseconds; returns pairs per second. */
function rate(ms: number, pair: () => void): number {
  let n = 0;
  const t0 = now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10000; i++) pair();
    n += 10000;
    t = now();
  }
  return Math.round((n * 1000) / (t - t0));
}

const out: Record<string, number | string> = {};
const line = (label: string, v: number | string, unit = '') => console.log(`${label.padEnd(64)} ${typeof v === 'number' ? v.toLocaleString('en-US') : v}${unit}`);

// --- 1. the allocator ---------------------------------------------------------------------
{
  const b = slash8();
  const hi = SIZE8 - 2;
  out.bitmap_first_free_empty_pairs_per_s = rate(800, () => {
    const a = b.findFree(1, hi);
    b.set(a);
    b.unset(a);
  });
  line('/8 empty: first-free allocate+release pairs/s', out.bitmap_first_free_empty_pairs_per_s);

  // Half full at random: 8M random addresses, then release a random held one + allocate.
  const held = new Int32Array(SIZE8 / 2);
  let h = 0;
  while (h < held.length) {
    const x = 1 + Math.floor(rand() * hi);
    if (b.set(x)) held[h++] = x;
  }
  out.bitmap_first_free_half_full_random_pairs_per_s = rate(800, () => {
    const i = Math.floor(rand() * held.length);
    b.unset(held[i]!);
    const a = b.findFree(1, hi);
    b.set(a);
    held[i] = a;
  });
  line('/8 half full (random): release random + first-free alloc pairs/s', out.bitmap_first_free_half_full_random_pairs_per_s);

  let cursor = 1;
  out.bitmap_serial_half_full_random_pairs_per_s = rate(800, () => {
    const a = b.findFree(1, hi, cursor);
    b.set(a);
    cursor = a + 1 > hi ? 1 : a + 1;
    const i = Math.floor(rand() * held.length);
    b.unset(held[i]!);
    held[i] = a;
  });
  line('/8 half full (random): serial alloc + release random pairs/s', out.bitmap_serial_half_full_random_pairs_per_s);
}

// --- 2. through the state and the kernel ---------------------------------------------------
{
  const st = new IpamState(stateOptions('ipam', {}, () => []));
  const { PoolID } = st.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.0.0.0/8' });
  for (let i = 0; i < 100000; i++) st.requestAddress({ PoolID });
  st.discardPending();
  out.state_pairs_per_s = rate(800, () => {
    const { Address } = st.requestAddress({ PoolID, Options: { 'com.docker.network.ipam.serial': 'true' } });
    st.releaseAddress({ PoolID, Address });
    st.discardPending();
  });
  line('/8 IpamState (strings in/out, serial): request+release pairs/s', out.state_pairs_per_s);
}

const bitseqBytes = (b: AddressBitmap): number => {
  // libnetwork bitseq: one (uint32 block, uint64 count) = 12 bytes per run of identical words.
  let runs = 0;
  let prev = -1;
  const words = Math.ceil(Number(b.size) / 32);
  for (let ci = 0; ci < b.chunkCount; ci++) {
    const ch = b.chunk(ci);
    const n = Math.min(2048, words - ci * 2048);
    for (let w = 0; w < n; w++) {
      const x = ch === undefined ? 0 : ch.words[w]!;
      if (x !== prev) runs++;
      prev = x;
    }
  }
  return runs * 12;
};

async function kernelRun(): Promise<void> {
  const backing = new Map<string, Uint8Array>();
  const k = createKernel({ store: memoryStore(backing) });
  const r = await k.load([{ plugin: ipamPlugin() }]);
  if (isLeft(r)) throw new Error(JSON.stringify(r.left));
  const call = async <T>(m: string, i: unknown): Promise<T> => {
    const x = await k.invoke<T>('ipam', `IpamDriver.${m}`, i);
    if (isLeft(x)) throw new Error(x.left.message);
    return x.right;
  };
  const split = (poolId: string): { meta: number; bitmap: number } => {
    const st = [...backing.entries()];
    // keys are ipam/s/<gen>/...; find the gen through the meta that names this pool
    const pool = poolId.split('/').slice(1).join('/');
    const meta = st.find(([k, v]) => k.endsWith('/m') && new TextDecoder().decode(v).includes(`"pool":"${pool}"`));
    if (meta === undefined) return { meta: 0, bitmap: 0 };
    const prefix = meta[0].slice(0, -1);
    const bitmap = st.filter(([k]) => k.startsWith(`${prefix}c/`)).reduce((a, [, v]) => a + v.length, 0);
    return { meta: meta[1].length, bitmap };
  };

  // Throughput through the kernel: decode, handler, one store put, encode.
  const p = await call<{ PoolID: string }>('RequestPool', { AddressSpace: 'GlobalDefault', Pool: '10.0.0.0/8' });
  const empty8 = split(p.PoolID);
  out.persisted_bytes_empty_slash8 = empty8.meta + empty8.bitmap;
  const t0 = now();
  let n = 0;
  while (now() - t0 < 800) {
    for (let i = 0; i < 500; i++) {
      const a = await call<{ Address: string }>('RequestAddress', { PoolID: p.PoolID, Address: '', Options: { 'com.docker.network.ipam.serial': 'true' } });
      await call('ReleaseAddress', { PoolID: p.PoolID, Address: a.Address.split('/')[0] });
    }
    n += 500;
  }
  out.kernel_pairs_per_s = Math.round((n * 1000) / (now() - t0));
  line('/8 through the kernel (decode + persist), request+release pairs/s', out.kernel_pairs_per_s);

  // Bytes per pool.
  line('persisted bytes, empty /8 (meta only: no chunk is written until used)', out.persisted_bytes_empty_slash8, ' B');
  const e8 = slash8();
  line('  libnetwork bitseq, empty /8 (12 B per run)', bitseqBytes(e8), ' B');

  const half = await call<{ PoolID: string }>('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.1.0.0/16' });
  for (let i = 0; i < 32767; i++) await call('RequestAddress', { PoolID: half.PoolID, Address: '' });
  const halfSplit = split(half.PoolID);
  out.persisted_bytes_half_full_slash16 = halfSplit.meta + halfSplit.bitmap;
  const hb = new AddressBitmap(65536n);
  for (let i = 0; i < 32768; i++) hb.set(i);
  hb.set(65535);
  line('persisted bytes, half-full /16 (sequential)', out.persisted_bytes_half_full_slash16, ' B');
  line('  of which pool meta / bitmap chunk records', `${halfSplit.meta} B / ${halfSplit.bitmap} B`);
  line('  libnetwork bitseq, same bitmap', bitseqBytes(hb), ' B');

  const frag = await call<{ PoolID: string }>('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.2.0.0/16' });
  const fb = new AddressBitmap(65536n);
  fb.set(0);
  fb.set(65535);
  for (let i = 1; i < 65535; i++) {
    if (rand() < 0.5) {
      const a = `10.2.${i >> 8}.${i & 255}`;
      await call('RequestAddress', { PoolID: frag.PoolID, Address: a });
      fb.set(i);
    }
  }
  const fragSplit = split(frag.PoolID);
  out.persisted_bytes_fragmented_slash16 = fragSplit.meta + fragSplit.bitmap;
  line('persisted bytes, fragmented /16 (each address 50 % at random)', out.persisted_bytes_fragmented_slash16, ' B');
  line('  of which pool meta / bitmap chunk records', `${fragSplit.meta} B / ${fragSplit.bitmap} B`);
  line('  libnetwork bitseq, same bitmap', bitseqBytes(fb), ' B');
  line('  raw bitmap (1 bit per address)', 8192, ' B');
  out.bitseq_bytes_empty_slash8 = bitseqBytes(e8);
  out.bitseq_bytes_half_full_slash16 = bitseqBytes(hb);
  out.bitseq_bytes_fragmented_slash16 = bitseqBytes(fb);

  // Exhaustion of a /16 through the kernel.
  const ex = await call<{ PoolID: string }>('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.3.0.0/16' });
  const t1 = now();
  let got = 0;
  let err: WeftError | undefined;
  for (;;) {
    const x = await k.invoke('ipam', 'IpamDriver.RequestAddress', { PoolID: ex.PoolID, Address: '' });
    if (isLeft(x)) {
      err = x.left;
      break;
    }
    got++;
  }
  line(`exhausting a /16: ${got} addresses in ${Math.round(now() - t1)} ms, then`, `${err.category} ${err.code}`);
  console.log(`  "${err.message}"`);
  out.exhaust_slash16_addresses = got;
  out.exhaust_slash16_error = err.code;
  await k.stop();
}

await kernelRun();
console.log(JSON.stringify({ bench: 'ipam', ...out }));

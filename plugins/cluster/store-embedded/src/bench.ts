/**
 * Transactions per second of the embedded store against the kernel's memoryClusterStore, same run.
 *
 *   node --import tsx plugins/cluster/store-embedded/src/bench.ts [--ms=2000] [--dir=PATH]
 *
 * Two shapes, each at 1, 16 and 64 transactions in flight:
 * - `create`: create-if-absent of one key with a 300-byte value (compare createRevision = 0, put);
 * - `attach`: what an attach writes — compare that an address and an endpoint are free, put the
 *   address, the endpoint (300 bytes) and an index entry, in one transaction.
 * The embedded store answers each write once it is flushed to disk (fdatasync through LMDB), so
 * the figures are durable commits; lmdb-js groups the transactions in flight into one commit.
 * The database goes in --dir (default: the OS temp dir — check it is a real disk, not tmpfs).
 * Each figure is the best of 3 rounds (the machine is shared). The last line is a JSON summary.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { memoryClusterStore, type ClusterStore, type TxnRequest } from '@weft/kernel';
import { openEmbeddedStore } from './store.ts';

const arg = (name: string): string | undefined => process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
const ms = Number(arg('ms') ?? '2000');
const baseDir = arg('dir') ?? os.tmpdir();
const ROUNDS = 3;

const value = new Uint8Array(300).map((_, i) => (i * 13) & 255);
const shapes: Record<string, (i: number) => TxnRequest> = {
  create: (i) => ({
    compare: [{ key: `bench/${i}`, target: 'createRevision', result: '=', value: 0 }],
    success: [{ op: 'put', key: `bench/${i}`, value }],
  }),
  attach: (i) => ({
    compare: [
      { key: `net/n1/addr/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, target: 'createRevision', result: '=', value: 0 },
      { key: `net/n1/ep/ep${i}`, target: 'createRevision', result: '=', value: 0 },
    ],
    success: [
      { op: 'put', key: `net/n1/addr/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, value: value.subarray(0, 40) },
      { op: 'put', key: `net/n1/ep/ep${i}`, value },
      { op: 'put', key: `node/host1/ep/ep${i}`, value: value.subarray(0, 20) },
    ],
  }),
};

/** Transactions per second over `budget` ms with `inflight` concurrent clients. */
async function run(store: ClusterStore, shape: (i: number) => TxnRequest, inflight: number, budget: number, start: number): Promise<{ rate: number; next: number }> {
  let i = start;
  let done = 0;
  let lost = 0;
  const t0 = performance.now();
  const end = t0 + budget;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end) {
        const r = await store.txn(shape(i++));
        if (!r.succeeded) lost++;
        done++;
      }
    }),
  );
  if (lost > 0) throw new Error(`${lost} create-if-absent transactions failed: keys were reused`);
  return { rate: (done * 1000) / (performance.now() - t0), next: i };
}

interface Row {
  shape: string;
  inflight: number;
  memory: number;
  embedded: number;
  ratio: number;
}

const dir = fs.mkdtempSync(path.join(baseDir, 'weft-bench-store-embedded-'));
const rows: Row[] = [];
try {
  const mem = memoryClusterStore();
  const emb = await openEmbeddedStore({ path: path.join(dir, 'cluster-store') });
  let next = 0;
  console.log(`database: ${path.join(dir, 'cluster-store')}; ${ms} ms per figure, best of ${ROUNDS}`);
  console.log('shape   in flight   memory txn/s   embedded txn/s   embedded/memory');
  for (const [name, shape] of Object.entries(shapes)) {
    for (const inflight of [1, 16, 64]) {
      let m = 0;
      let e = 0;
      for (let r = 0; r < ROUNDS; r++) {
        const a = await run(mem, shape, inflight, ms / ROUNDS, next);
        next = a.next;
        m = Math.max(m, a.rate);
        const b = await run(emb, shape, inflight, ms / ROUNDS, next);
        next = b.next;
        e = Math.max(e, b.rate);
      }
      const row = { shape: name, inflight, memory: Math.round(m), embedded: Math.round(e), ratio: Number((e / m).toFixed(4)) };
      rows.push(row);
      console.log(`${name.padEnd(8)}${String(inflight).padStart(9)}${String(row.memory).padStart(15)}${String(row.embedded).padStart(17)}${row.ratio.toFixed(3).padStart(18)}`);
    }
  }
  const st = await emb.status();
  const size = fs.statSync(path.join(dir, 'cluster-store', 'data.mdb')).size;
  console.log(`embedded: ${st.revision - 1} revisions written, history from ${st.compactRevision} (automatic compaction), data.mdb ${(size / 1e6).toFixed(1)} MB`);
  await emb.close();
  await mem.close();
  console.log(JSON.stringify({ unit: 'txn/s', rows }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

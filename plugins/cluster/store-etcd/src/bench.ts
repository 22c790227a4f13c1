/**
 * `npm run bench` (here) or `npm run bench -- store-etcd` (root): create-if-absent transactions per
 * second — compare createRevision = 0, put a ~300-byte value, the shape of an attach's endpoint
 * record — against a 3-member etcd on this machine (real `etcd` processes from the harness), a
 * 1-member one, and the kernel's memoryClusterStore in the same run, with the ratio. Each level:
 * 1 and 16 transactions in flight, unique keys, for a fixed time after a warm-up; also the latency
 * of single transactions (median, p99). Skips with a message when etcd is not installed.
 */
import * as os from 'node:os';
import { memoryClusterStore, type ClusterStore } from '@weft/kernel';
import { etcdSkipReason, startEtcdCluster, type EtcdCluster } from '@weft/testing';
import { openEtcdStore } from './store.ts';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 2 : 6;
const WARMUP_MS = quick ? 300 : 1000;
const VALUE = new TextEncoder().encode(JSON.stringify({ ID: 'x'.repeat(64), Network: 'n'.repeat(25), Node: 'h1', Addr: '10.0.0.2/24', MAC: '02:42:0a:00:00:02', Pad: 'p'.repeat(140) }));

interface Result {
  readonly txnsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function run(store: ClusterStore, tag: string, inFlight: number): Promise<Result> {
  let n = 0;
  const lat: number[] = [];
  const one = async (measure: boolean) => {
    const key = `bench/${tag}/${inFlight}/${n++}`;
    const t0 = performance.now();
    const r = await store.txn({ compare: [{ key, target: 'createRevision', result: '=', value: 0 }], success: [{ op: 'put', key, value: VALUE }] });
    if (!r.succeeded) throw new Error(`create-if-absent of a fresh key ${key} failed`);
    if (measure) lat.push(performance.now() - t0);
  };
  const loop = async (until: number, measure: boolean) => {
    while (performance.now() < until) await one(measure);
  };
  const warm = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: inFlight }, () => loop(warm, false)));
  const start = performance.now();
  const end = start + SECONDS * 1000;
  await Promise.all(Array.from({ length: inFlight }, () => loop(end, true)));
  const took = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { txnsPerSec: lat.length / took, p50Ms: q(0.5), p99Ms: q(0.99) };
}

const fmt = (r: Result) => `${Math.round(r.txnsPerSec).toLocaleString('en-US').padStart(9)} txns/s   p50 ${r.p50Ms.toFixed(2).padStart(6)} ms   p99 ${r.p99Ms.toFixed(2).padStart(6)} ms`;

console.log(`create-if-absent txns (${VALUE.length}-byte values), ${SECONDS} s per level after ${WARMUP_MS} ms warm-up; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; etcd on this machine's disk (${os.tmpdir()})`);
const summary: Record<string, number> = {};
const skip = etcdSkipReason();
const levels = [1, 16];

const memory = memoryClusterStore();
const mem: Record<number, Result> = {};
for (const c of levels) {
  mem[c] = await run(memory, 'memory', c);
  console.log(`memoryClusterStore, ${String(c).padStart(2)} in flight: ${fmt(mem[c]!)}`);
  summary[`memoryTxnsPerSec${c}`] = Math.round(mem[c]!.txnsPerSec);
}
await memory.close();

if (skip !== undefined) {
  console.log(`etcd: skipped (${skip})`);
} else {
  for (const members of [3, 1] as const) {
    let etcd: EtcdCluster | undefined;
    let store: ClusterStore | undefined;
    try {
      etcd = await startEtcdCluster({ members, tag: 'bench' });
      store = await openEtcdStore({ url: etcd.url });
      for (const c of levels) {
        const r = await run(store, `etcd${members}`, c);
        console.log(`etcd ${members} member${members > 1 ? 's' : ' '},   ${String(c).padStart(2)} in flight: ${fmt(r)}   (${(r.txnsPerSec / mem[c]!.txnsPerSec).toFixed(4)} × memory)`);
        summary[`etcd${members}TxnsPerSec${c}`] = Math.round(r.txnsPerSec);
        summary[`etcd${members}P50Ms${c}`] = Number(r.p50Ms.toFixed(2));
        summary[`etcd${members}RatioToMemory${c}`] = Number((r.txnsPerSec / mem[c]!.txnsPerSec).toFixed(4));
      }
    } finally {
      await store?.close();
      await etcd?.stop();
    }
  }
}
console.log(JSON.stringify(summary));

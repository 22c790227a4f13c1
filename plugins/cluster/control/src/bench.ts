/**
 * `node --import tsx plugins/cluster/control/src/bench.ts [--quick] [--n N] [--rounds R] [--only attach|failover] [--backends memory,embedded,etcd]`
 * (also `npm run bench -- control`): the control plane's attach path and failover, per cluster-store backend.
 *
 * - attach: N attaches (default 10,000) of bare endpoints of one host to one network through a
 *   manager, 16 in flight, with an IPAM block grant every 16 attaches as the engine does; prints
 *   the rate per 1,000, the last 1,000 against the first 1,000, and store transactions and bytes
 *   per attach. "v1" is what the single-record design of earlier versions wrote per attach: the
 *   whole cluster record, measured as the size of that record at each point of this same run.
 * - failover: three managers on one store; the leader is cut off without a word (no lease
 *   revoke: a crash); measured are the first write accepted by another manager and the time until
 *   another manager holds the leader lease. Median of 10 rounds (3 with --quick; --rounds R).
 *
 * Backends: `memory` (the kernel's reference, the baseline of every ratio), `embedded` (the
 * @weft/store-embedded plugin, in a temp dir) and `etcd` (@weft/store-etcd against a 3-member
 * etcd started here by @weft/testing; needs the etcd binary). A backend whose package or binary
 * is missing is reported as skipped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createKernel, memoryClusterStore, memoryStore, type ClusterStore, type PluginDefinition } from '@weft/kernel';
import { ipamBlockAllocator } from '@weft/ipam';
import { cuttable } from './_cuttable.ts';
import { Manager, type ManagerOptions } from './manager.ts';
import * as S from './state.ts';
import { newId, sodium, toB64 } from './util.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const opt = (k: string) => {
  const i = argv.indexOf(`--${k}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const N = Number(opt('n') ?? (quick ? 2000 : 10_000));
const ROUNDS = Number(opt('rounds') ?? (quick ? 3 : 10));
const only = opt('only');
if (only !== undefined && only !== 'attach' && only !== 'failover') throw new Error(`--only is "attach" or "failover", not "${only}"`);
const wanted = (opt('backends') ?? 'memory,embedded,etcd').split(',');
const plat = { OS: 'linux', Architecture: 'x86_64' };

interface Backend {
  readonly name: string;
  readonly url: string;
  /** A fresh, empty store (a new handle each call for the same store when `shared`). */
  open(): Promise<ClusterStore>;
  /** Wipes the store between scenarios. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

async function viaPlugin(plugin: PluginDefinition, service: string, url: string): Promise<{ open: () => Promise<ClusterStore>; stop: () => Promise<void> }> {
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([{ plugin }]);
  if (r._tag === 'Left') throw new Error(r.left.map((e) => e.message).join('; '));
  const backend = k.service(service) as { open(o: { url: string }): Promise<ClusterStore> };
  return { open: () => backend.open({ url }), stop: () => k.stop() };
}

async function backends(): Promise<{ list: Backend[]; skipped: Record<string, string> }> {
  const list: Backend[] = [];
  const skipped: Record<string, string> = {};
  if (wanted.includes('memory')) {
    let store = memoryClusterStore();
    const handles: ClusterStore[] = [];
    list.push({
      name: 'memory',
      url: 'memory://bench',
      open: async () => store,
      reset: async () => {
        await store.close();
        store = memoryClusterStore();
        handles.length = 0;
      },
      close: async () => store.close(),
    });
  }
  if (wanted.includes('embedded')) {
    try {
      const mod = (await import('@weft/store-embedded' as string)) as { embeddedStorePlugin(o: { dir: string }): PluginDefinition };
      let dir = await mkdtemp(path.join(tmpdir(), 'weft-bench-embedded-'));
      let p = await viaPlugin(mod.embeddedStorePlugin({ dir }), 'clusterStore.embedded', 'embedded:');
      let store: ClusterStore | undefined;
      list.push({
        name: 'embedded',
        url: 'embedded:',
        open: async () => (store ??= await p.open()),
        reset: async () => {
          await store?.close();
          store = undefined;
          await p.stop();
          await rm(dir, { recursive: true, force: true });
          dir = await mkdtemp(path.join(tmpdir(), 'weft-bench-embedded-'));
          p = await viaPlugin(mod.embeddedStorePlugin({ dir }), 'clusterStore.embedded', 'embedded:');
        },
        close: async () => {
          await store?.close();
          await p.stop();
          await rm(dir, { recursive: true, force: true });
        },
      });
    } catch (e) {
      skipped.embedded = `@weft/store-embedded not available (${(e as Error).message.split('\n')[0]})`;
    }
  }
  if (wanted.includes('etcd')) {
    try {
      const mod = (await import('@weft/store-etcd' as string)) as { etcdStorePlugin(): PluginDefinition };
      const testing = (await import('@weft/testing' as string)) as { startEtcdCluster?: (o: { members: number }) => Promise<{ url: string; stop(): Promise<void> }> };
      if (testing.startEtcdCluster === undefined) throw new Error('@weft/testing has no startEtcdCluster');
      const etcd = await testing.startEtcdCluster({ members: 3 });
      const p = await viaPlugin(mod.etcdStorePlugin(), 'clusterStore.etcd', etcd.url);
      const opened: ClusterStore[] = [];
      list.push({
        name: 'etcd',
        url: etcd.url,
        open: async () => {
          const s = await p.open();
          opened.push(s);
          return s;
        },
        reset: async () => {
          const s = await p.open();
          await s.txn({ compare: [], success: [{ op: 'deletePrefix', prefix: 'weft/' }] });
          await s.close();
          for (const o of opened.splice(0)) await o.close().catch(() => undefined);
        },
        close: async () => {
          for (const o of opened.splice(0)) await o.close().catch(() => undefined);
          await p.stop();
          await etcd.stop();
        },
      });
    } catch (e) {
      skipped.etcd = `etcd backend not available (${(e as Error).message.split('\n')[0]})`;
    }
  }
  return { list, skipped };
}

function options(cluster: ClusterStore, url: string, extra: Partial<ManagerOptions> = {}): ManagerOptions {
  return { local: memoryStore(), cluster, storeConfig: { URL: url }, shared: true, blocks: ipamBlockAllocator(), ...extra };
}

/** What the v1 design rewrote on every attach: the whole cluster record with every attachment. */
function v1RecordBytes(m: Manager): number {
  const nets = Object.fromEntries(m.listNetworks().map((n) => [n.Id, m.inspectNetwork(n.Id)]));
  const nodes = Object.fromEntries([...m.view.nodes].map(([id, v]) => [id, v.value]));
  return JSON.stringify({ Version: 1, ...m.meta, NodeID: m.nodeId, Nodes: nodes, Networks: nets, Ring: m.view.ring!.value, Seq: 0 }).length;
}

async function attachRun(b: Backend) {
  await b.reset();
  const m = await Manager.init(options(await b.open(), b.url), { host: '127.0.0.1', port: 0, nodeName: 'bench', platform: plat });
  try {
    await m.createNetwork({ Name: 'big', Attachable: true, IPAM: { Config: [{ Subnet: '10.128.0.0/12' }] } });
    const t0 = m.writes.counts.txns;
    const b0 = m.writes.counts.bytes;
    const windows: number[] = [];
    const v1Start = v1RecordBytes(m);
    const start = performance.now();
    let last = start;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        if (i % 16 === 0) await m.requestBlock(m.nodeId, { Network: 'big' });
        await m.attach({ Network: 'big', Sandbox: `ep-${i}` });
        if ((i + 1) % 1000 === 0) {
          const now = performance.now();
          windows.push(1000 / ((now - last) / 1000));
          last = now;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const secs = (performance.now() - start) / 1000;
    const txns = m.writes.counts.txns - t0;
    const bytes = m.writes.counts.bytes - b0;
    // The v1 record grows linearly with the attachments: its mean size over the run.
    const v1Mean = (v1Start + v1RecordBytes(m)) / 2;
    return {
      endpoints: N,
      perSecond: N / secs,
      first1000: windows[0] ?? 0,
      last1000: windows[windows.length - 1] ?? 0,
      lastOverFirst: (windows[windows.length - 1] ?? 0) / (windows[0] ?? 1),
      txnsPerAttach: txns / N,
      bytesPerAttach: bytes / N,
      v1BytesPerAttach: v1Mean,
    };
  } finally {
    await m.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function failoverRun(b: Backend) {
  const firstWrite: number[] = [];
  const newLeader: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await b.reset();
    const handles = [cuttable(await b.open(), 'hang'), cuttable(await b.open(), 'hang'), cuttable(await b.open(), 'hang')];
    const first = await Manager.init(options(handles[0]!, b.url), { host: '127.0.0.1', port: 0, nodeName: 'm1', platform: plat });
    const ms = [first];
    for (let i = 1; i < 3; i++) {
      const id = newId();
      const kp = sodium.crypto_sign_keypair();
      await first.writes.addNode(S.newNodeRecord(id, { Name: `m${i + 1}`, Addr: '127.0.0.1', PublicKey: toB64(kp.publicKey), Platform: plat }, 'manager', Date.now()));
      ms.push(await Manager.join(options(handles[i]!, b.url), { host: '127.0.0.1', port: 0, advertise: '127.0.0.1', nodeId: id, clusterId: first.clusterId, nodeKey: { PublicKey: toB64(kp.publicKey), SecretKey: toB64(kp.privateKey) } }));
    }
    try {
      while (!ms.some((m) => m.isLeader)) await new Promise((r) => setTimeout(r, 10));
      const li = ms.findIndex((m) => m.isLeader);
      const others = ms.filter((_, i) => i !== li);
      handles[li]!.cut();
      const t0 = performance.now();
      await others[0]!.createNetwork({ Name: `after-${round}` });
      firstWrite.push(performance.now() - t0);
      while (!others.some((m) => m.isLeader)) await new Promise((r) => setTimeout(r, 5));
      newLeader.push(performance.now() - t0);
    } finally {
      for (const m of ms) await Promise.race([m.close(), new Promise((r) => setTimeout(r, 200))]);
    }
  }
  return { rounds: ROUNDS, firstWriteMs: median(firstWrite), newLeaderMs: median(newLeader), leaseTtlS: 3, firstWrite, newLeader };
}

const { list, skipped } = await backends();
const out: Record<string, unknown> = { skipped };
let base: Awaited<ReturnType<typeof attachRun>> | undefined;
for (const b of list) {
  if (only !== 'failover') {
    const a = await attachRun(b);
    base ??= a;
    console.log(
      `attach ${b.name.padEnd(9)} ${a.endpoints} endpoints: ${a.perSecond.toFixed(0)}/s overall (${(a.perSecond / base.perSecond).toFixed(2)}x memory); ` +
        `first 1000 ${a.first1000.toFixed(0)}/s, last 1000 ${a.last1000.toFixed(0)}/s (last/first ${a.lastOverFirst.toFixed(2)}); ` +
        `${a.txnsPerAttach.toFixed(3)} txns and ${a.bytesPerAttach.toFixed(0)} bytes per attach (v1 design: 1 write of ${(a.v1BytesPerAttach / 1024).toFixed(1)} KiB per attach)`,
    );
    out[b.name] = { attach: a };
  }
  if (only === 'attach') continue;
  const f = await failoverRun(b);
  console.log(`failover ${b.name.padEnd(7)} median of ${f.rounds}: first write on another manager ${f.firstWriteMs.toFixed(1)} ms after the leader died; new leader after ${f.newLeaderMs.toFixed(0)} ms (lease TTL ${f.leaseTtlS} s); each: ${f.firstWrite.map((x) => x.toFixed(1)).join(' ')} ms / ${f.newLeader.map((x) => x.toFixed(0)).join(' ')} ms`);
  out[b.name] = { ...(out[b.name] as object), failover: f };
}
for (const [k, why] of Object.entries(skipped)) console.log(`${k}: skipped: ${why}`);
for (const b of list) await b.close();
console.log(JSON.stringify(out));
process.exit(0);

/**
 * Three real gossip agents (kernels with the gossip plugin) over UDP+TCP on loopback.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, type GossipKeyRing, type Kernel, type MemberEvent, type TableEvent } from '@weft/kernel';
import { gossipPlugin } from './mod.ts';

const base = 40000 + (process.pid % 2000) * 8;
const addr = (i: number) => `127.0.88.${i + 1}`;
const enc = (s: string) => new TextEncoder().encode(s);

async function agent(i: number, seen: TableEvent[], join: string[] = [], keys?: string[]): Promise<Kernel> {
  const k = createKernel();
  const watcher = definePlugin({ manifest: { name: 'watcher', version: '0', kernel: '*', provides: [] }, events: { table: (e: TableEvent) => void seen.push(e) } });
  const r = await k.load([
    { plugin: gossipPlugin(), config: { name: `n${i}`, bindAddr: addr(i), bindPort: base + i, join, profile: 'local', meta: { weft: '1', os: 'linux' }, ...(keys !== undefined ? { keys } : {}) } },
    { plugin: watcher },
  ]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return k;
}

const waitFor = async (pred: () => boolean, ms: number) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
};

test('real agents: membership, network-scoped tables, events, graceful leave', async () => {
  const seen: TableEvent[][] = [[], [], []];
  const ks: Kernel[] = [];
  try {
    ks.push(await agent(0, seen[0]!));
    ks.push(await agent(1, seen[1]!, [`${addr(0)}:${base}`]));
    ks.push(await agent(2, seen[2]!, [`${addr(0)}:${base}`]));
    const alive = (k: Kernel) => k.service('membership')!.members().filter((m) => m.state === 'alive').length;
    assert.ok(await waitFor(() => ks.every((k) => alive(k) === 3), 10_000), `members: ${ks.map(alive).join(',')}`);
    for (const k of ks) await k.service('tables')!.joinNetwork('net1');
    ks.forEach((k, i) => k.service('tables')!.put('net1', 'endpoints', `e${i}`, enc(`10.0.0.${i + 2}`)));
    assert.ok(await waitFor(() => ks.every((k) => k.service('tables')!.entries('net1', 'endpoints').length === 3), 10_000), 'entries replicated');
    assert.ok(seen[0]!.some((e) => e.type === 'create' && e.entry.key === 'e2' && e.entry.owner === 'n2'), 'events reach other plugins through the kernel');
    await ks[2]!.stop(); // graceful: leave
    assert.ok(await waitFor(() => ks[0]!.service('tables')!.get('net1', 'endpoints', 'e2') === undefined, 10_000), 'a node that left takes its entries with it');
    assert.ok(await waitFor(() => ks[0]!.service('membership')!.members().find((m) => m.name === 'n2')?.state === 'left', 10_000), 'recorded as left');
  } finally {
    for (const k of ks) await k.stop();
  }
});

test('a node without the gossip key cannot join an encrypted cluster', async () => {
  const key = Buffer.alloc(32, 9).toString('base64');
  const other = Buffer.alloc(32, 10).toString('base64');
  const ks: Kernel[] = [];
  try {
    ks.push(await agent(3, [], [], [key]));
    ks.push(await agent(4, [], [`${addr(3)}:${base + 3}`], [key]));
    ks.push(await agent(5, [], [`${addr(3)}:${base + 3}`], [other]));
    const names = (k: Kernel) => k.service('membership')!.members().filter((m) => m.state === 'alive').map((m) => m.name).sort().join(',');
    assert.ok(await waitFor(() => names(ks[0]!) === 'n3,n4', 10_000), names(ks[0]!));
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(names(ks[0]!), 'n3,n4', 'the node with the wrong key is never a member');
    assert.is(names(ks[2]!), 'n5');
    const enc = ks[0]!.service('membership')!.encryption!();
    assert.equal({ encrypted: enc.encrypted, keys: enc.keys, keyEpoch: enc.keyEpoch }, { encrypted: true, keys: 1, keyEpoch: undefined }, 'keys given by hand have no epoch');
    assert.ok(enc.refused.streams + enc.refused.packets > 0, `the wrong-key node's traffic was refused and counted: ${JSON.stringify(enc.refused)}`);
  } finally {
    for (const k of ks) await k.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// The swarm's key ring, as the control plane hands it over (`control.keyring`).

/** The control plane's ring: oldest first, at most three, primary = second newest. */
class Ring {
  keys: { epoch: number; key: Uint8Array }[] = [1, 2, 3].map((epoch) => ({ epoch, key: new Uint8Array(randomBytes(32)) }));
  rotate(): void {
    this.keys = [...this.keys, { epoch: this.keys[this.keys.length - 1]!.epoch + 1, key: new Uint8Array(randomBytes(32)) }].slice(-3);
  }
  /** What `control.keyring` carries: primary first. */
  gossip(): GossipKeyRing {
    const p = this.keys.length - 2;
    const order = [this.keys[p]!, ...this.keys.filter((_, i) => i !== p)];
    return { keys: order.map((k) => k.key), epochs: order.map((k) => k.epoch) };
  }
  get primaryEpoch(): number {
    return this.keys[this.keys.length - 2]!.epoch;
  }
}

/**
 * A swarm agent in miniature: gossip, then a stand-in for the control plane that publishes the
 * ring while it starts (as the real one does when it resumes a swarm), then a stand-in for the
 * agent's swarm-gossip bridge that joins the listed peer in its start hook.
 */
async function swarmAgent(i: number, ring: GossipKeyRing | undefined, seed: number | undefined, out: { joined?: number; events: MemberEvent[] }): Promise<Kernel> {
  const k = createKernel();
  const control = definePlugin({
    manifest: { name: 'control-standin', version: '0', kernel: '*', provides: [], optional: ['membership'] },
    start: (ctx) => {
      if (ring !== undefined) ctx.events.publish('control.keyring', { rotation: 0, epochs: [], gossip: ring });
    },
  });
  const bridge = definePlugin({
    manifest: { name: 'bridge-standin', version: '0', kernel: '*', provides: [], optional: ['membership'] },
    start: async (ctx) => {
      if (seed !== undefined) out.joined = await ctx.services.get('membership').join([`${addr(seed)}:${base + seed}`]);
    },
    events: { membership: (e: MemberEvent) => void out.events.push(e) },
  });
  const r = await k.load([
    { plugin: gossipPlugin(), config: { name: `n${i}`, bindAddr: addr(i), bindPort: base + i, profile: 'local', meta: { weft: '1', os: 'linux' } } },
    { plugin: control },
    { plugin: bridge },
  ]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return k;
}

const aliveNames = (k: Kernel) => k.service('membership')!.members().filter((m) => m.state === 'alive').map((m) => m.name).sort().join(',');

test('swarm key ring: installed before the first join; two rotations during steady gossip: no suspicion, nothing refused', async () => {
  const ring = new Ring();
  const ks: Kernel[] = [];
  const outs = [0, 1, 2].map(() => ({ events: [] as MemberEvent[] }) as { joined?: number; events: MemberEvent[] });
  try {
    ks.push(await swarmAgent(6, ring.gossip(), undefined, outs[0]!));
    ks.push(await swarmAgent(7, ring.gossip(), 6, outs[1]!));
    ks.push(await swarmAgent(8, ring.gossip(), 6, outs[2]!));
    assert.is(outs[1]!.joined, 1, 'the first join, right after the ring was published, already reached the encrypted seed');
    assert.is(outs[2]!.joined, 1);
    // A bound for a loaded CI machine, not a timing target (the view converges in well under a
    // second here); the message shows every member's state in each node's view.
    assert.ok(
      await waitFor(() => ks.every((k) => aliveNames(k) === 'n6,n7,n8'), 30_000),
      ks.map((k) => k.service('membership')!.members().map((m) => `${m.name}:${m.state}`).join(',')).join(' | '),
    );
    for (const k of ks) await k.service('tables')!.joinNetwork('net1');
    // A bound for a loaded CI machine (Deno, many suites at once), not a timing target: the
    // attachments travel in gossip broadcasts and again in every push/pull.
    assert.ok(await waitFor(() => ks.every((k) => k.service('tables')!.peers('net1').length === 2), 30_000), `every node knows the others attached to net1: ${ks.map((k) => k.service('tables')!.peers('net1').join(',')).join(' | ')}`);
    // Two rotations, each node applying the new ring at its own time (as snapshots arrive), with
    // tables traffic going on.
    for (let r = 0; r < 2; r++) {
      ring.rotate();
      for (const [i, k] of ks.entries()) {
        k.service('tables')!.put('net1', 'endpoints', `r${r}-n${i}`, enc(`10.0.${r}.${i}`));
        k.publish('control.keyring', { rotation: r + 1, epochs: [], gossip: ring.gossip() });
        await new Promise((res) => setTimeout(res, 400));
      }
      await new Promise((res) => setTimeout(res, 1500));
    }
    assert.ok(
      await waitFor(() => ks.every((k) => k.service('tables')!.entries('net1', 'endpoints').length === 6), 10_000),
      `table entries written during the rotations replicated: ${ks.map((k) => `${k.service('tables')!.entries('net1', 'endpoints').length} (refused ${JSON.stringify(k.service('membership')!.encryption!().refused)})`).join(', ')}`,
    );
    const bad = outs.flatMap((o, i) => o.events.filter((e) => e.type === 'suspect' || e.type === 'dead').map((e) => `n${6 + i} saw ${e.member.name} ${e.type}`));
    assert.equal(bad, [], 'no member suspected');
    for (const k of ks) {
      const e = k.service('membership')!.encryption!();
      assert.equal(e, { encrypted: true, keys: 3, keyEpoch: ring.primaryEpoch, refused: { packets: 0, streams: 0 } });
    }
    assert.ok(
      await waitFor(() => ks[0]!.service('membership')!.members().every((m) => m.meta['gk'] === String(ring.primaryEpoch)), 5000),
      `every node gossips its primary key epoch: ${ks[0]!.service('membership')!.members().map((m) => `${m.name}=${m.meta['gk']}`).join(' ')}`,
    );
    // Outsiders: no key at all, and another swarm's ring.
    const before = ks[0]!.service('membership')!.encryption!().refused.streams;
    const other = new Ring();
    ks.push(await swarmAgent(9, undefined, 6, { events: [] }));
    ks.push(await swarmAgent(10, other.gossip(), 6, { events: [] }));
    await new Promise((res) => setTimeout(res, 1500));
    assert.is(aliveNames(ks[0]!), 'n6,n7,n8', 'neither outsider became a member');
    assert.is(aliveNames(ks[3]!), 'n9');
    assert.is(aliveNames(ks[4]!), 'n10');
    const after = ks[0]!.service('membership')!.encryption!().refused.streams;
    assert.ok(after >= before + 2, `both joins refused and counted (${before} → ${after})`);
  } finally {
    for (const k of ks) await k.stop();
  }
});

const hasSerf = spawnSync('serf', ['version'], { encoding: 'utf8' }).status === 0;

function serfMembers(rpc: string): Promise<{ name: string; status: string }[]> {
  return new Promise((resolve) =>
    execFile('serf', ['members', `-rpc-addr=${rpc}`, '-format=json'], { timeout: 3000 }, (e, out) => {
      if (e) return resolve([]);
      try {
        resolve((JSON.parse(out) as { members: { name: string; status: string }[] }).members);
      } catch {
        resolve([]);
      }
    }),
  );
}

if (hasSerf) {
  test('serf 0.9.4 with the swarm key ring joins and sees the members; serf without it cannot', async () => {
    const ring = new Ring();
    ring.rotate();
    const dir = mkdtempSync(joinPath(tmpdir(), 'weft-gossip-serf-'));
    const procs: ChildProcess[] = [];
    const ks: Kernel[] = [];
    const serfAgent = (name: string, i: number, extra: string[]) => {
      const p = spawn('serf', ['agent', `-node=${name}`, `-bind=${addr(i)}:${base + i}`, `-rpc-addr=${addr(i)}:${base + i + 1}`, `-join=${addr(11)}:${base + 11}`, ...extra], { stdio: 'ignore' });
      procs.push(p);
      return `${addr(i)}:${base + i + 1}`;
    };
    try {
      ks.push(await swarmAgent(11, ring.gossip(), undefined, { events: [] }));
      ks.push(await swarmAgent(12, ring.gossip(), 11, { events: [] }));
      // serf's keyring file: base64 keys, the first is the primary (memberlist's order).
      const file = joinPath(dir, 'keyring.json');
      writeFileSync(file, JSON.stringify(ring.gossip().keys.map((k) => Buffer.from(k).toString('base64'))), { mode: 0o600 });
      const withKeys = serfAgent('serf-keyed', 13, [`-keyring-file=${file}`]);
      const without = serfAgent('serf-plain', 15, []);
      assert.ok(
        await waitFor(() => aliveNames(ks[0]!) === 'n11,n12,serf-keyed', 20_000),
        `serf with the ring is a member: ${aliveNames(ks[0]!)}`,
      );
      let seen: string[] = [];
      const t0 = Date.now();
      while (Date.now() - t0 < 20_000) {
        seen = (await serfMembers(withKeys)).filter((m) => m.status === 'alive').map((m) => m.name).sort();
        if (seen.join(',') === 'n11,n12,serf-keyed') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(seen, ['n11', 'n12', 'serf-keyed'], 'serf with the ring sees every member');
      const plain = (await serfMembers(without)).map((m) => m.name);
      assert.ok(!plain.includes('n11') && !plain.includes('n12'), `serf without the ring sees no Weft node: ${plain.join(',')}`);
      assert.ok(!aliveNames(ks[0]!).includes('serf-plain'));
      assert.ok(ks[0]!.service('membership')!.encryption!().refused.streams > 0, 'its join was refused and counted');
    } finally {
      for (const p of procs) if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
      for (const k of ks) await k.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
} else {
  test('serf interop with the swarm key ring (skipped: serf not on PATH)', () => console.log('  skipped: serf is not installed'));
}

test.run();

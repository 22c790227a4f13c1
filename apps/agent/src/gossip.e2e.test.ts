/**
 * Gossip encryption with real agents (root: network namespaces). One three-node swarm, reused by
 * the tests in order:
 * 1. a capture of 7946 (UDP and TCP) on the underlay during joins, network create, attaches and
 *    the bulk syncs they cause holds no node name, sandbox name, network name, overlay address
 *    or MAC in clear; the same search finds them in a plaintext standalone pair's gossip;
 * 2. two key rotations during steady gossip and DNS lookups: no member suspected, no lookup fails,
 *    nothing refused; `weft info` and `node inspect` show the key epoch;
 * 3. serf without the key and serf with a wrong key are refused and counted, never listed;
 * 4. `node rm` of a running node: the rings rotate until it holds none of their keys; it can
 *    neither open the others' gossip nor get its own accepted, and nobody else is suspected.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCluster, eventually, type Cluster, type Host } from '@weft/testing/cluster';
import { findInFlows, flowsOnPort, needles, readPcap, type CapturedFlow } from '@weft/testing/pcap';

const root = process.getuid?.() === 0;
const tag = `ge${process.pid % 1000}`;
const sb = (n: string) => `${tag}-sandbox-${n}`;
/** Long, unmistakable node names: a two-letter name could occur in ciphertext by chance. */
const nodeName = (i: number) => `${tag}-gossipnode-${['alpha', 'bravo', 'charlie', 'delta', 'echo'][i]}`;
const NET = `${tag}-secretnet`;

// ---------------------------------------------------------------------------------------------

const logText = (h: Host) => fs.readFileSync(h.logFile, 'utf8');
/** Log lines about gossip suspicions written after `offset`. */
const suspicions = (h: Host, offset: number) =>
  logText(h)
    .slice(offset)
    .split('\n')
    .filter((l) => l.includes('gossip member suspected') || l.includes('gossip member declared dead'));

function spawnIn(ns: string, cmd: string, args: readonly string[], out?: string): ChildProcess {
  const fd = out === undefined ? 'ignore' : fs.openSync(out, 'a');
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', fd, fd], detached: true });
  if (typeof fd === 'number') fs.closeSync(fd);
  return p;
}

async function stop(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p?.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise<void>((r) => p.once('exit', () => r()));
  try {
    process.kill(p.pid, signal);
  } catch {
    return;
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  if (p.exitCode === null && p.signalCode === null) {
    process.kill(p.pid, 'SIGKILL');
    await done;
  }
}

const hasSerf = (() => {
  try {
    return fs.existsSync('/usr/bin/serf') || process.env['PATH']!.split(':').some((d) => fs.existsSync(path.join(d, 'serf')));
  } catch {
    return false;
  }
})();

if (!root) {
  test('gossip encryption end-to-end (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root'));
} else {
  let c: Cluster;
  let hosts: Host[] = [];
  const others: ChildProcess[] = [];

  test.after(async () => {
    for (const p of others) await stop(p, 'SIGKILL');
    await c?.destroy();
  });

  test('capture of 7946 during joins, network create, attaches and bulk syncs: nothing in clear', async () => {
    c = await createCluster(5, { tag, subnet: 80 });
    hosts = c.hosts;
    const [m, w1, w2, p1, p2] = hosts as [Host, Host, Host, Host, Host];
    const pcap = path.join(c.dir, 'gossip.pcap');
    const cap = spawnIn(c.underlay, 'tcpdump', ['-i', 'br0', '-n', '-U', '-s', '0', '-w', pcap, 'port 7946']);
    others.push(cap);
    await new Promise((r) => setTimeout(r, 1000));
    // A swarm of three (encrypted gossip), and beside it two standalone agents gossiping in
    // plaintext with each other: the control that shows the search finds names in clear.
    await Promise.all([m, w1, w2].map((h, i) => c.startAgent(h, ['--node-name', nodeName(i)])));
    await c.startAgent(p1, ['--node-name', nodeName(3)]);
    await c.startAgent(p2, ['--node-name', nodeName(4), '--gossip-join', `${p1.addr}:7946`]);
    const init = await m.client.swarmInit({});
    for (const w of [w1, w2]) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
    await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready' && n.Weft).length === 3, 20_000, 'three ready nodes');
    const { Id } = await m.client.networkCreate({ Name: NET, Driver: 'overlay', Attachable: true });
    await m.client.sandboxCreate({ Name: sb('m'), Networks: [{ Name: NET }] });
    await w1.client.sandboxCreate({ Name: sb('a'), Networks: [{ Name: NET }] });
    await w2.client.sandboxCreate({ Name: sb('b'), Networks: [{ Name: NET, Aliases: [`${tag}-alias-db`] }] });
    // Each attach makes its node join the network's table, which bulk-syncs from the others.
    for (const h of [m, w1, w2]) {
      await eventually(async () => (await h.client.network(NET)).Endpoints.length === 3, 20_000, `${h.name} sees the three endpoints`);
    }
    await eventually(async () => (await p1.client.nodes()).some((n) => n.Name === nodeName(4) && n.Status === 'alive'), 10_000, 'the plaintext pair formed');
    await new Promise((r) => setTimeout(r, 2000));
    await stop(cap, 'SIGINT');
    const all = flowsOnPort(readPcap(pcap), 7946);
    const swarmAddrs = new Set([m.addr, w1.addr, w2.addr]);
    const swarm = all.filter((f) => swarmAddrs.has(f.src) && swarmAddrs.has(f.dst));
    const plain = all.filter((f) => [p1.addr, p2.addr].includes(f.src));
    const bytes = (fs: CapturedFlow[], proto: string) => fs.filter((f) => f.proto === proto).reduce((a, f) => a + f.data.length, 0);
    console.log(`  captured 7946 between the swarm nodes: ${bytes(swarm, 'udp')} B UDP, ${bytes(swarm, 'tcp')} B TCP in ${swarm.length} flows; plaintext pair: ${bytes(plain, 'udp') + bytes(plain, 'tcp')} B`);
    assert.ok(bytes(swarm, 'udp') > 5000 && bytes(swarm, 'tcp') > 1000, 'the capture holds the swarm gossip (UDP and TCP)');
    const secrets = [
      ...[0, 1, 2].flatMap((i) => needles.text('node name', nodeName(i))),
      ...['m', 'a', 'b'].flatMap((s) => needles.text('sandbox name', sb(s))),
      ...needles.text('alias', `${tag}-alias-db`),
      ...needles.text('network name', NET),
      ...needles.text('network ID', Id),
    ];
    for (const [h, s] of [[m, 'm'], [w1, 'a'], [w2, 'b']] as const) {
      const ep = (await h.client.sandbox(sb(s))).Networks[NET]!;
      secrets.push(...needles.ipv4('overlay address', ep.IPAddress.split('/')[0]!), ...needles.mac('MAC', ep.MacAddress));
    }
    assert.equal(findInFlows(swarm, secrets), [], 'nothing identifying crosses 7946 in clear in the swarm');
    // Control: the same search over the plaintext pair finds their node names.
    const control = findInFlows(plain, [3, 4].flatMap((i) => needles.text('node name', nodeName(i))));
    assert.ok(control.length >= 2, `the search finds names in plaintext gossip: ${control.join('; ')}`);
    // A node's first push/pull can race its own join (the manager lists it before it has applied
    // the ring; the node answers in plaintext with an error, which the sender refuses).
    const refusals = [m, w1, w2].flatMap((h) => logText(h).split('\n').filter((l) => l.includes('refused traffic')).map((l) => `${h.name}: ${l.slice(0, 200)}`));
    if (refusals.length > 0) console.log(`  refusals while the swarm formed:\n    ${refusals.join('\n    ')}`);
    // The standalone pair is no longer needed.
    await c.stopAgent(p1);
    await c.stopAgent(p2);
  });

  test('two key rotations during steady gossip and DNS lookups: no member suspected, no lookup fails', async () => {
    const [m, w1, w2] = hosts as [Host, Host, Host];
    const offsets = [m, w1, w2].map((h) => logText(h).length);
    // A node's first encrypted push/pull can race its own join (the manager lists it before it has
    // applied the ring): count only what is refused from here on.
    const refused0 = await Promise.all([m, w1, w2].map(async (h) => (await h.client.info()).Gossip.Refused!));
    const epoch0 = (await m.client.info()).Gossip.KeyEpoch!;
    assert.ok(epoch0 >= 1, `the manager's gossip key epoch: ${epoch0}`);
    // Lookups of the other worker's sandbox by name and by alias, every 50 ms, from a sandbox.
    const out = path.join(c.dir, 'lookups.txt');
    const loop = `i=0; while [ $i -lt 400 ]; do getent hosts ${sb('b')} >/dev/null && echo ok || echo FAIL ${sb('b')}; getent hosts ${tag}-alias-db >/dev/null && echo ok || echo FAIL alias; i=$((i+1)); sleep 0.05; done`;
    const lookups = spawnIn(sb('a'), 'sh', ['-c', loop], out);
    others.push(lookups);
    await new Promise((r) => setTimeout(r, 2000));
    for (let r = 1; r <= 2; r++) {
      const ring = await m.client.rotateKeys();
      assert.is(ring.PrimaryEpoch, epoch0 + r);
      await eventually(async () => (await Promise.all([m, w1, w2].map((h) => h.client.info()))).every((i) => i.Gossip.KeyEpoch === epoch0 + r), 15_000, `every node gossips with key epoch ${epoch0 + r}`);
      await new Promise((res) => setTimeout(res, 3000));
    }
    await new Promise<void>((res) => (lookups.exitCode !== null ? res() : lookups.once('exit', () => res())));
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
    const failed = lines.filter((l) => l.startsWith('FAIL'));
    console.log(`  ${lines.length} DNS lookups during two rotations, ${failed.length} failed`);
    assert.is(lines.length, 800, 'every lookup ran');
    assert.equal(failed, [], 'no lookup failed');
    assert.equal([m, w1, w2].flatMap((h, i) => suspicions(h, offsets[i]!)), [], 'no member suspected during the rotations');
    for (const [i, h] of [m, w1, w2].entries()) {
      const g = (await h.client.info()).Gossip;
      assert.equal({ Encrypted: g.Encrypted, KeyEpoch: g.KeyEpoch, Keys: g.Keys }, { Encrypted: true, KeyEpoch: epoch0 + 2, Keys: 3 }, `${h.name}: weft info`);
      assert.equal(g.Refused, refused0[i], `${h.name}: nothing refused during the rotations`);
    }
    // node inspect (on the manager): every node's gossip encryption and key epoch, never a key.
    for (const i of [0, 1, 2]) {
      const n = await m.client.node(nodeName(i));
      assert.equal(n.Gossip, { Encrypted: true, KeyEpoch: epoch0 + 2 }, `node inspect ${nodeName(i)}`);
    }
    const info = JSON.stringify(await m.client.info()) + JSON.stringify(await m.client.nodes());
    assert.not.match(info, /[A-Za-z0-9+/]{43}=/, 'no base64 key in info or node ls');
  });

  if (hasSerf) {
    test('serf without the key and serf with a wrong key are refused, counted, and never listed', async () => {
      const [m, w1] = hosts as [Host, Host];
      const r0 = (await m.client.info()).Gossip.Refused!;
      // In w1's namespace, on another port, joining the manager's gossip port.
      const serfLog = path.join(c.dir, 'serf.log');
      const keyless = spawnIn(w1.ns, 'serf', ['agent', `-node=${tag}-serf-nokey`, `-bind=${w1.addr}:7951`, '-rpc-addr=127.0.0.1:7381', `-join=${m.addr}:7946`], serfLog);
      const wrong = spawnIn(w1.ns, 'serf', ['agent', `-node=${tag}-serf-wrongkey`, `-bind=${w1.addr}:7952`, '-rpc-addr=127.0.0.1:7382', `-encrypt=${Buffer.alloc(32, 7).toString('base64')}`, `-join=${m.addr}:7946`], serfLog);
      others.push(keyless, wrong);
      await eventually(async () => (await m.client.info()).Gossip.Refused!.Streams >= r0.Streams + 2, 15_000, 'both joins refused');
      await new Promise((r) => setTimeout(r, 2000));
      const r1 = (await m.client.info()).Gossip.Refused!;
      console.log(`  manager refused ${r1.Packets - r0.Packets} datagrams, ${r1.Streams - r0.Streams} streams from the two serf agents`);
      const names = (await m.client.nodes()).map((n) => n.Name);
      assert.ok(!names.some((n) => n.includes('serf')), `node ls lists no serf agent: ${names.join(', ')}`);
      await stop(keyless, 'SIGKILL');
      await stop(wrong, 'SIGKILL');
    });
  }

  test('node rm of a running node: the rings rotate it out; it can neither read nor be heard; no one else suspected', async () => {
    const [m, w1, w2] = hosts as [Host, Host, Host];
    const offsets = [m, w1].map((h) => logText(h).length);
    const e0 = (await m.client.info()).Gossip.KeyEpoch!;
    const removedRefused0 = (await w2.client.info()).Gossip.Refused!;
    await m.client.nodeRemove(nodeName(2), true);
    // The ring held epochs e0-1 .. e0+1: three rotations push them all out (primary e0+3).
    const lockMs = await eventually(async () => (await m.client.info()).Gossip.KeyEpoch === e0 + 3, 60_000, 'three rotations after the removal');
    await eventually(async () => (await w1.client.info()).Gossip.KeyEpoch === e0 + 3, 15_000, 'the remaining worker follows');
    assert.ok(logText(m).includes('the removed node holds no key of the current rings'), 'the manager logged the lock-out');
    assert.is((await w2.client.info()).Gossip.KeyEpoch, e0, 'the removed node never received the new rings');
    const mRefused0 = (await m.client.info()).Gossip.Refused!;
    // It keeps trying (its agent still runs and rejoins the peers it cached): refused both ways.
    await eventually(async () => {
      const [mi, wi] = await Promise.all([m.client.info(), w2.client.info()]);
      return mi.Gossip.Refused!.Packets + mi.Gossip.Refused!.Streams > mRefused0.Packets + mRefused0.Streams && wi.Gossip.Refused!.Packets > removedRefused0.Packets;
    }, 30_000, 'the manager refuses the removed node, and it cannot open the manager\'s gossip');
    await eventually(async () => {
      const st = (await m.client.nodes()).find((n) => n.Name === nodeName(2))?.Status;
      return st === undefined || st === 'failed' || st === 'down';
    }, 30_000, 'the removed node is failed (or gone) in the manager\'s gossip');
    const [mi, wi] = await Promise.all([m.client.info(), w2.client.info()]);
    console.log(`  locked out in ${lockMs} ms (three rotations); refused since: manager ${mi.Gossip.Refused!.Packets - mRefused0.Packets} datagrams + ${mi.Gossip.Refused!.Streams - mRefused0.Streams} streams, removed node ${wi.Gossip.Refused!.Packets - removedRefused0.Packets} datagrams`);
    const bad = [m, w1].flatMap((h, i) => suspicions(h, offsets[i]!)).filter((l) => !l.includes(nodeName(2)));
    assert.equal(bad, [], 'no remaining member suspected during the lock-out rotations');
    const alive = (await w1.client.nodes()).filter((n) => n.Status === 'ready' || n.Status === 'alive').map((n) => n.Name).sort();
    assert.ok(alive.includes(nodeName(0)) && alive.includes(nodeName(1)), `the manager and w1 still see each other: ${alive.join(', ')}`);
  });
}

test.run();

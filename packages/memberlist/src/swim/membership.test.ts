import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimCluster } from '../sim/cluster.ts';
import { type Message, type PushNodeState } from '../wire/types.ts';
import { encodeAck, encodeAlive, encodeDead, encodePing, encodeSuspect, encodeUser } from '../wire/codec.ts';
import { encodePushPull } from '../wire/pushpull.ts';
import { decodePacket, encodePacket } from '../wire/packet.ts';
import { encodeStream, decodeStream } from '../wire/stream.ts';
import { encodeTags } from '../wire/serf.ts';
import { suspicionTimeout } from './membership.ts';
import { retransmitLimit, BroadcastQueue } from './broadcast.ts';
import { parseSeed, ipToBytes, bytesToIp } from './addr.ts';

/** A raw endpoint on the simulated network that records what it receives. */
async function probe(c: Awaited<ReturnType<typeof createSimCluster>>) {
  const got: { msgs: Message[]; from: string }[] = [];
  const t = c.net.transport('10.99.0.1', 7946);
  await t.start(
    (d, a, port) => {
      const msgs = decodePacket(d).messages;
      got.push({ msgs, from: a });
      // behave like a live node: answer pings
      for (const m of msgs) if (m.kind === 'ping') t.sendPacket(a, port, encodePacket([encodeAck({ seqNo: m.msg.seqNo, payload: new Uint8Array(0) })]));
    },
    () => Promise.resolve(undefined),
  );
  return { t, got, send: (i: number, msgs: Uint8Array[]) => t.sendPacket(c.addrOf(i), 7946, encodePacket(msgs)) };
}

test('suspicion timeout and retransmit formulas match the spec worked numbers', () => {
  assert.is(suspicionTimeout(4, 3, 1000), 4000);
  assert.is(suspicionTimeout(4, 100, 1000), 8000);
  assert.is(suspicionTimeout(4, 1000, 1000), 12000);
  assert.is(suspicionTimeout(4, 10000, 1000), 16000);
  assert.is(retransmitLimit(4, 3), 4);
  assert.is(retransmitLimit(4, 100), 12);
  assert.is(retransmitLimit(4, 1000), 16);
});

test('broadcast queue: same key replaces, limit enforced, least-transmitted first', () => {
  const q = new BroadcastQueue();
  let done = 0;
  q.queue({ key: 'a', msg: new Uint8Array(10), weftOnly: false, onDone: () => done++ });
  q.queue({ key: 'a', msg: new Uint8Array(11), weftOnly: false });
  q.queue({ key: undefined, msg: new Uint8Array(5), weftOnly: true });
  assert.is(done, 1);
  assert.is(q.length, 2);
  assert.is(q.get(2, 100, 2, false).length, 1);
  const second = q.get(2, 100, 2, true);
  assert.equal(
    second.map((m) => m.length),
    [5, 11],
  );
  q.get(2, 100, 2, true);
  assert.is(q.length, 0);
});

test('addresses and seeds', () => {
  assert.equal(parseSeed('n1/127.0.0.1:7000', 7946), { addr: '127.0.0.1', port: 7000, name: 'n1' });
  assert.equal(parseSeed('127.0.0.1', 7946), { addr: '127.0.0.1', port: 7946 });
  assert.equal(parseSeed('[::1]:9', 7946), { addr: '::1', port: 9 });
  assert.is(parseSeed('nope:1', 1), undefined);
  assert.is(bytesToIp(ipToBytes('::ffff:1.2.3.4') ?? new Uint8Array(0)), '1.2.3.4');
  assert.is(bytesToIp(ipToBytes('fe80::1') ?? new Uint8Array(0)), 'fe80::1');
  assert.is(bytesToIp(ipToBytes('FD18:0:7B:0:0:0:0:1') ?? new Uint8Array(0)), 'fd18:0:7b::1', 'RFC 5952, as inet_ntop reports it');
  assert.equal(parseSeed('[FD18:0:7b::0:1]:7946', 1), { addr: 'fd18:0:7b::1', port: 7946 }, 'a seed in the same text as the member it names');
  assert.equal(parseSeed('fd18:0:7b::1', 7946), { addr: 'fd18:0:7b::1', port: 7946 });
});

test('refutes suspect / dead / conflicting alive about itself with a higher incarnation', async () => {
  const c = await createSimCluster({ n: 3, seed: 1, bootstrap: 'seeded' });
  await c.clock.run(500);
  const n0 = c.nodes[0];
  assert.ok(n0 !== undefined);
  const p = await probe(c);
  const inc = n0.localNode().incarnation;
  p.send(0, [encodeSuspect({ incarnation: inc, node: 'node-0', from: 'evil' })]);
  await c.clock.run(100);
  assert.is(n0.localNode().incarnation, inc + 1);
  assert.is(n0.localNode().state, 'alive');
  p.send(0, [encodeDead({ incarnation: 10, node: 'node-0', from: 'evil' })]);
  await c.clock.run(100);
  assert.is(n0.localNode().incarnation, 11);
  const addr = ipToBytes(c.addrOf(0)) ?? new Uint8Array(0);
  p.send(0, [encodeAlive({ incarnation: 11, node: 'node-0', addr, port: 7946, meta: encodeTags({ x: 'y' }), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) })]);
  await c.clock.run(100);
  assert.is(n0.localNode().incarnation, 12);
  assert.ok(n0.healthScore() > 0, 'refuting raises the health score');
  // the others learn the refutation
  await c.clock.run(2000);
  assert.ok(c.nodes.every((m) => m.members().find((x) => x.name === 'node-0')?.incarnation === 12));
});

test('alive / suspect / dead rules for other nodes', async () => {
  const c = await createSimCluster({ n: 3, seed: 2, bootstrap: 'seeded' });
  const n0 = c.nodes[0];
  assert.ok(n0 !== undefined);
  const p = await probe(c);
  const vsn = Uint8Array.from([1, 5, 2, 2, 5, 4]);
  const addr = ipToBytes('10.99.0.1') ?? new Uint8Array(0);
  const st = () => n0.members().find((x) => x.name === 'x');
  // unknown node suspect/dead → ignored
  p.send(0, [encodeSuspect({ incarnation: 1, node: 'x', from: 'y' })]);
  await c.clock.run(50);
  assert.is(st(), undefined);
  // bad Vsn (3 bytes / PMin > PMax) → ignored
  p.send(0, [encodeAlive({ incarnation: 1, node: 'x', addr, port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2]) })]);
  p.send(0, [encodeAlive({ incarnation: 1, node: 'x', addr, port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([5, 1, 2, 2, 5, 4]) })]);
  await c.clock.run(50);
  assert.is(st(), undefined);
  p.send(0, [encodeAlive({ incarnation: 2, node: 'x', addr, port: 7946, meta: encodeTags({ a: 'b' }), vsn })]);
  await c.clock.run(50);
  assert.is(st()?.state, 'alive');
  assert.equal(st()?.meta, { a: 'b' });
  // older incarnation alive ignored; conflicting address ignored
  p.send(0, [encodeAlive({ incarnation: 1, node: 'x', addr, port: 7946, meta: encodeTags({ a: 'old' }), vsn })]);
  p.send(0, [encodeAlive({ incarnation: 9, node: 'x', addr: Uint8Array.from([9, 9, 9, 9]), port: 7946, meta: new Uint8Array(0), vsn })]);
  await c.clock.run(50);
  assert.equal(st()?.meta, { a: 'b' });
  assert.is(st()?.incarnation, 2);
  // stale suspect ignored, current → suspect
  p.send(0, [encodeSuspect({ incarnation: 1, node: 'x', from: 'node-1' })]);
  await c.clock.run(50);
  assert.is(st()?.state, 'alive');
  p.send(0, [encodeSuspect({ incarnation: 2, node: 'x', from: 'node-1' })]);
  await c.clock.run(50);
  assert.is(st()?.state, 'suspect');
  // refutation by alive with higher incarnation
  p.send(0, [encodeAlive({ incarnation: 3, node: 'x', addr, port: 7946, meta: encodeTags({ a: 'b' }), vsn })]);
  await c.clock.run(50);
  assert.is(st()?.state, 'alive');
  // suspect → (timeout, N=4 → k=2 → max 24 s ... we wait 30 s) → dead
  p.send(0, [encodeSuspect({ incarnation: 3, node: 'x', from: 'node-1' })]);
  await c.clock.run(1000);
  assert.is(st()?.state, 'suspect');
  await c.clock.run(30_000);
  assert.is(st()?.state, 'dead');
  // dead with From == Node → left; new incarnation alive after left → join again
  p.send(0, [encodeAlive({ incarnation: 5, node: 'x', addr, port: 7946, meta: new Uint8Array(0), vsn })]);
  await c.clock.run(50);
  assert.is(st()?.state, 'alive');
  p.send(0, [encodeDead({ incarnation: 5, node: 'x', from: 'x' })]);
  await c.clock.run(50);
  assert.is(st()?.state, 'left');
});

test('confirmations shorten the suspicion timeout (dogpile)', async () => {
  const c = await createSimCluster({ n: 9, seed: 4, bootstrap: 'seeded' });
  const n0 = c.nodes[0];
  assert.ok(n0 !== undefined);
  const p = await probe(c);
  const addr = ipToBytes('10.99.0.1') ?? new Uint8Array(0);
  p.send(0, [encodeAlive({ incarnation: 1, node: 'x', addr, port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) })]);
  await c.clock.run(50);
  // N=11 → min = 4*log10(11)=4.16 s, max 25 s, k=2; two extra accusers → min
  const t0 = c.clock.now();
  let deadAt = -1;
  n0.onEvent((e) => {
    if (e.type === 'dead' && e.member.name === 'x') deadAt = c.clock.now() - t0;
  });
  p.send(0, [encodeSuspect({ incarnation: 1, node: 'x', from: 'node-1' })]);
  p.send(0, [encodeSuspect({ incarnation: 1, node: 'x', from: 'node-2' })]);
  p.send(0, [encodeSuspect({ incarnation: 1, node: 'x', from: 'node-3' })]);
  await c.clock.run(30_000);
  assert.ok(deadAt > 4000 && deadAt < 4500, `dead after ${deadAt}`);
});

test('pings answered only for own name; acks go to SourceAddr; serf user types are not delivered', async () => {
  const c = await createSimCluster({ n: 2, seed: 5, bootstrap: 'seeded', config: { probeInterval: 1e9, gossipInterval: 1e9 } });
  const p = await probe(c);
  let user = 0;
  c.nodes[0]?.onUser(() => user++);
  p.send(0, [encodePing({ seqNo: 5, node: 'someone-else' })]);
  p.send(0, [encodePing({ seqNo: 6, node: 'node-0' })]);
  p.send(0, [encodePing({ seqNo: 7, node: '' })]);
  p.send(0, [encodeUser(Uint8Array.from([0, 0x80]))]); // serf leave intent type
  await c.clock.run(100);
  const acks = p.got.flatMap((g) => g.msgs).filter((m) => m.kind === 'ack');
  assert.equal(
    acks.map((a) => (a.kind === 'ack' ? a.msg.seqNo : -1)).sort(),
    [6, 7],
  );
  assert.is(user, 0);
  assert.is(c.nodes[0]?.counters.drops['ping-wrong-node'], 1);
});

test('push/pull merge with incompatible versions is refused (verifyProtocol) and logged, both directions', async () => {
  const logs: string[] = [];
  const c = await createSimCluster({
    n: 2,
    seed: 8,
    bootstrap: 'seeded',
    config: { probeInterval: 1e9, gossipInterval: 1e9, pushPullInterval: 1e9 },
    extra: () => ({ log: (l: string) => logs.push(l) }),
  });
  const st = (name: string, vsn: number[]): PushNodeState => ({
    name,
    addr: Uint8Array.from([10, 99, 0, 2]),
    port: 7946,
    meta: new Uint8Array(0),
    incarnation: 1,
    state: 0,
    vsn: Uint8Array.from(vsn),
  });
  const pp = (nodes: PushNodeState[], join: boolean) => encodeStream(encodePushPull({ join, nodes, userState: new Uint8Array(0) }));
  // A raw endpoint: answers push/pull with a node whose delegate version is 0.
  let replyNodes: PushNodeState[] = [st('bad-peer', [1, 5, 2, 0, 0, 0])];
  const t = c.net.transport('10.99.0.2', 7946);
  await t.start(
    () => {},
    () => Promise.resolve(pp(replyNodes, false)),
  );
  const n0 = c.nodes[0];
  if (n0 === undefined) throw new Error('no node');
  // 1. we initiate (join): the reply is refused, the join counts as failed
  const joined = n0.join(['10.99.0.2:7946']);
  await c.clock.run(100);
  assert.is(await joined, 0);
  assert.not.ok(n0.members().some((m) => m.name === 'bad-peer'));
  assert.is(n0.counters.drops['incompatible-vsn'], 1);
  assert.ok(logs.some((l) => l.includes("delegate protocol version (0) is incompatible: [2, 0]")), logs.join('\n'));
  // 2. they initiate: we still answer with our state (as memberlist does) but do not merge
  const got = t.request(c.addrOf(0), 7946, pp([st('bad-peer', [1, 5, 2, 0, 0, 0])], true), 5000, true);
  await c.clock.run(100);
  const reply = await got;
  const d = reply === undefined ? undefined : decodeStream(reply);
  assert.ok(d?.ok && d.value.kind === 'pushPull' && d.value.msg.nodes.length === 2);
  assert.not.ok(n0.members().some((m) => m.name === 'bad-peer'));
  assert.is(n0.counters.drops['incompatible-vsn'], 2);
  assert.ok(logs.some((l) => l.includes('push/pull merge refused')));
  // 3. a compatible node (serf's own numbers) is merged
  replyNodes = [st('good-peer', [1, 5, 2, 2, 5, 5])];
  const ok = n0.join(['10.99.0.2:7946']);
  await c.clock.run(100);
  assert.is(await ok, 1);
  assert.ok(n0.members().some((m) => m.name === 'good-peer' && m.state === 'alive'));
});

test.run();

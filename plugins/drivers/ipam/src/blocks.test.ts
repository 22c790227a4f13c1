import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isLeft } from 'fp-ts/lib/Either.js';
import { WeftException, type WeftError } from '@weft/kernel';
import { BlockCodes, BlockManager, BlockMessage, BlockTable, HostBlocks } from './blocks.ts';

/** Every message crosses a JSON wire and the io-ts codec, as it would between nodes. */
function wire(m: BlockMessage): BlockMessage {
  const d = BlockMessage.decode(JSON.parse(JSON.stringify(m)));
  if (isLeft(d)) throw new Error(`codec rejected ${JSON.stringify(m)}`);
  return d.right;
}

const caught = (f: () => unknown): WeftError => {
  try {
    f();
  } catch (e) {
    if (e instanceof WeftException) return e.error;
    throw e;
  }
  throw new Error('expected an error');
};

class Cluster {
  readonly manager = new BlockManager({ blockPrefix: 28 });
  readonly hosts = new Map<string, HostBlocks>();
  readonly network: string;
  readonly pool: string;
  constructor(network: string, pool: string, nodes: string[]) {
    this.network = network;
    this.pool = pool;
    this.manager.addNetwork(network, pool);
    for (const n of nodes) this.hosts.set(n, new HostBlocks({ network, node: n, pool, blockPrefix: 28 }));
  }
  deliver(msgs: BlockMessage[]): void {
    for (const m of msgs.map(wire)) for (const h of this.hosts.values()) h.apply(m);
  }
  /** Allocates on `node`, asking the manager for a block when needed; undefined when none is left. */
  allocate(node: string): string | undefined {
    const h = this.hosts.get(node)!;
    for (;;) {
      const r = h.allocate();
      if (r.type === 'address') return r.address;
      const replies = this.manager.handle(wire(r.request));
      if (replies[0]!.type === 'BlockDenied') return undefined;
      this.deliver(replies);
    }
  }
  allocateSpecific(node: string, address: string): string | WeftError {
    const h = this.hosts.get(node)!;
    const r = h.allocateSpecific(address);
    if (r.type === 'address') return r.address;
    if (r.type !== 'need-claim') throw new Error('unexpected');
    const [reply] = this.manager.handle(wire(r.claim));
    if (reply?.type !== 'AddressClaimReply') throw new Error('no reply');
    if (reply.result === 'refused') return { category: 'Conflict', message: reply.reason ?? '', code: BlockCodes.foreignBlock } as WeftError;
    this.deliver([reply]);
    const again = h.allocateSpecific(address);
    if (again.type !== 'address') throw new Error('claim did not take');
    return again.address;
  }
}

test('hosts allocate inside their own blocks and ask for more when full', () => {
  const c = new Cluster('net1', '10.0.0.0/24', ['a', 'b']);
  const a = Array.from({ length: 15 }, () => c.allocate('a')!);
  assert.is(a[0], '10.0.0.1/24'); // the pool's network address is reserved in the first block
  assert.equal(c.hosts.get('a')!.ownedBlocks(), ['10.0.0.0/28']);
  assert.is(c.allocate('b'), '10.0.0.16/24');
  assert.is(c.allocate('a'), '10.0.0.32/24');
  assert.equal(c.manager.tables.get('net1')!.blocksOf('a'), ['10.0.0.0/28', '10.0.0.32/28']);
});

test('a specific address is checked against the whole cluster', () => {
  const c = new Cluster('net1', '10.0.0.0/24', ['a', 'b']);
  c.allocate('a');
  assert.is(c.allocateSpecific('b', '10.0.0.100'), '10.0.0.100/24'); // unowned block → granted to b
  assert.equal(c.hosts.get('b')!.ownedBlocks(), ['10.0.0.96/28']);
  const e = c.allocateSpecific('b', '10.0.0.5') as WeftError;
  assert.is(e.category, 'Conflict');
  assert.match(e.message, 'node "a" owns');
  assert.match(e.message, '"10.0.0.5"');
  assert.is(caught(() => c.allocateSpecific('b', '10.0.0.100')).code, BlockCodes.addressInUse);
  assert.is(caught(() => c.hosts.get('a')!.allocateSpecific('10.0.1.1')).code, BlockCodes.outOfPool);
});

test('blocks of a removed node are reclaimed and granted again; the table survives encode/decode', () => {
  const c = new Cluster('net1', '10.0.0.0/26', ['a', 'b', 'c']);
  for (let i = 0; i < 20; i++) c.allocate('a');
  c.allocate('b');
  c.allocate('c');
  assert.is(c.allocate('c') !== undefined, true);
  assert.is(c.manager.tables.get('net1')!.granted, 4);
  assert.is(c.allocate('b'), '10.0.0.33/26'); // b's block still has room
  // pool full: a new block is refused with a clear reason
  const [denied] = c.manager.handle(wire({ type: 'BlockRequest', network: 'net1', node: 'c' }));
  assert.is(denied!.type, 'BlockDenied');
  assert.match((denied as { reason: string }).reason, 'all 4 blocks are granted');
  const snap = c.manager.tables.get('net1')!.encode('blocks/net1');
  const reclaimed = c.manager.handle(wire({ type: 'NodeRemoved', node: 'a' }));
  assert.equal(reclaimed, [{ type: 'BlocksReclaimed', network: 'net1', node: 'a', blocks: ['10.0.0.0/28', '10.0.0.16/28'] }]);
  c.hosts.delete('a');
  assert.is(c.allocate('c'), '10.0.0.50/26'); // c's own block first
  for (let i = 0; i < 14; i++) c.allocate('c');
  assert.equal(c.hosts.get('c')!.ownedBlocks(), ['10.0.0.0/28', '10.0.0.48/28']);
  const restored = BlockTable.decode('blocks/net1', snap);
  assert.equal(restored.blocksOf('a'), ['10.0.0.0/28', '10.0.0.16/28']);
  const torn = snap.slice(0, snap.length - 2);
  const e = caught(() => BlockTable.decode('blocks/net1', torn));
  assert.is(e.code, BlockCodes.corrupt);
  assert.match(e.message, '"blocks/net1"');
});

test('idle blocks go back to the manager; only the owner may release', () => {
  const c = new Cluster('net1', '10.0.0.0/24', ['a', 'b']);
  const x = c.allocate('a')!;
  c.allocateSpecific('a', '10.0.0.40');
  assert.equal(c.hosts.get('a')!.idleBlocks(), []);
  c.hosts.get('a')!.release('10.0.0.40');
  assert.equal(c.hosts.get('a')!.idleBlocks(), ['10.0.0.32/28']);
  assert.is(caught(() => c.hosts.get('a')!.dropBlock('10.0.0.0/28')).code, BlockCodes.blockInUse);
  assert.is(caught(() => c.manager.handle({ type: 'BlockRelease', network: 'net1', node: 'b', block: '10.0.0.32/28' })).code, BlockCodes.notOwner);
  c.manager.handle(wire(c.hosts.get('a')!.dropBlock('10.0.0.32/28')));
  assert.is(c.allocate('b'), '10.0.0.16/24');
  assert.is(c.allocateSpecific('b', '10.0.0.40'), '10.0.0.40/24');
  assert.is(caught(() => c.hosts.get('a')!.release('10.0.0.99')).code, BlockCodes.notAllocated);
  c.hosts.get('a')!.release(x);
});

test('IPv6 pools use /124 blocks by default', () => {
  const m = new BlockManager();
  const t0 = m.addNetwork('v6', 'fd00:9::/64');
  assert.is(t0.blockCount, 1n << 60n);
  const h = new HostBlocks({ network: 'v6', node: 'a', pool: 'fd00:9::/64' });
  const r = h.allocate();
  assert.is(r.type, 'need-block');
  for (const msg of m.handle(wire({ type: 'BlockRequest', network: 'v6', node: 'a' }))) h.apply(wire(msg));
  assert.equal(h.allocate(), { type: 'address', address: 'fd00:9::1/64' });
  const far = m.handle(wire({ type: 'AddressClaim', network: 'v6', node: 'b', address: 'fd00:9::ffff:ffff:ffff:fff0' }));
  assert.equal(far, [{ type: 'AddressClaimReply', network: 'v6', node: 'b', address: 'fd00:9::ffff:ffff:ffff:fff0', result: 'granted', block: 'fd00:9::ffff:ffff:ffff:fff0/124' }]);
});

test('host blocks persist; a damaged host record names its key', () => {
  const c = new Cluster('net1', '10.0.0.0/24', ['a']);
  c.allocate('a');
  c.allocateSpecific('a', '10.0.0.200');
  const rec = c.hosts.get('a')!.encode('hosts/net1');
  const h = HostBlocks.decode('hosts/net1', rec);
  assert.equal(h.ownedBlocks(), ['10.0.0.0/28', '10.0.0.192/28']);
  assert.is(caught(() => h.allocateSpecific('10.0.0.200')).code, BlockCodes.addressInUse);
  assert.equal(h.allocate(), { type: 'address', address: '10.0.0.2/24' });
  const flipped = rec.slice();
  flipped[20]! ^= 1;
  const e = caught(() => HostBlocks.decode('hosts/net1', flipped));
  assert.is(e.code, BlockCodes.corrupt);
  assert.match(e.message, '"hosts/net1"');
  assert.match(e.message, 'checksum');
});

test('codecs reject malformed messages', () => {
  assert.ok(isLeft(BlockMessage.decode({ type: 'BlockGrant', network: 'n', node: 'a', block: '10.0.0.0' })));
  assert.ok(isLeft(BlockMessage.decode({ type: 'AddressClaim', network: 'n', node: 'a', address: '10.0.0.0/24' })));
  assert.ok(isLeft(BlockMessage.decode({ type: 'Nope' })));
});

test('property: several hosts, random allocate/release/claim/remove, never one address on two hosts', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('alloc' as const), node: fc.nat(3) }),
    fc.record({ k: fc.constant('release' as const), node: fc.nat(3), pick: fc.nat() }),
    fc.record({ k: fc.constant('claim' as const), node: fc.nat(3), host: fc.integer({ min: 1, max: 126 }) }),
    fc.record({ k: fc.constant('remove' as const), node: fc.nat(3) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
      const names = ['n0', 'n1', 'n2', 'n3'];
      const c = new Cluster('net', '10.9.0.0/25', names);
      const held = new Map<string, string>(); // address → node
      for (const o of ops) {
        const node = names[o.node]!;
        if (o.k === 'remove') {
          c.deliver(c.manager.handle(wire({ type: 'NodeRemoved', node })));
          for (const [a, n] of [...held]) if (n === node) held.delete(a);
          c.hosts.set(node, new HostBlocks({ network: 'net', node, pool: '10.9.0.0/25', blockPrefix: 28 })); // it rejoins empty
          continue;
        }
        if (o.k === 'alloc') {
          const a = c.allocate(node);
          if (a === undefined) continue;
          assert.not.ok(held.has(a), `${a} on ${held.get(a)} and ${node}`);
          held.set(a, node);
        } else if (o.k === 'claim') {
          const addr = `10.9.0.${o.host}`;
          let r: string | WeftError;
          try {
            r = c.allocateSpecific(node, addr);
          } catch (e) {
            if (e instanceof WeftException) continue; // already allocated on this node
            throw e;
          }
          if (typeof r === 'string') {
            assert.not.ok(held.has(r), `${r} claimed twice`);
            held.set(r, node);
          }
        } else {
          const mine = [...held].filter(([, n]) => n === node);
          if (mine.length === 0) continue;
          const [a] = mine[o.pick % mine.length]!;
          c.hosts.get(node)!.release(a);
          held.delete(a);
        }
      }
      let total = 0;
      for (const [n, h] of c.hosts) for (const b of h.ownedBlocks()) total += h.usedIn(b), assert.ok(c.manager.tables.get('net')!.blocksOf(n).includes(b));
      assert.is(total, held.size);
      // Both sides survive a save/reload unchanged.
      const table = c.manager.tables.get('net')!;
      const back = BlockTable.decode('b/net', table.encode('b/net'));
      for (const n of names) assert.equal(back.blocksOf(n), table.blocksOf(n));
      for (const [n, h] of c.hosts) {
        const h2 = HostBlocks.decode(`h/${n}`, h.encode(`h/${n}`));
        assert.equal(h2.ownedBlocks(), h.ownedBlocks());
        for (const b of h.ownedBlocks()) assert.is(h2.usedIn(b), h.usedIn(b));
        assert.equal(h2.encode('x'), h.encode('x'));
      }
    }),
    { numRuns: 150 },
  );
});

test.run();

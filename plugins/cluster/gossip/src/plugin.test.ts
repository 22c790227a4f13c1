/**
 * Three real gossip agents (kernels with the gossip plugin) over UDP+TCP on loopback.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, type Kernel, type TableEvent } from '@weft/kernel';
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
  } finally {
    for (const k of ks) await k.stop();
  }
});

test.run();

/** The node side of VIPs on its own: which sandboxes get which rules, retries after failures. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeEndpointRecord, silentLogger, type TableEntry, type Tables } from '@weft/kernel';
import type { Sandbox } from '@weft/api';
import { createBalancer, RETRY_MS, type Netfilter } from './balancer.ts';
import { Retained, VipEntry } from './records.ts';

/** The VIP entries of the rows, as the node pass hands them over. */
const vipsOf = (rows: TableEntry[]) => new Retained('vips', VipEntry).view(tables(rows), 0, 0);

const enc = new TextEncoder();
function tables(rows: TableEntry[]): Tables {
  return {
    joinNetwork: async () => {},
    leaveNetwork: async () => {},
    put: () => {},
    delete: () => {},
    get: () => undefined,
    entries: (n, t) => rows.filter((e) => e.network === n && e.table === t && !e.deleted),
    peers: () => [],
  };
}
const row = (network: string, table: string, key: string, value: Uint8Array, stale = false): TableEntry => ({ network, table, key, value, owner: 'n', lamport: 1, deleted: false, stale });
const task = (net: string, key: string, service: string, ip: string, stale = false) =>
  row(net, 'endpoints', key, encodeEndpointRecord({ name: key, ipv4: `${ip}/24`, mac: '02:00:00:00:00:01', vtep: '198.18.0.1', node: 'n', service, serviceVip: '', endpointMode: 'vip' }), stale);
const sandbox = (name: string, nets: Record<string, string>): Sandbox => ({
  Name: name, Id: `id-${name}`, NetnsPath: `/run/netns/${name}`, Hostname: name, Cmd: [], Pid: 0, State: 'running', ExitCode: null, Created: '', Ports: [], ResolvConf: '', Image: '', StartedAt: '', FinishedAt: '',
  Networks: Object.fromEntries(Object.entries(nets).map(([n, id]) => [n, { IPAddress: '10.0.0.9/24', MacAddress: '', Aliases: [], EndpointID: 'e', NetworkID: id }])),
});

test('only sandboxes on a network with VIPs are programmed, each with its networks\' VIPs; stale tasks only as a last resort', async () => {
  const rows = [
    row('_cluster', 'vips', 's1', enc.encode(JSON.stringify({ service: 'api', vips: { NA: '10.0.0.2/24' } }))),
    row('_cluster', 'vips', 's2', enc.encode(JSON.stringify({ service: 'db', vips: { NB: '10.1.0.2/24' } }))),
    task('NA', 'a1', 'api', '10.0.0.5'),
    task('NA', 'a2', 'api', '10.0.0.6', true),
    task('NB', 'b1', 'db', '10.1.0.5', true),
  ];
  const got = new Map<string, string>();
  const nf: Netfilter = { apply: async (ns, r) => void got.set(ns, r) };
  const b = createBalancer(() => tables(rows), nf, silentLogger);
  assert.not.ok(b.idle(vipsOf(rows)));
  assert.ok(b.idle(new Map()), 'no VIP and nothing programmed');
  const bare = { ...sandbox('w', { a: 'NA' }), NetnsPath: '/run/netns/weft-endpoints-n', Bare: true };
  await b.reconcile([sandbox('x', { a: 'NA' }), sandbox('y', { b: 'NB', a: 'NA' }), sandbox('z', { c: 'NC' }), bare], vipsOf(rows));
  assert.equal([...got.keys()].sort(), ['/run/netns/x', '/run/netns/y'], 'z is on no network with VIPs; the bare endpoint (shared namespace) is left alone');
  assert.match(got.get('/run/netns/x')!, /-A WEFT-VIP -d 10\.0\.0\.2\/32 -j DNAT --to-destination 10\.0\.0\.5\n/);
  assert.not.match(got.get('/run/netns/x')!, /10\.0\.0\.6|10\.1\.0\.2/, 'a stale task is not used while a fresh one is there; no VIP of another network');
  assert.match(got.get('/run/netns/y')!, /-d 10\.1\.0\.2\/32 -j DNAT --to-destination 10\.1\.0\.5\n/, 'db has only a stale task: it is used');
  assert.match(got.get('/run/netns/y')!, /-d 10\.0\.0\.2\/32 -j DNAT/);
});

test('a failed apply is said once and retried after RETRY_MS; unchanged rules are not re-applied', async () => {
  const rows = [row('_cluster', 'vips', 's1', enc.encode(JSON.stringify({ service: 'api', vips: { NA: '10.0.0.2/24' } }))), task('NA', 'a1', 'api', '10.0.0.5')];
  let fail = true;
  let calls = 0;
  const hooks: boolean[] = [];
  const nf: Netfilter = {
    async apply(_ns, _r, hook) {
      calls++;
      if (fail) throw new Error('spawn nsenter ENOENT');
      hooks.push(hook);
    },
  };
  const warnings: unknown[] = [];
  const log = { ...silentLogger, warn: (m: string, f?: unknown) => void warnings.push([m, f]) };
  let t = 1000;
  const b = createBalancer(() => tables(rows), nf, log, () => t);
  const sbs = [sandbox('x', { a: 'NA' })];
  await b.reconcile(sbs, vipsOf(rows));
  await b.reconcile(sbs, vipsOf(rows));
  assert.is(calls, 1, 'no retry before RETRY_MS');
  assert.is(warnings.length, 1);
  assert.match(JSON.stringify(warnings[0]), /Install iptables/);
  t += RETRY_MS;
  fail = false;
  await b.reconcile(sbs, vipsOf(rows));
  await b.reconcile(sbs, vipsOf(rows));
  assert.is(calls, 2, 'retried once, then nothing changes');
  assert.equal(hooks, [true], 'the OUTPUT jump is made on the first successful apply');
  assert.is(warnings.length, 1, 'said once');
});

test('Retained: entries gone without a tombstone are kept for the grace; a tombstone drops them at once', () => {
  const rows = [row('_cluster', 'vips', 's1', enc.encode(JSON.stringify({ service: 'api', vips: { NA: '10.0.0.2/24' } }))), row('_cluster', 'vips', 's2', enc.encode(JSON.stringify({ service: 'db', vips: { NA: '10.0.0.3/24' } })))];
  let live = [...rows];
  const tb: Tables = { ...tables([]), entries: (n, t) => live.filter((e) => e.network === n && e.table === t && !e.deleted), get: (n, t, k) => live.find((e) => e.network === n && e.table === t && e.key === k) };
  const r = new Retained('vips', VipEntry);
  assert.equal([...r.view(tb, 0, 1000).keys()], ['s1', 's2']);
  // The leader leaves: both entries vanish (no tombstones).
  live = [];
  assert.equal([...r.view(tb, 100, 1000).keys()], ['s1', 's2'], 'kept');
  assert.equal([...r.view(tb, 1099, 1000).keys()], ['s1', 's2'], 'still within the grace');
  // Back, but s2 was deleted meanwhile (a tombstone).
  live = [rows[0]!, { ...rows[1]!, deleted: true }];
  assert.equal([...r.view(tb, 1200, 1000).keys()], ['s1']);
  live = [];
  assert.equal([...r.view(tb, 1300, 1000).keys()], ['s1'], 'the grace starts again from the last absence');
  assert.equal([...r.view(tb, 2300, 1000).keys()], [], 'dropped after the grace');
});

test.run();

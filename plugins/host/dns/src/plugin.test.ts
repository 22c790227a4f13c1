import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, KernelCodes, type TableEntry, type Tables } from '@weft/kernel';
import { DNS_RCODE } from '@weft/net';
import { dnsPlugin, type DnsService } from './plugin.ts';
import { addrs, entry, ev, parse, query, rec } from './_testutil.ts';

const fakeTables = (seed: TableEntry[]) =>
  definePlugin({
    manifest: { name: 'tables-fake', version: '0.1.0', kernel: '^0.1.0', provides: ['tables'] },
    services: {
      tables: (): Tables => ({
        joinNetwork: async () => {},
        leaveNetwork: async () => {},
        put: () => {},
        delete: () => {},
        get: () => undefined,
        entries: (n, t) => seed.filter((e) => e.network === n && e.table === t && !e.deleted),
        peers: () => [],
      }),
    },
  });

test('the plugin provides `dns`, syncs a network from `tables`, then follows table events', async () => {
  const k = createKernel();
  const r = await k.load([
    { plugin: dnsPlugin, config: { upstreams: ['127.0.0.1:9'], ttl: 7 } },
    { plugin: fakeTables([entry('n1', 'a', rec('seeded', '10.0.0.2'))]) }, // listed after: `optional` still orders it first
  ]);
  assert.not.ok(isLeft(r), JSON.stringify(r));
  const dns = k.service('dns') as DnsService;
  const m = parse(dns.answer(query('seeded'), 'n1'));
  assert.equal(addrs(m), ['10.0.0.2']);
  assert.is(m.answers[0]!.ttl, 7);
  k.publish('table', ev('create', entry('n1', 'b', rec('web', '10.0.0.3', { aliases: ['www'] }))));
  // A payload that is not a TableEvent (a buggy publisher, past the types): ignored.
  k.publish('table', { unrelated: true } as never);
  await k.events.drain();
  assert.equal(addrs(parse(await dns.resolve(query('WWW.'), 'n1'))), ['10.0.0.3']);
  k.publish('table', ev('delete', entry('n1', 'b', undefined, { lamport: 2 })));
  await k.events.drain();
  assert.is(parse(dns.answer(query('www'), 'n1')).rcode, DNS_RCODE.NXDOMAIN);
  assert.equal(dns.records('n1').map((x) => x.name), ['seeded']);
  assert.is(dns.counters().nxdomain, 1);
  assert.equal(dns.resolver.upstreams(), [{ addr: '127.0.0.1', port: 9, family: 4 }]);
  await k.stop();
});

test('works without `tables`; bad config is refused at load with the field path', async () => {
  const k = createKernel();
  assert.not.ok(isLeft(await k.load([{ plugin: dnsPlugin, config: { upstreams: [] } }])));
  k.publish('table', ev('create', entry('n', 'a', rec('solo', '10.0.0.9'))));
  await k.events.drain();
  assert.equal(addrs(parse((k.service('dns') as DnsService).answer(query('solo'), 'n'))), ['10.0.0.9']);
  await k.stop();
  const bad = await createKernel().load([{ plugin: dnsPlugin, config: { upstreams: ['8.8.8.8', 'dns.google'] } }]);
  assert.ok(isLeft(bad) && bad.left[0]!.code === KernelCodes.badConfig && bad.left[0]!.path === 'upstreams[1]', JSON.stringify(bad));
  const badTtl = await createKernel().load([{ plugin: dnsPlugin, config: { ttl: 1.5 } }]);
  assert.ok(isLeft(badTtl) && badTtl.left[0]!.path === 'ttl');
});

test('upstreams default to the nameservers of the resolv.conf given', async () => {
  const { fileURLToPath } = await import('node:url');
  const path = fileURLToPath(new URL('./testdata/resolv.conf', import.meta.url));
  const k = createKernel();
  assert.not.ok(isLeft(await k.load([{ plugin: dnsPlugin, config: { resolvConf: path } }])));
  assert.equal((k.service('dns') as DnsService).resolver.upstreams().map((u) => u.addr), ['127.0.0.53']);
  await k.stop();
  const k2 = createKernel();
  assert.not.ok(isLeft(await k2.load([{ plugin: dnsPlugin, config: { resolvConf: `${path}.missing` } }])));
  assert.equal((k2.service('dns') as DnsService).resolver.upstreams(), []);
  await k2.stop();
});

test("the service answers from all of the client's networks only when the client is passed", async () => {
  const k = createKernel();
  await k.load([{ plugin: dnsPlugin, config: { upstreams: [] } }]);
  k.publish('table', ev('create', entry('A', 'a1', rec('app', '10.1.0.5'))));
  k.publish('table', ev('create', entry('B', 'b1', rec('app', '10.2.0.5'))));
  k.publish('table', ev('create', entry('B', 'b2', rec('db', '10.2.0.7'))));
  await k.events.drain();
  const dns = k.service('dns')!;
  // One object reused for every query, as the switch does (the service must not keep it).
  const client = { ipv4: 0x0a010005, mac: 0x02420a000002 }; // 10.1.0.5, rec()'s MAC
  assert.equal(addrs(parse(dns.answer(query('db'), 'A', undefined, client))), ['10.2.0.7']);
  assert.equal(addrs(parse((await dns.resolve(query('db'), 'A', undefined, client))!)), ['10.2.0.7']);
  client.mac = 0x02420a000099; // another sandbox's MAC with app's address: A's names only
  assert.is(parse(dns.answer(query('db'), 'A', undefined, client)).rcode, DNS_RCODE.NXDOMAIN);
  client.mac = 0x02420a000002;
  client.ipv4 = 0x0a010063; // 10.1.0.99: no endpoint holds it
  assert.is(parse(dns.answer(query('db'), 'A', undefined, client)).rcode, DNS_RCODE.NXDOMAIN);
  // Without a client, the query's network only, whatever the bytes around the payload: a view
  // into a frame from app (the old implicit layout) is no longer read.
  const q = query('db');
  const frame = new Uint8Array(14 + 20 + 8 + q.length);
  frame.set([0x02, 0x42, 0x0a, 0x00, 0x00, 0x02], 6);
  frame.set([0x08, 0x00], 12);
  frame.set([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, 5, 10, 1, 0, 1], 14);
  frame.set([0xc0, 0x01, 0, 53, (8 + q.length) >> 8, (8 + q.length) & 255, 0, 0], 34);
  frame.set(q, 42);
  assert.is(parse(dns.answer(frame.subarray(42), 'A')).rcode, DNS_RCODE.NXDOMAIN);
  await k.stop();
});

test.run();

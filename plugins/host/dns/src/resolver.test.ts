import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DNS_RCODE, DNS_TYPE, buildDnsQuery, parseIPv4, parseMac, unwrap } from '@weft/net';
import type { DnsClient } from '@weft/kernel';
import { createResolver } from './resolver.ts';
import { addrs, entry, ev, parse, query, rec } from './_testutil.ts';

const N = 'net1';
const populated = (opts: Parameters<typeof createResolver>[0] = {}) => {
  const r = createResolver(opts);
  r.apply(ev('create', entry(N, 'c1', rec('web', '10.0.0.2', { ipv6: 'fd00::2', aliases: ['Frontend'] }))));
  r.apply(ev('create', entry(N, 'c2', rec('db', '10.0.0.3'))));
  for (let i = 1; i <= 3; i++) {
    r.apply(ev('create', entry(N, `v${i}`, rec(`api.${i}.aaa`, `10.0.1.${i}`, { service: 'api', serviceVip: '10.0.1.250', aliases: ['backend'] }))));
    r.apply(ev('create', entry(N, `d${i}`, rec(`rr.${i}.bbb`, `10.0.2.${i}`, { service: 'rr' }))));
  }
  return r;
};
const ask = (r: ReturnType<typeof createResolver>, name: string, type: number = DNS_TYPE.A, net = N) => r.answer(query(name, type), Infinity, net);

test('names and aliases answer A and AAAA, case-insensitively, with or without the trailing dot', () => {
  const r = populated();
  for (const n of ['web', 'WEB', 'Web.', 'frontend', 'FRONTEND.']) {
    const m = parse(ask(r, n));
    assert.is(m.rcode, DNS_RCODE.NOERROR, n);
    assert.ok(m.aa);
    assert.equal(addrs(m), ['10.0.0.2'], n);
    assert.is(m.questions[0]!.name, n.endsWith('.') ? n.slice(0, -1) : n, 'question echoed with the client\'s case');
    assert.is(m.answers[0]!.ttl, 5, 'default TTL 5 s');
  }
  assert.equal(addrs(parse(ask(r, 'web', DNS_TYPE.AAAA))), ['fd00::2']);
  assert.equal(addrs(parse(ask(r, 'web', DNS_TYPE.ANY))), ['10.0.0.2', 'fd00::2']);
});

test('a known name without records of the type is NOERROR and empty; unknown single-label names are NXDOMAIN', () => {
  const r = populated();
  const nodata = parse(ask(r, 'db', DNS_TYPE.AAAA));
  assert.is(nodata.rcode, DNS_RCODE.NOERROR);
  assert.is(nodata.answers.length, 0);
  const mx = parse(ask(r, 'db', DNS_TYPE.MX));
  assert.is(mx.rcode, DNS_RCODE.NOERROR);
  assert.is(mx.answers.length, 0);
  const nx = parse(ask(r, 'nosuch'));
  assert.is(nx.rcode, DNS_RCODE.NXDOMAIN);
  assert.ok(nx.aa);
  assert.is(parse(ask(r, 'tasks.nosuch')).rcode, DNS_RCODE.NXDOMAIN);
  assert.is(parse(ask(r, 'web', DNS_TYPE.A, 'other-net')).rcode, DNS_RCODE.NXDOMAIN, 'names are per network');
  const c = r.counters();
  assert.is(c.nodata, 2);
  assert.is(c.nxdomain, 3);
});

test('a miss waits for a sync of its network: a name that exists elsewhere resolves; one that does not is NXDOMAIN after it', async () => {
  let syncs = 0;
  let t = 0;
  const r = createResolver({
    now: () => t,
    sync: async (network) => {
      syncs++;
      // The bulk sync brings alpine2's record, written on another node.
      await new Promise((res) => setTimeout(res, 20));
      if (network === N) r.apply(ev('create', entry(N, 'a2', rec('alpine2', '10.0.0.9', { node: 'node-2' }))));
    },
  });
  const q = query('alpine2');
  assert.is(r.answer(q, Infinity, N), 'forward', 'held for the sync, not NXDOMAIN');
  const m = parse(await r.forward(q));
  assert.is(m.rcode, DNS_RCODE.NOERROR);
  assert.equal(addrs(m), ['10.0.0.9']);
  // Through resolve() (the Docker bridge's path) too, and a name that exists nowhere: NXDOMAIN after the sync.
  t += 5000;
  const nx = parse(await r.resolve(query('nosuch'), Infinity, N));
  assert.is(nx.rcode, DNS_RCODE.NXDOMAIN);
  assert.is(syncs, 2);
  // Right after a sync the tables are fresh: a miss is NXDOMAIN at once, without another sync.
  assert.is(parse(r.answer(query('nosuch2'), Infinity, N)).rcode, DNS_RCODE.NXDOMAIN);
  assert.is(syncs, 2);
  // Concurrent misses share one sync.
  t += 5000;
  const qs = ['x1', 'x2', 'x3'].map((n) => query(n));
  for (const x of qs) assert.is(r.answer(x, Infinity, N), 'forward');
  const all = await Promise.all(qs.map((x) => r.forward(x)));
  assert.equal(all.map((b) => parse(b).rcode), [DNS_RCODE.NXDOMAIN, DNS_RCODE.NXDOMAIN, DNS_RCODE.NXDOMAIN]);
  assert.is(syncs, 3);
  assert.is(r.counters().missSyncs, 5);
  // External names are not held.
  assert.is(r.answer(query('example.com'), Infinity, N), 'forward');
});

test('external names, other classes and the root are forwarded', () => {
  const r = populated();
  assert.is(ask(r, 'example.com'), 'forward');
  assert.is(ask(r, 'www.example.com', DNS_TYPE.AAAA), 'forward');
  assert.is(ask(r, '.', DNS_TYPE.NS), 'forward');
  const ch = unwrap(buildDnsQuery({ id: 7, name: 'web', type: DNS_TYPE.A }));
  ch[ch.length - 1] = 3; // class CH
  assert.is(r.answer(ch, ch.length, N), 'forward');
});

test('cluster domain: NAME.domain resolves like NAME; unknown names under it are NXDOMAIN', () => {
  const r = populated({ domain: 'Weft.Local' });
  assert.equal(addrs(parse(ask(r, 'web.weft.local'))), ['10.0.0.2']);
  assert.equal(addrs(parse(ask(r, 'tasks.rr.WEFT.LOCAL.'))), ['10.0.2.1', '10.0.2.2', '10.0.2.3']);
  assert.is(parse(ask(r, 'nosuch.sub.weft.local')).rcode, DNS_RCODE.NXDOMAIN);
  assert.is(ask(r, 'weft.local'), 'forward');
});

test('VIP mode answers the VIP; tasks.NAME and dnsrr rotate through every task', () => {
  const r = populated();
  assert.equal(addrs(parse(ask(r, 'api'))), ['10.0.1.250']);
  assert.equal(addrs(parse(ask(r, 'backend'))), ['10.0.1.250'], 'service aliases');
  assert.equal(addrs(parse(ask(r, 'api'))), ['10.0.1.250'], 'a VIP does not rotate');
  const seen = [0, 1, 2, 3].map(() => addrs(parse(ask(r, 'rr'))));
  assert.equal(seen, [
    ['10.0.2.1', '10.0.2.2', '10.0.2.3'],
    ['10.0.2.2', '10.0.2.3', '10.0.2.1'],
    ['10.0.2.3', '10.0.2.1', '10.0.2.2'],
    ['10.0.2.1', '10.0.2.2', '10.0.2.3'],
  ]);
  const tasks = [0, 1].map(() => addrs(parse(ask(r, 'tasks.api'))));
  assert.equal(tasks, [['10.0.1.1', '10.0.1.2', '10.0.1.3'], ['10.0.1.2', '10.0.1.3', '10.0.1.1']]);
  assert.equal(addrs(parse(ask(r, 'tasks.backend'))), ['10.0.1.1', '10.0.1.2', '10.0.1.3'], 'tasks.ALIAS');
  assert.equal(addrs(parse(ask(r, 'rr.2.bbb'))), ['10.0.2.2'], 'a task by its own (dotted) name');
});

test('dual-stack services: AAAA of the service is its IPv6 VIP, A its IPv4 one; tasks.NAME and dnsrr answer the tasks\' IPv6 addresses; PTR of the IPv6 VIP is the service', () => {
  const r = createResolver({});
  for (let i = 1; i <= 2; i++) {
    r.apply(ev('create', entry(N, `s${i}`, rec(`web.${i}.x`, `10.0.5.${i}/24`, { ipv6: `fd00:5::${i}/64`, service: 'web', serviceVip: '10.0.5.250/24', serviceVip6: 'fd00:5::fa/64', aliases: ['front'] }))));
    r.apply(ev('create', entry(N, `r${i}`, rec(`rr.${i}.y`, `10.0.6.${i}`, { ipv6: `fd00:6::${i}`, service: 'rr', serviceVip6: 'fd00:6::fa', endpointMode: 'dnsrr' }))));
  }
  r.apply(ev('create', entry(N, 'o1', rec('old.1.z', '10.0.7.1', { ipv6: 'fd00:7::1', service: 'old', serviceVip: '10.0.7.250' }))));
  assert.equal(addrs(parse(ask(r, 'web', DNS_TYPE.AAAA))), ['fd00:5::fa']);
  assert.equal(addrs(parse(ask(r, 'web'))), ['10.0.5.250']);
  assert.equal(addrs(parse(ask(r, 'front', DNS_TYPE.AAAA))), ['fd00:5::fa'], 'service alias');
  assert.equal(addrs(parse(ask(r, 'web', DNS_TYPE.ANY))), ['10.0.5.250', 'fd00:5::fa']);
  assert.equal(addrs(parse(ask(r, 'tasks.web', DNS_TYPE.AAAA))).sort(), ['fd00:5::1', 'fd00:5::2']);
  assert.equal(addrs(parse(ask(r, 'tasks.front', DNS_TYPE.AAAA))).sort(), ['fd00:5::1', 'fd00:5::2'], 'tasks.ALIAS');
  assert.equal(addrs(parse(ask(r, 'rr', DNS_TYPE.AAAA))).sort(), ['fd00:6::1', 'fd00:6::2'], 'dnsrr: the tasks, not a VIP');
  const noV6 = parse(ask(r, 'old', DNS_TYPE.AAAA));
  assert.is(noV6.rcode, DNS_RCODE.NOERROR, 'a service with an IPv4 VIP only: NODATA for AAAA');
  assert.equal(addrs(noV6), []);
  const nibbles = (v6: string) => v6.split('').reverse().join('.');
  assert.equal(parse(ask(r, `${nibbles('fd000005' + '0'.repeat(22) + 'fa')}.ip6.arpa`, DNS_TYPE.PTR)).answers.map((a) => a.target), ['web']);
  assert.equal(parse(ask(r, `${nibbles('fd000005' + '0'.repeat(23) + '1')}.ip6.arpa`, DNS_TYPE.PTR)).answers.map((a) => a.target), ['web.1.x']);
  const vipRecord = r.records(N).find((x) => x.kind === 'service-vip' && x.name === 'web');
  assert.equal([vipRecord?.ipv4, vipRecord?.ipv6], ['10.0.5.250', 'fd00:5::fa'], 'records(): one VIP record with both addresses');
});

test('stale entries (owner unreachable, in grace) are still answered; a delete removes the record', () => {
  const r = populated();
  r.apply(ev('update', entry(N, 'c2', rec('db', '10.0.0.3'), { stale: true, lamport: 1 })));
  assert.equal(addrs(parse(ask(r, 'db'))), ['10.0.0.3']);
  assert.ok(r.records(N).find((x) => x.name === 'db')!.stale);
  r.apply(ev('delete', entry(N, 'c2', undefined, { lamport: 2 })));
  assert.is(parse(ask(r, 'db')).rcode, DNS_RCODE.NXDOMAIN);
  assert.is(r.records(N).find((x) => x.name === 'db'), undefined);
});

test('duplicate names during a move: both answered, fresh claim first', () => {
  const r = populated();
  r.apply(ev('update', entry(N, 'c2', rec('db', '10.0.0.3', { node: 'node-1' }), { stale: true, lamport: 4 })));
  r.apply(ev('create', entry(N, 'c9', rec('db', '10.0.0.33', { node: 'node-2' }), { lamport: 5, owner: 'node-2' })));
  assert.equal(addrs(parse(ask(r, 'db'))), ['10.0.0.33', '10.0.0.3']);
});

test('TTL is configurable; large answer sets are truncated with TC, not dropped', () => {
  const r = createResolver({ ttl: 30 });
  for (let i = 0; i < 60; i++) r.apply(ev('create', entry(N, `t${i}`, rec(`big.${i}`, `10.0.3.${i + 1}`, { service: 'big' }))));
  const m = parse(ask(r, 'big'));
  assert.is(m.answers[0]!.ttl, 30);
  assert.ok(m.tc, 'TC set without EDNS (512 bytes)');
  assert.ok(m.answers.length > 0 && m.answers.length < 60);
  const e = parse(r.answer(query('big', DNS_TYPE.A, 4096), Infinity, N));
  assert.not.ok(e.tc);
  assert.is(e.answers.length, 60);
  assert.throws(() => createResolver({ ttl: -1 }), /TTL/);
});

test('initial sync reads the network from the source once; later events apply on top', () => {
  let calls = 0;
  const r = createResolver({ source: (n) => { calls++; return n === N ? [entry(N, 'x', rec('seeded', '10.0.9.9'))] : undefined; } });
  assert.equal(addrs(parse(ask(r, 'seeded'))), ['10.0.9.9']);
  r.apply(ev('create', entry(N, 'y', rec('later', '10.0.9.10'))));
  assert.equal(addrs(parse(ask(r, 'later'))), ['10.0.9.10']);
  assert.equal(addrs(parse(ask(r, 'seeded'))), ['10.0.9.9']);
  assert.is(calls, 1);
});

test('malformed input: FORMERR when there is a header, dropped otherwise, never a throw', () => {
  const r = populated();
  assert.is(r.answer(new Uint8Array(5), 5, N), 'drop');
  const q = query('web');
  const formerr = parse(r.answer(q, 20, N)); // truncated question
  assert.is(formerr.rcode, DNS_RCODE.FORMERR);
  assert.is(formerr.id, (q[0]! << 8) | q[1]!);
  const resp = r.answer(q, q.length, N) as Uint8Array;
  assert.is(r.answer(resp, resp.length, N), 'drop', 'responses are never answered');
  const two = q.slice();
  two[5] = 2; // QDCOUNT 2, one question present
  assert.is(parse(r.answer(two, two.length, N)).rcode, DNS_RCODE.FORMERR);
  const notify = q.slice();
  notify[2] = (notify[2]! & 0x87) | (4 << 3); // opcode NOTIFY
  assert.is(parse(r.answer(notify, notify.length, N)).rcode, DNS_RCODE.NOTIMP);
  const c = r.counters();
  assert.is(c.malformed, 4);
  assert.is(c.dropped, 2);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const out = r.answer(bytes, bytes.length, N);
      return out === 'drop' || out === 'forward' || out instanceof Uint8Array;
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: q.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: q.length }), (i, v, len) => {
      const m = q.slice();
      m[i] = v;
      const out = r.answer(m, len, N);
      return out === 'drop' || out === 'forward' || out instanceof Uint8Array;
    }),
    { numRuns: 3000 },
  );
});

test('counters: queries and answers', () => {
  const r = populated();
  ask(r, 'web');
  ask(r, 'example.com');
  const c = r.counters();
  assert.is(c.queries, 2);
  assert.is(c.answers, 1);
});

test('PTR: addresses on the network answer with their names (VIP with the service); others are forwarded', () => {
  const r = populated();
  r.apply(ev('create', entry(N, 'six', rec('v6only', '', { ipv6: 'fd00::abcd' }))));
  const ptr = (name: string) => parse(ask(r, name, DNS_TYPE.PTR));
  const t = (name: string) => ptr(name).answers.map((a) => a.target);
  assert.equal(t('2.0.0.10.in-addr.arpa'), ['web']);
  assert.equal(t('2.0.0.10.IN-ADDR.ARPA.'), ['web']);
  assert.equal(t('250.1.0.10.in-addr.arpa'), ['api']);
  assert.equal(t('2.1.0.10.in-addr.arpa'), ['api.2.aaa']);
  const nibbles = ('fd00' + '0'.repeat(24) + 'abcd').split('').reverse().join('.');
  assert.equal(t(`${nibbles}.ip6.arpa`), ['v6only']);
  assert.is(ask(r, `${nibbles.slice(2)}.ip6.arpa`, DNS_TYPE.PTR), 'forward', '31 nibbles');
  assert.is(ask(r, '9.9.9.10.in-addr.arpa', DNS_TYPE.PTR), 'forward');
  assert.is(ask(r, '8.8.8.8.in-addr.arpa', DNS_TYPE.PTR), 'forward');
  assert.is(ask(r, '1.2.3.in-addr.arpa', DNS_TYPE.PTR), 'forward');
  const d = populated({ domain: 'weft' });
  assert.equal(parse(ask(d, '3.0.0.10.in-addr.arpa', DNS_TYPE.PTR)).answers.map((a) => a.target), ['db.weft']);
});

test('forget drops a network; the next query reads it from the source again', () => {
  let calls = 0;
  const r = createResolver({ source: () => { calls++; return [entry(N, 'x', rec('seeded', '10.0.9.9'))]; } });
  r.apply(ev('create', entry(N, 'y', rec('later', '10.0.9.10'))));
  r.forget(N);
  assert.is(parse(ask(r, 'later')).rcode, DNS_RCODE.NXDOMAIN);
  assert.equal(addrs(parse(ask(r, 'seeded'))), ['10.0.9.9']);
  assert.is(calls, 2);
});

test("a client's sandbox gets the names of every network it is on, the query's network first; others do not", () => {
  const r = createResolver();
  // Sandbox "app" (node-1) on A and B; "web" only on A; "db" only on B; "x" on A and on C (not app's).
  r.apply(ev('create', entry('A', 'a1', rec('app', '10.1.0.5'))));
  r.apply(ev('create', entry('B', 'b1', rec('app', '10.2.0.5'))));
  r.apply(ev('create', entry('A', 'a2', rec('web', '10.1.0.6'))));
  r.apply(ev('create', entry('B', 'b2', rec('db', '10.2.0.7'))));
  r.apply(ev('create', entry('A', 'a3', rec('both', '10.1.0.8'))));
  r.apply(ev('create', entry('B', 'b3', rec('both', '10.2.0.8'))));
  r.apply(ev('create', entry('C', 'c1', rec('secret', '10.3.0.9'))));
  // Same name on another node: another sandbox, not app's.
  r.apply(ev('create', entry('C', 'c2', rec('app', '10.3.0.5', { node: 'node-2' }))));
  // The client as the switch passes it: numbers read from the frame.
  const client = (ip: string, mac?: string): DnsClient => ({ ipv4: unwrap(parseIPv4(ip)), ...(mac !== undefined ? { mac: unwrap(parseMac(mac)) } : {}) });
  const from = (name: string, ip: string | undefined, type: number = DNS_TYPE.A, mac?: string) =>
    parse(r.answer(query(name, type), Infinity, 'A', ip === undefined ? undefined : client(ip, mac)));
  assert.equal(addrs(from('db', '10.1.0.5')), ['10.2.0.7'], 'a name of B answers a query that came in on A');
  assert.equal(addrs(from('web', '10.1.0.5')), ['10.1.0.6']);
  assert.equal(addrs(from('both', '10.1.0.5')), ['10.1.0.8'], 'on a conflict the query network (A) wins');
  assert.is(from('secret', '10.1.0.5').rcode, DNS_RCODE.NXDOMAIN, 'C is not a network of this sandbox');
  assert.equal(r.scope('A', client('10.1.0.5')), ['A', 'B']);
  // With the frame's MAC: the endpoint's MAC must match (a forged source address gets A only).
  assert.equal(addrs(from('db', '10.1.0.5', DNS_TYPE.A, '02:42:0A:00:00:02')), ['10.2.0.7'], 'MACs compare as numbers, whatever the case of their text');
  assert.is(from('db', '10.1.0.5', DNS_TYPE.A, '02:42:0a:00:00:99').rcode, DNS_RCODE.NXDOMAIN, 'another MAC with app\'s address');
  // web is on A only: it gets A's names, not db.
  assert.is(from('db', '10.1.0.6').rcode, DNS_RCODE.NXDOMAIN);
  assert.is(from('db', undefined).rcode, DNS_RCODE.NXDOMAIN, 'without the client, the query network only');
  assert.is(from('db', '10.1.0.99').rcode, DNS_RCODE.NXDOMAIN, 'an address no endpoint holds: the query network only');
  // PTR of a B address, asked on A by app.
  const ptr = parse(r.answer(query('7.0.2.10.in-addr.arpa', DNS_TYPE.PTR), Infinity, 'A', client('10.1.0.5')));
  assert.equal(ptr.answers.map((a) => a.target), ['db']);
  // app leaves B: B's names stop answering for it.
  r.apply(ev('delete', entry('B', 'b1', undefined, { lamport: 2 })));
  assert.is(from('db', '10.1.0.5').rcode, DNS_RCODE.NXDOMAIN);
});

test("IPv6-only (#22): a client asking over IPv6 (ipv4 0, its IPv6 source as text) gets its sandbox's other networks too", () => {
  const r = createResolver();
  r.apply(ev('create', entry('A', 'a1', rec('app', '', { ipv6: 'fd00:1::5/64', mac: '02:42:00:00:00:05' }))));
  r.apply(ev('create', entry('B', 'b1', rec('app', '', { ipv6: 'fd00:2::5/64', mac: '02:42:00:00:00:05' }))));
  r.apply(ev('create', entry('B', 'b2', rec('db', '', { ipv6: 'fd00:2::7/64' }))));
  const v6 = (ip: string, mac?: string): DnsClient => ({ ipv4: 0, ipv6: ip, ...(mac !== undefined ? { mac: unwrap(parseMac(mac)) } : {}) });
  const ask6 = (c: DnsClient | undefined) => parse(r.answer(query('db', DNS_TYPE.AAAA), Infinity, 'A', c));
  assert.equal(addrs(ask6(v6('fd00:1:0:0::5'))), ['fd00:2::7'], 'any spelling of the address');
  assert.equal(addrs(ask6(v6('fd00:1::5', '02:42:00:00:00:05'))), ['fd00:2::7']);
  assert.is(ask6(v6('fd00:1::5', '02:42:00:00:00:99')).rcode, DNS_RCODE.NXDOMAIN, 'a forged source with another MAC: A only');
  assert.is(ask6(v6('not-an-address')).rcode, DNS_RCODE.NXDOMAIN, 'unparsable: the query network only');
  assert.equal(r.scope('A', v6('fd00:1::5')), ['A', 'B']);
});

test.run();

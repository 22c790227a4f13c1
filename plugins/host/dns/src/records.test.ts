import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { formatIP } from '@weft/net';
import { EndpointRecord as KernelEndpointRecord } from '@weft/kernel';
import { NameTables, decodeEndpointRecord, encodeEndpointRecord, readEndpointRecord, EndpointRecord } from './records.ts';
import { entry, ev, rec } from './_testutil.ts';

const ips = (t: NameTables, net: string, name: string) => {
  const r = t.network(net)?.lookup(name);
  return r === undefined ? undefined : [...r.v4, ...r.v6].map(formatIP);
};

test('endpoint records (the kernel contract, re-exported) round-trip through the table value encoding', () => {
  const r = rec('web', '10.0.0.2', { ipv6: 'fd00::2', aliases: ['www'], service: 'web', serviceVip: '10.0.0.100', taskSlot: 3 });
  assert.equal(decodeEndpointRecord(encodeEndpointRecord(r)), r);
  assert.is(KernelEndpointRecord, EndpointRecord, 'the same codec as the kernel');
  const back = readEndpointRecord(encodeEndpointRecord(r));
  assert.ok(isRight(back));
  assert.equal((back as { right: EndpointRecord }).right, r);
});

test('invalid records are refused with the field path and the bad value quoted', () => {
  const bad = readEndpointRecord(new TextEncoder().encode(JSON.stringify({ ...rec('a', '10.0.0.2'), aliases: ['ok', 7] })));
  assert.ok(isLeft(bad));
  if (isLeft(bad)) assert.match(bad.left, 'aliases[1]');
  assert.ok(isLeft(readEndpointRecord(new Uint8Array([0xff, 0xfe]))));
  const missing = readEndpointRecord(new TextEncoder().encode('{"name":"x"}'));
  assert.ok(isLeft(missing) && missing.left.includes('missing'));
});

test('overlay-written records: addresses with prefix length, no aliases, empty name, dnsrr despite a VIP', () => {
  const t = new NameTables();
  const overlay = { name: 'web', ipv4: '10.0.0.5/24', ipv6: 'fd00::5/64', mac: '02:42:0a:00:00:05', vtep: '192.168.1.10', node: 'n1' };
  t.apply(ev('create', { ...entry('n', 'e1', undefined), deleted: false, value: encodeEndpointRecord(overlay) }));
  assert.equal(ips(t, 'n', 'web'), ['10.0.0.5', 'fd00::5']);
  t.apply(ev('create', { ...entry('n', 'e2', undefined), deleted: false, value: encodeEndpointRecord({ ...overlay, name: '', ipv4: '10.0.0.6/24', ipv6: 'garbage' }) }));
  assert.is(ips(t, 'n', '.'), undefined, 'an empty name is not indexed');
  assert.is(t.network('n')!.records().find((r) => r.endpoint === 'e2')!.ipv6, undefined, 'an unparseable address is no address');
  t.apply(ev('create', entry('n', 'e3', rec('rr.1', '10.0.0.7', { service: 'rr', serviceVip: '10.0.0.200/24', endpointMode: 'dnsrr' }))));
  t.apply(ev('create', entry('n', 'e4', rec('vip.1', '10.0.0.8', { service: 'vip', serviceVip: '10.0.0.201/24', endpointMode: 'vip' }))));
  assert.equal(ips(t, 'n', 'rr'), ['10.0.0.7']);
  assert.equal(ips(t, 'n', 'vip'), ['10.0.0.201']);
});

test('names and aliases are case-insensitive; create, update and delete events keep the table current', () => {
  const t = new NameTables();
  t.apply(ev('create', entry('n1', 'ep1', rec('Web', '10.0.0.2', { aliases: ['WWW', 'front'] }))));
  assert.equal(ips(t, 'n1', 'web'), ['10.0.0.2']);
  assert.equal(ips(t, 'n1', 'www'), ['10.0.0.2']);
  assert.equal(ips(t, 'n1', 'front'), ['10.0.0.2']);
  assert.is(ips(t, 'n2', 'web'), undefined, 'networks are separate');
  t.apply(ev('update', entry('n1', 'ep1', rec('web', '10.0.0.3', { aliases: ['front'] }), { lamport: 2 })));
  assert.equal(ips(t, 'n1', 'web'), ['10.0.0.3'], 'cached answer invalidated on update');
  assert.is(ips(t, 'n1', 'www'), undefined, 'a dropped alias stops resolving');
  t.apply(ev('delete', entry('n1', 'ep1', undefined, { lamport: 3 })));
  assert.is(ips(t, 'n1', 'web'), undefined);
  assert.is(ips(t, 'n1', 'front'), undefined);
  assert.is(t.network('n1')?.size, 0);
});

test('older updates (Lamport) do not overwrite newer ones; other tables are ignored', () => {
  const t = new NameTables();
  t.apply(ev('update', entry('n1', 'ep1', rec('web', '10.0.0.5'), { lamport: 5 })));
  t.apply(ev('update', entry('n1', 'ep1', rec('web', '10.0.0.4'), { lamport: 4 })));
  assert.equal(ips(t, 'n1', 'web'), ['10.0.0.5']);
  assert.is(t.apply(ev('create', { ...entry('n1', 'x', rec('db', '10.0.0.9')), table: 'other' })).kind, 'ignored');
  assert.is(ips(t, 'n1', 'db'), undefined);
});

test('duplicate claims are all answered: fresh before stale, newest first', () => {
  const t = new NameTables();
  t.apply(ev('create', entry('n', 'a', rec('db', '10.0.0.7'), { lamport: 3, stale: true, owner: 'node-2' })));
  t.apply(ev('create', entry('n', 'b', rec('db', '10.0.0.8'), { lamport: 1 })));
  t.apply(ev('create', entry('n', 'c', rec('db', '10.0.0.9'), { lamport: 2 })));
  assert.equal(ips(t, 'n', 'db'), ['10.0.0.9', '10.0.0.8', '10.0.0.7']);
  const recs = t.network('n')!.records();
  assert.equal(recs.map((r) => [r.endpoint, r.node, r.stale, r.kind]), [['a', 'node-2', true, 'container'], ['b', 'node-1', false, 'container'], ['c', 'node-1', false, 'container']]);
});

test('services: VIP in vip mode, all tasks in dnsrr, tasks.NAME always; service aliases', () => {
  const t = new NameTables();
  for (let i = 1; i <= 3; i++) {
    t.apply(ev('create', entry('n', `v${i}`, rec(`api.${i}.abc`, `10.0.1.${10 - i}`, { service: 'api', serviceVip: '10.0.1.100', aliases: ['backend'], taskSlot: i }))));
    t.apply(ev('create', entry('n', `d${i}`, rec(`rr.${i}.xyz`, `10.0.2.${i}`, { ipv6: `fd00::${i}`, service: 'rr' }))));
  }
  assert.equal(ips(t, 'n', 'api'), ['10.0.1.100']);
  assert.equal(ips(t, 'n', 'backend'), ['10.0.1.100']);
  assert.equal(ips(t, 'n', 'tasks.api'), ['10.0.1.7', '10.0.1.8', '10.0.1.9']);
  assert.equal(ips(t, 'n', 'tasks.backend'), ['10.0.1.7', '10.0.1.8', '10.0.1.9']);
  assert.equal(ips(t, 'n', 'api.2.abc'), ['10.0.1.8'], 'a task resolves by its own name');
  assert.equal(ips(t, 'n', 'rr'), ['10.0.2.1', '10.0.2.2', '10.0.2.3', 'fd00::1', 'fd00::2', 'fd00::3']);
  assert.ok(t.network('n')!.lookup('rr')!.rotate);
  assert.not.ok(t.network('n')!.lookup('api')!.rotate);
  const recs = t.network('n')!.records();
  const vip = recs.filter((r) => r.kind === 'service-vip');
  assert.equal(vip.map((r) => [r.name, r.ipv4, r.aliases]), [['api', '10.0.1.100', ['backend']]]);
  assert.is(recs.filter((r) => r.kind === 'task').length, 6);
  // Scaling down removes the task from every name.
  t.apply(ev('delete', entry('n', 'd2', undefined)));
  assert.equal(ips(t, 'n', 'tasks.rr'), ['10.0.2.1', '10.0.2.3', 'fd00::1', 'fd00::3']);
  for (const k of ['d1', 'd3']) t.apply(ev('delete', entry('n', k, undefined)));
  assert.is(ips(t, 'n', 'rr'), undefined);
  assert.is(ips(t, 'n', 'tasks.rr'), undefined);
});

test('an undecodable update removes what the key used to say', () => {
  const t = new NameTables();
  t.apply(ev('create', entry('n', 'k', rec('web', '10.0.0.2'))));
  const r = t.apply(ev('update', { ...entry('n', 'k', rec('web', '10.0.0.2')), value: new TextEncoder().encode('{}'), lamport: 2 }));
  assert.is(r.kind, 'invalid');
  assert.is(ips(t, 'n', 'web'), undefined);
});

test('load replaces a network from a list of entries (initial sync)', () => {
  const t = new NameTables();
  t.apply(ev('create', entry('n', 'old', rec('old', '10.0.0.9'))));
  t.load('n', [entry('n', 'a', rec('a', '10.0.0.2')), entry('n', 'b', rec('b', '10.0.0.3'))]);
  assert.is(ips(t, 'n', 'old'), undefined);
  assert.equal(ips(t, 'n', 'b'), ['10.0.0.3']);
  assert.equal(t.networks(), ['n']);
});

test('property: after any sequence of upserts and removes, lookups match a from-scratch model', () => {
  const names = ['a', 'b', 'c'];
  const services = ['s', 't'];
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('put' as const),
      key: fc.integer({ min: 1, max: 5 }),
      name: fc.constantFrom(...names),
      aliases: fc.subarray([...names, ...services]),
      service: fc.option(fc.constantFrom(...services), { nil: undefined }),
      vip: fc.option(fc.integer({ min: 100, max: 101 }), { nil: undefined }),
      ip: fc.integer({ min: 1, max: 6 }),
    }),
    fc.record({ kind: fc.constant('del' as const), key: fc.integer({ min: 1, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const t = new NameTables();
      const model = new Map<string, EndpointRecord>();
      let lamport = 0;
      for (const o of ops) {
        const key = `k${o.key}`;
        lamport++;
        if (o.kind === 'del') {
          model.delete(key);
          t.apply(ev('delete', entry('n', key, undefined, { lamport })));
        } else {
          const r = rec(o.name, `10.0.0.${o.ip}`, {
            aliases: o.aliases,
            ...(o.service !== undefined ? { service: o.service } : {}),
            ...(o.service !== undefined && o.vip !== undefined ? { serviceVip: `10.0.0.${o.vip}` } : {}),
          });
          model.set(key, r);
          t.apply(ev('update', entry('n', key, r, { lamport })));
        }
        for (const q of [...names, ...services, 'tasks.s', 'tasks.t']) {
          const recs = [...model.values()];
          const own = recs.filter((r) => r.name === q || (r.service === undefined && (r.aliases ?? []).includes(q)));
          const group = (g: string) => recs.filter((r) => r.service !== undefined && (r.service === g || (r.aliases ?? []).includes(g)));
          const want = new Set(own.map((r) => r.ipv4));
          const g = group(q);
          const vips = g.filter((r) => r.serviceVip !== undefined).map((r) => r.serviceVip!);
          for (const ip of vips.length > 0 ? vips : g.map((r) => r.ipv4)) want.add(ip);
          if (q.startsWith('tasks.')) for (const r of group(q.slice(6))) want.add(r.ipv4);
          const found = own.length > 0 || g.length > 0 || (q.startsWith('tasks.') && group(q.slice(6)).length > 0);
          const got = ips(t, 'n', q);
          if (!found) {
            if (got !== undefined) return false;
            continue;
          }
          if (got === undefined || got.length !== want.size || !got.every((ip) => want.has(ip))) return false;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
});

test.run();

/**
 * Root, in-process: the switch's embedded DNS on two hosts. Sandboxes resolve each other through
 * glibc (their /etc/netns/<sb>/resolv.conf names the gateway) with a `dns` service from
 * @weft/dns, then ping by name; unknown names get NXDOMAIN, AAAA is answered, and without a
 * `dns` service queries are dropped and counted. DNS is answered on the main thread, so every
 * command here runs asynchronously (a synchronous exec would block the answer).
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { twoHosts, withLab } from '@weft/sys';
import { createResolver, dnsService, encodeEndpointRecord, type EndpointRecord } from '@weft/dns';
import type { TableEntry } from '@weft/kernel';
import { DNS_RCODE, DNS_TYPE, buildDnsQuery, formatIP, parseDnsMessage, unwrap } from '@weft/net';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { buildDnsReply, dnsPayload, isDnsQuery, isDnsQuery6, readDnsClient } from './dns.ts';
import { ipv6TextKey } from './nd.ts';
import { fold, sum16 } from './frames.ts';
import { rootTest } from './testutil.ts';
import { connectPair } from '@weft/testing';

const net = { id: 'dn', vni: 4343, mtu: 1450, encrypted: false, internal: false, gateways: ['10.8.0.1/24'] };
const m1 = '02:42:0a:08:00:02';
const m2 = '02:42:0a:08:00:03';

const run = (ns: string, cmd: string, args: readonly string[]): Promise<{ code: number; out: string }> =>
  new Promise((res) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 20_000, encoding: 'utf8' }, (e, stdout, stderr) => {
      const code = e === null ? 0 : typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1;
      res({ code, out: `${stdout}${stderr}` });
    });
  });

const rec = (name: string, ipv4: string, mac: string, over: Partial<EndpointRecord> = {}): EndpointRecord => ({
  name, aliases: [], ipv4, ipv6: '', mac, vtep: '198.18.0.1', node: 'n1', ...over,
});
const entry = (key: string, r: EndpointRecord): TableEntry => ({
  network: 'dn', table: 'endpoints', key, value: encodeEndpointRecord(r), owner: r.node, lamport: 1, deleted: false, stale: false,
});

test('reply frames: IPv4 and UDP checksums verify, addresses and ports swapped', () => {
  const q = new Uint8Array(14 + 20 + 8 + 5);
  q.set([2, 0x57, 0x46, 0, 0, 1, 2, 0x42, 10, 8, 0, 2, 8, 0]);
  q.set([0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 8, 0, 2, 10, 8, 0, 1], 14);
  q.set([0x9c, 0x40, 0, 53, 0, 13, 0, 0, 1, 2, 3, 4, 5], 34);
  assert.ok(isDnsQuery(q, 0, q.length, [0x0a080001]));
  assert.not.ok(isDnsQuery(q, 0, q.length, [0x0a080009]));
  const p = dnsPayload(q);
  assert.equal([...(p ?? [])], [1, 2, 3, 4, 5]);
  const out = new Uint8Array(100);
  const n = buildDnsReply(q, new Uint8Array([9, 9, 9]), 0x025746001000, out, 0);
  assert.is(n, 14 + 20 + 8 + 3);
  assert.equal([...out.subarray(0, 6)], [2, 0x42, 10, 8, 0, 2]);
  assert.is(~fold(sum16(out, 14, 34, 0)) & 0xffff, 0, 'IPv4 header checksum');
  const ulen = 11;
  const s = sum16(out, 26, 34, 0) + 17 + ulen;
  assert.is(~fold(sum16(out, 34, 34 + ulen, s)) & 0xffff, 0, 'UDP checksum');
  assert.equal([...out.subarray(34, 38)], [0, 53, 0x9c, 0x40]);
});

/** A DNS query frame over IPv6 from fd00:8::2 (m1) to `dst`, UDP 49153 → 53. */
function query6(payload: Uint8Array, dst = [0xfd, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]): Uint8Array {
  const f = new Uint8Array(14 + 40 + 8 + payload.length);
  f.set([2, 0x57, 0x46, 0, 0x10, 0], 0);
  f.set([0x02, 0x42, 0x0a, 0x08, 0x00, 0x02], 6);
  f.set([0x86, 0xdd], 12);
  f.set([0x60, 0, 0, 0, 0, 8 + payload.length, 17, 64], 14);
  f.set([0xfd, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 22);
  f.set(dst, 38);
  f.set([0xc0, 0x01, 0, 53, 0, 8 + payload.length, 0, 0], 54);
  f.set(payload, 62);
  return f;
}

test('IPv6 (#22): queries over IPv6 to the resolver are taken; the reply is IPv6/UDP with a verifying checksum; the client is the IPv6 source', () => {
  const q = query6(new Uint8Array([1, 2, 3, 4, 5]));
  const gw = [ipv6TextKey('fd00:8::1')];
  assert.ok(isDnsQuery6(q, 0, q.length, gw));
  assert.not.ok(isDnsQuery6(q, 0, q.length, [ipv6TextKey('fd00:8::9')]), 'another address');
  assert.not.ok(isDnsQuery6(q, 0, q.length, []), 'no IPv6 resolver');
  assert.not.ok(isDnsQuery(q, 0, q.length, [0x0a080001]), 'not an IPv4 query');
  const tcp = q.slice();
  tcp[14 + 6] = 6;
  assert.not.ok(isDnsQuery6(tcp, 0, tcp.length, gw), 'TCP is not taken');
  const other = q.slice();
  other[14 + 40 + 3] = 54;
  assert.not.ok(isDnsQuery6(other, 0, other.length, gw), 'another port');
  assert.equal([...(dnsPayload(q) ?? [])], [1, 2, 3, 4, 5]);
  const short = q.slice();
  short[14 + 40 + 5] = 200;
  assert.is(dnsPayload(short), undefined, 'a UDP length past the frame');
  const client = { ipv4: 7, mac: 0, ipv6: undefined as string | undefined };
  readDnsClient(q, client);
  assert.equal(client, { ipv4: 0, mac: 0x02420a080002, ipv6: 'fd00:8:0:0:0:0:0:2' });
  const out = new Uint8Array(128);
  const n = buildDnsReply(q, new Uint8Array([9, 9, 9]), 0x025746001000, out, 0);
  assert.is(n, 14 + 40 + 8 + 3);
  assert.equal([...out.subarray(0, 6)], [2, 0x42, 10, 8, 0, 2], 'to the client MAC');
  assert.equal([...out.subarray(12, 14)], [0x86, 0xdd]);
  assert.is(out[14]! >>> 4, 6);
  assert.equal([...out.subarray(22, 38)], [...q.subarray(38, 54)], 'from the address asked');
  assert.equal([...out.subarray(38, 54)], [...q.subarray(22, 38)], 'to the client');
  assert.equal([...out.subarray(54, 58)], [0, 53, 0xc0, 0x01]);
  const ulen = 11;
  const s = sum16(out, 22, 54, 0) + 17 + ulen;
  assert.is(~fold(sum16(out, 54, 54 + ulen, s)) & 0xffff, 0, 'UDP checksum over the IPv6 pseudo-header');
  assert.ok(out[60] !== 0 || out[61] !== 0, 'never 0 over IPv6');
});

test("the query's client (source address and MAC, from the frame) goes to the dns service: it answers from all of the sandbox's networks", () => {
  const q = unwrap(buildDnsQuery({ id: 7, name: 'db', type: DNS_TYPE.A }));
  const f = new Uint8Array(14 + 20 + 8 + q.length);
  f.set([0x02, 0x42, 0x0a, 0x08, 0x00, 0x02], 6); // m1
  f.set([0x08, 0x00], 12);
  f.set([0x45, 0, 0, 20 + 8 + q.length, 0, 0, 0, 0, 64, 17, 0, 0, 10, 8, 0, 2, 10, 8, 0, 1], 14);
  f.set([0xc0, 0x01, 0, 53, 0, 8 + q.length, 0, 0], 34);
  f.set(q, 42);
  assert.ok(isDnsQuery(f, 0, f.length, [0x0a080001]));
  const client = { ipv4: 0, mac: 0, ipv6: undefined as string | undefined };
  assert.is(readDnsClient(f, client), client, 'filled in place');
  assert.equal(client, { ipv4: 0x0a080002, mac: 0x02420a080002, ipv6: undefined });
  // alpha (10.8.0.2, m1) is on dn and on db-net; db is on db-net only.
  const other = (key: string, r: EndpointRecord): TableEntry => ({ ...entry(key, r), network: 'db-net' });
  const resolver = createResolver({ upstreams: [] });
  resolver.apply({ type: 'create', entry: entry('e1', rec('alpha', '10.8.0.2/24', m1)) });
  resolver.apply({ type: 'create', entry: other('x1', rec('alpha', '10.9.0.2/24', '02:42:0a:09:00:02')) });
  resolver.apply({ type: 'create', entry: other('x2', rec('db', '10.9.0.7/24', '02:42:0a:09:00:07')) });
  const dns = dnsService(resolver);
  const payload = dnsPayload(f)!;
  const ask = (c?: { ipv4: number; mac: number; ipv6?: string | undefined }) => unwrap(parseDnsMessage(dns.answer(payload, 'dn', payload.length, c) as Uint8Array, 0));
  assert.equal(ask(client).answers.map((a) => (a.address === undefined ? '?' : formatIP(a.address))), ['10.9.0.7']);
  assert.is(ask().rcode, DNS_RCODE.NXDOMAIN, 'without the client: dn only');
});

type Addrs = { readonly ipv4?: string; readonly ipv6?: string };

/**
 * Two hosts of `lab`, each with one sandbox (s1: endpoint e1/m1, s2: e2/m2) on network `net`,
 * learned by each other's switch; both resolve through the embedded DNS at `nameserver` (their
 * resolv.conf), answered from `records(a2)`. The data paths are closed and the resolv.conf
 * files removed after `body`, whatever it does.
 */
async function withDnsPair(lab: Parameters<Parameters<typeof withLab>[1]>[0], o: {
  net: Parameters<VxlanDataPath['ensureNetwork']>[0];
  nameserver: string;
  records: (a2: string) => TableEntry[];
  e1: Addrs;
  e2: Addrs;
}, body: (p: { s1: string; s2: string; dp1: VxlanDataPath }) => Promise<void>): Promise<void> {
  const { h1, h2, a1, a2 } = twoHosts(lab);
  const s1 = lab.netns('s1');
  const s2 = lab.netns('s2');
  const records = o.records(a2);
  const dns = dnsService(createResolver({ upstreams: [], source: (n) => (n === 'dn' ? records : undefined) }));
  let dp1: VxlanDataPath | undefined;
  let dp2: VxlanDataPath | undefined;
  const etc = [s1, s2].map((s) => `/etc/netns/${s}`);
  try {
    for (const d of etc) {
      mkdirSync(d, { recursive: true });
      writeFileSync(`${d}/resolv.conf`, `nameserver ${o.nameserver}\noptions timeout:2 attempts:2\n`);
    }
    dp1 = await createVxlanDataPath({ dataPathAddr: a1, netns: h1, dns });
    dp2 = await createVxlanDataPath({ dataPathAddr: a2, netns: h2, dns });
    await connectPair(
      o.net,
      { dataPath: dp1, vtep: a1, port: { endpointId: 'e1', mac: m1, ...o.e1, ifname: 'wftd1', dstName: 'eth0', netns: s1 } },
      { dataPath: dp2, vtep: a2, port: { endpointId: 'e2', mac: m2, ...o.e2, ifname: 'wftd2', dstName: 'eth0', netns: s2 } },
    );
    await body({ s1, s2, dp1 });
  } finally {
    await dp1?.close();
    await dp2?.close();
    for (const d of etc) rmSync(d, { recursive: true, force: true });
  }
}

rootTest('embedded DNS: sandboxes on two hosts resolve each other (A, AAAA, alias), ping by name, NXDOMAIN for unknown names', () =>
  withLab('dns', (lab) => withDnsPair(lab, {
    net,
    nameserver: '10.8.0.1',
    records: (a2) => [
      entry('e1', rec('alpha', '10.8.0.2/24', m1, { ipv6: 'fd00:8::2/64' })),
      entry('e2', rec('beta', '10.8.0.3/24', m2, { aliases: ['bee'], vtep: a2, node: 'n2' })),
    ],
    e1: { ipv4: '10.8.0.2/24', ipv6: 'fd00:8::2/64' },
    e2: { ipv4: '10.8.0.3/24' },
  }, async ({ s1, s2, dp1 }) => {
    const p1 = await run(s1, 'ping', ['-c', '1', '-W', '2', 'beta']);
    assert.is(p1.code, 0, p1.out);
    assert.match(p1.out, '10.8.0.3');
    const p2 = await run(s2, 'ping', ['-c', '1', '-W', '2', 'alpha']);
    assert.is(p2.code, 0, p2.out);
    const alias = await run(s1, 'ping', ['-c', '1', '-W', '2', 'bee']);
    assert.is(alias.code, 0, alias.out);
    const a = await run(s2, 'dig', ['+short', '+tries=1', '+time=2', 'alpha', 'A']);
    assert.is(a.out.trim(), '10.8.0.2');
    const aaaa = await run(s2, 'dig', ['+short', '+tries=1', '+time=2', 'alpha', 'AAAA']);
    assert.is(aaaa.out.trim(), 'fd00:8::2');
    const nodata = await run(s1, 'dig', ['+tries=1', '+time=2', 'beta', 'AAAA']);
    assert.match(nodata.out, 'status: NOERROR');
    const nx = await run(s1, 'dig', ['+tries=1', '+time=2', 'nosuchname', 'A']);
    assert.match(nx.out, 'status: NXDOMAIN');
    assert.is((await run(s1, 'getent', ['hosts', 'nosuchname'])).code, 2, 'glibc: not found');
    const c1 = dp1.counters('dn')['port/e1'] ?? {};
    assert.ok((c1['dns_queries'] ?? 0) >= 4, JSON.stringify(c1));
    assert.is(c1['dns_answers'], c1['dns_queries'], JSON.stringify(c1));
    assert.is(c1['dns_drops'], 0);
  })));

rootTest('IPv6 (#22): an IPv6-only sandbox resolves over IPv6 (its resolv.conf names the IPv6 gateway) and pings by name', () =>
  withLab('dns6', (lab) => withDnsPair(lab, {
    net: { id: 'dn', vni: 4344, mtu: 1450, encrypted: false, internal: false, gateways: ['fd00:8::1/64'] },
    nameserver: 'fd00:8::1',
    records: (a2) => [
      entry('e1', rec('alpha', '', m1, { ipv6: 'fd00:8::2/64' })),
      entry('e2', rec('beta', '', m2, { ipv6: 'fd00:8::3/64', vtep: a2, node: 'n2' })),
    ],
    e1: { ipv6: 'fd00:8::2/64' },
    e2: { ipv6: 'fd00:8::3/64' },
  }, async ({ s1, s2, dp1 }) => {
    assert.match((await run(s1, 'ip', ['-6', 'route', 'show', 'default'])).out, 'via fd00:8::1');
    assert.is((await run(s1, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'])).out.trim(), '', 'no IPv4 address');
    const aaaa = await run(s1, 'dig', ['+short', '+tries=1', '+time=2', 'beta', 'AAAA']);
    assert.is(aaaa.out.trim(), 'fd00:8::3', aaaa.out);
    const p = await run(s2, 'ping', ['-6', '-c', '1', '-W', '2', 'alpha']);
    assert.is(p.code, 0, p.out);
    assert.match(p.out, 'fd00:8::2');
    const c1 = dp1.counters('dn')['port/e1'] ?? {};
    assert.ok((c1['dns_queries'] ?? 0) >= 1, JSON.stringify(c1));
    assert.is(c1['dns_answers'], c1['dns_queries'], JSON.stringify(c1));
  })));

rootTest('embedded DNS without a dns service: queries are dropped and counted; a resolver address other than the gateway', () =>
  withLab('dnsoff', async (lab) => {
    const { h1, a1 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    let dp: VxlanDataPath | undefined;
    try {
      dp = await createVxlanDataPath({ dataPathAddr: a1, netns: h1 });
      await dp.ensureNetwork({ ...net, resolver: '10.8.0.53' });
      await dp.addPort({ network: 'dn', endpointId: 'e1', mac: m1, ipv4: '10.8.0.2/24', ifname: 'wftd1', dstName: 'eth0', netns: s1 });
      const r = await run(s1, 'dig', ['@10.8.0.53', '+tries=1', '+time=1', 'alpha']);
      assert.match(r.out, 'timed out');
      const gw = await run(s1, 'dig', ['@10.8.0.1', '+tries=1', '+time=1', 'alpha']);
      assert.match(gw.out, 'timed out');
      const c = dp.counters('dn')['port/e1'] ?? {};
      assert.is(c['dns_queries'], 1, JSON.stringify(c));
      assert.is(c['dns_drops'], 1);
      assert.is(c['dns_answers'], 0);
      assert.ok((c['drop_not_routed'] ?? 0) >= 1, 'UDP/53 to the gateway is not the resolver here');
    } finally {
      await dp?.close();
    }
  }));

test.run();

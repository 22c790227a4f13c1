/**
 * Queries per second answered by `Resolver.answer` from a 10,000-name table, one core: parse,
 * lookup, build the reply (the switch's per-query cost without the UDP/IP framing).
 *
 *   node --import tsx plugins/host/dns/src/bench.ts [--names=10000] [--ms=1000]
 *
 * Cases: `hit` (A for a container name, a random one of the table each time), `alias`,
 * `client` (a hit through the service with the client read from the query's frame, as the switch
 * asks), `dnsrr` (a 20-task service, rotated), `nxdomain`. The last line is a JSON summary.
 */
import { DNS_TYPE, buildDnsQuery, readIPv4, readMac, unwrap } from '@weft/net';
import { createResolver } from './resolver.ts';
import { dnsService } from './plugin.ts';
import { encodeEndpointRecord } from './records.ts';

const arg = (name: string, def: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.slice(name.length + 3));
};
const names = arg('names', 10_000);
const ms = arg('ms', 1000);
const NET = 'bench';

const r = createResolver();
const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const t0 = performance.now();
for (let i = 0; i < names; i++) {
  const value = encodeEndpointRecord({ name: `c${i}`, aliases: [`alias${i}`], ipv4: ip(i + 2), ipv6: '', mac: '02:42:00:00:00:01', vtep: '192.168.0.1', node: 'n1' });
  r.apply({ type: 'create', entry: { network: NET, table: 'endpoints', key: `ep${i}`, value, owner: 'n1', lamport: 1, deleted: false, stale: false } });
}
for (let i = 0; i < 20; i++) {
  const value = encodeEndpointRecord({ name: `svc.${i}.x`, aliases: [], ipv4: ip(0x100000 + i), ipv6: '', mac: '02:42:00:00:00:02', vtep: '192.168.0.1', node: 'n1', service: 'svc' });
  r.apply({ type: 'create', entry: { network: NET, table: 'endpoints', key: `task${i}`, value, owner: 'n1', lamport: 1, deleted: false, stale: false } });
}
const loadMs = performance.now() - t0;

const pool = (make: (i: number) => string): Uint8Array[] =>
  Array.from({ length: 4096 }, (_, i) => unwrap(buildDnsQuery({ id: i, name: make(Math.floor(Math.random() * names)), type: DNS_TYPE.A })));

const run = (label: string, queries: Uint8Array[], answer = (q: Uint8Array) => r.answer(q, q.length, NET)): { case: string; qps: number } => {
  let n = 0;
  let bytes = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 256; i++) {
      const q = queries[(n + i) & 4095]!;
      const a = answer(q);
      if (a instanceof Uint8Array) bytes += a.length;
    }
    n += 256;
    now = performance.now();
  }
  const qps = Math.round((n * 1000) / (now - start));
  console.log(`${label.padEnd(9)} ${qps.toLocaleString('en-US').padStart(11)} queries/s  (${(bytes / n).toFixed(0)} B/reply)`);
  return { case: label, qps };
};

console.log(`table: ${names} containers (+${names} aliases) and a 20-task dnsrr service, loaded in ${loadMs.toFixed(0)} ms`);
run('warmup', pool((i) => `c${i}`));
/**
 * `client`: a hit asked through the service the way the switch asks, with the client (source
 * address and MAC of a sandbox in the table) taken from the Ethernet frame the query came in, so
 * the scope lookup (the client's other networks) is paid too.
 */
const framed = pool((i) => `c${i}`).map((q, i) => {
  const f = new Uint8Array(42 + q.length);
  f.set([0x02, 0x42, 0, 0, 0, 0x01], 6);
  f.set([0x08, 0x00], 12);
  const a = (i % names) + 2;
  f.set([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, (a >> 16) & 255, (a >> 8) & 255, a & 255, 10, 0, 0, 1], 14);
  f.set([0xc0, 0x01, 0, 53, (8 + q.length) >> 8, (8 + q.length) & 255, 0, 0], 34);
  f.set(q, 42);
  return f.subarray(42);
});
const svc = dnsService(r);
// As the switch does: one client object, filled from each query's frame (no allocation).
const client = { ipv4: 0, mac: 0 };
const fromFrame = (q: Uint8Array): Uint8Array => {
  const f = new Uint8Array(q.buffer, 0, q.byteOffset);
  client.ipv4 = readIPv4(f, 26);
  client.mac = readMac(f, 6);
  return q;
};
const results = [
  run('hit', pool((i) => `c${i}`)),
  run('client', framed, (q) => svc.answer(fromFrame(q), NET, q.length, client)),
  run('alias', pool((i) => `ALIAS${i}.`)),
  run('dnsrr', pool(() => 'svc')),
  run('nxdomain', pool((i) => `missing${i}`)),
];
console.log(JSON.stringify({ bench: 'dns-answer', names, ms, loadMs: Math.round(loadMs), ...Object.fromEntries(results.map((x) => [`${x.case}Qps`, x.qps])) }));

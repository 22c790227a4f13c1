/** The embedded DNS resolver (plugins/host/dns): resolver.answer and the endpoint-record decoder. */
import fc from 'fast-check';
import { createResolver, encodeEndpointRecord, type EndpointRecord } from '@weft/dns';
import type { TableEntry } from '@weft/kernel';
import { bytesMix, must, type Harness } from '../lib.ts';
import { dnsHostileSeeds, dnsValidSeeds } from './net.ts';

const NET = 'net1';
const rec = (name: string, ipv4: string, over: Partial<EndpointRecord> = {}): EndpointRecord => ({
  name, aliases: [], ipv4, ipv6: '', mac: '02:42:0a:00:00:02', vtep: '192.168.1.10', node: 'node-1', ...over,
});
const entry = (key: string, value: Uint8Array): TableEntry => ({ network: NET, table: 'endpoints', key, value, owner: 'node-1', lamport: 1, deleted: false, stale: false });

export const dnsResolver: Harness = {
  name: 'dns-resolver',
  what: 'resolver.answer (the sandbox-facing DNS server) on random, mutated and hostile queries with a populated table, plus mutated endpoint records applied as table events; no throw, a reply ≤ 4096 bytes or forward/drop, malformed/dropped/badRecords counters move',
  async make() {
    const r = createResolver({});
    const recs = [rec('web', '10.0.0.2', { ipv6: 'fd00::2', aliases: ['Frontend'] }), rec('db', '10.0.0.3'), rec('api.1.x', '10.0.1.1', { service: 'api', serviceVip: '10.0.1.250' } as Partial<EndpointRecord>)];
    recs.forEach((x, i) => r.apply({ type: 'create', entry: entry(`e${i}`, encodeEndpointRecord(x)) }));
    const recSeeds = recs.map(encodeEndpointRecord);
    let replies = 0;
    let forwards = 0;
    let drops = 0;
    let n = 0;
    return {
      arb: fc.oneof(
        { weight: 8, arbitrary: bytesMix([...dnsValidSeeds(), ...dnsHostileSeeds()], 96).map((q) => ({ q })) },
        { weight: 1, arbitrary: bytesMix(recSeeds, 64).map((v) => ({ v })) },
      ),
      check(i: { q?: Uint8Array; v?: Uint8Array }) {
        if (i.v !== undefined) {
          // A bounded set of keys, so the table cannot grow with the run.
          r.apply({ type: 'update', entry: entry(`f${n++ % 64}`, i.v) });
          return;
        }
        const q = i.q!;
        const a = r.answer(q, q.length, NET);
        if (a === 'forward') forwards++;
        else if (a === 'drop') drops++;
        else {
          must(a instanceof Uint8Array && a.length <= 4096 && a.length >= 12, `reply of ${(a as Uint8Array).length} bytes`);
          replies++;
        }
      },
      counts: () => {
        const c = r.counters();
        return { replies, forwards, drops, queries: c.queries, malformed: c.malformed, dropped: c.dropped, badRecords: c.badRecords };
      },
      after(c) {
        must((c.malformed ?? 0) > 0, 'the malformed counter did not move');
        must((c.badRecords ?? 0) > 0, 'the badRecords counter did not move');
        must(c.queries === (c.replies ?? 0) + (c.forwards ?? 0) + (c.drops ?? 0), `queries ${c.queries} ≠ replies+forwards+drops`);
      },
    };
  },
};

/** Test helpers: endpoint table entries and DNS queries/replies via @weft/net. */
import { DNS_TYPE, buildDnsQuery, formatIP, parseDnsMessage, unwrap, type DnsMessage } from '@weft/net';
import type { TableEntry, TableEvent } from '@weft/kernel';
import { encodeEndpointRecord, type EndpointRecord } from './records.ts';

export const rec = (name: string, ipv4: string, over: Partial<EndpointRecord> = {}): EndpointRecord => ({
  name,
  aliases: [],
  ipv4,
  ipv6: '',
  mac: '02:42:0a:00:00:02',
  vtep: '192.168.1.10',
  node: 'node-1',
  ...over,
});

export const entry = (
  network: string,
  key: string,
  r: EndpointRecord | undefined,
  over: Partial<Omit<TableEntry, 'value'>> = {},
): TableEntry => ({
  network,
  table: 'endpoints',
  key,
  value: r === undefined ? new Uint8Array(0) : encodeEndpointRecord(r),
  owner: r?.node ?? 'node-1',
  lamport: 1,
  deleted: r === undefined,
  stale: false,
  ...over,
});

export const ev = (type: TableEvent['type'], e: TableEntry): TableEvent => ({ type, entry: e });

let nextId = 1;
export const query = (name: string, type: number = DNS_TYPE.A, ednsUdpSize?: number): Uint8Array =>
  unwrap(buildDnsQuery({ id: nextId++ & 0xffff, name, type, ...(ednsUdpSize !== undefined ? { ednsUdpSize } : {}) }));

export const parse = (b: Uint8Array | string | undefined): DnsMessage => {
  if (!(b instanceof Uint8Array)) throw new Error(`expected reply bytes, got ${String(b)}`);
  return unwrap(parseDnsMessage(b));
};

/** Addresses in the answer section, in order. */
export const addrs = (m: DnsMessage): string[] => m.answers.map((a) => (a.address === undefined ? '?' : formatIP(a.address)));

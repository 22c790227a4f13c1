/**
 * Records that plugins exchange through the replicated tables. They are contracts between a
 * producer (the overlay driver writes them) and consumers (the data path programs peers from
 * them, the DNS resolver answers from them), so they live in the kernel, not in either plugin.
 */
import * as t from 'io-ts';
import { decode } from './codecs.ts';

/** Table of a network's endpoints: key = endpoint ID, value = an encoded EndpointRecord. */
export const ENDPOINTS_TABLE = 'endpoints';

export const EndpointRecord = t.intersection([
  t.type({
    /** Sandbox (container) name; resolvable by the embedded DNS. */
    name: t.string,
    ipv4: t.string,
    mac: t.string,
    /** Underlay address of the VTEP that hosts the endpoint. */
    vtep: t.string,
    /** Node that owns the endpoint. */
    node: t.string,
  }),
  t.partial({
    aliases: t.array(t.string),
    ipv6: t.string,
    vtepPort: t.number,
    /** Service this endpoint is a task of, its VIP, and the task slot. */
    service: t.string,
    serviceVip: t.string,
    /** The service's IPv6 VIP on a dual-stack network (answered as AAAA). */
    serviceVip6: t.string,
    endpointMode: t.union([t.literal('vip'), t.literal('dnsrr')]),
    taskSlot: t.number,
    /** The data plane that carries this endpoint's network on its host (`kernel`, `userspace`). */
    dataplane: t.union([t.literal('kernel'), t.literal('userspace')]),
  }),
]);
export type EndpointRecord = t.TypeOf<typeof EndpointRecord>;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeEndpointRecord(r: EndpointRecord): Uint8Array {
  return enc.encode(JSON.stringify(r));
}

/** Undefined for anything that is not a valid record (remote input: never trusted). */
export function decodeEndpointRecord(bytes: Uint8Array): EndpointRecord | undefined {
  let u: unknown;
  try {
    u = JSON.parse(dec.decode(bytes));
  } catch {
    return undefined;
  }
  const r = decode(EndpointRecord, u);
  return r.ok ? r.value : undefined;
}

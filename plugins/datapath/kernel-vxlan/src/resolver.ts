/**
 * The embedded DNS on the kernel path. No userspace switch sees the sandbox's frames here, so the
 * resolver is a listener of the agent's own: UDP and TCP on port 53 of the network's resolver
 * addresses (its gateways, IPv4 and IPv6, which live on `br0`) inside the network's namespace, served by
 * @weft/sys's namespace listeners (one thread for every network). A sandbox reaches it through
 * its veth and the bridge exactly as it reaches the gateway; its resolv.conf does not change
 * between paths.
 */
import type { Dns, DnsClient, Logger } from '@weft/kernel';
import { parseIPv4, type NsListeners } from '@weft/sys';

export interface ResolverCounters {
  dns_queries: number;
  dns_answers: number;
  dns_forwarded: number;
  dns_drops: number;
}

export interface Resolver {
  readonly counters: ResolverCounters;
  close(): void;
}

/**
 * Serves DNS on `addrs`:`port` inside namespace `ns` for network `network`, through `listeners`.
 * `macOf` finds the MAC of the local endpoint holding a source address (the client the `dns`
 * service checks). Resolves once every socket is bound; rejects with the reason otherwise.
 */
export async function startResolver(o: {
  readonly listeners: NsListeners;
  readonly ns: string;
  readonly network: string;
  readonly addrs: readonly string[];
  readonly port?: number;
  readonly dns: Dns | undefined;
  readonly macOf: (ipv4: number) => number | undefined;
  /** The same for an IPv6 source address (text, any spelling); absent: queries over IPv6 carry no MAC. */
  readonly macOf6?: (ipv6: string) => number | undefined;
  readonly log?: Logger;
}): Promise<Resolver> {
  const port = o.port ?? 53;
  const counters: ResolverCounters = { dns_queries: 0, dns_answers: 0, dns_forwarded: 0, dns_drops: 0 };
  const client = (address: string): DnsClient => {
    if (address.includes(':')) {
      // A query over IPv6 (the resolver listens on the network's IPv6 gateway too); a v4-mapped
      // source (::ffff:a.b.c.d, from a dual-stack socket) is the IPv4 client.
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
      if (mapped === null) {
        const mac = o.macOf6?.(address);
        return mac === undefined ? { ipv4: 0, ipv6: address } : { ipv4: 0, ipv6: address, mac };
      }
      address = mapped[1]!;
    }
    const ipv4 = parseIPv4(address);
    const mac = o.macOf(ipv4);
    return mac === undefined ? { ipv4 } : { ipv4, mac };
  };
  /** Answers one query; `send` gets the reply or nothing. */
  const answer = (q: Uint8Array, from: string, send: (r: Uint8Array) => void): void => {
    counters.dns_queries++;
    const dns = o.dns;
    if (dns === undefined) {
      counters.dns_drops++;
      return;
    }
    let r: ReturnType<Dns['answer']>;
    try {
      r = dns.answer(q, o.network, q.length, client(from));
    } catch (e) {
      o.log?.warn('kernel-vxlan: dns service failed to answer', { error: String(e) });
      r = 'drop';
    }
    if (r === 'drop') counters.dns_drops++;
    else if (r === 'forward') {
      counters.dns_forwarded++;
      dns.forward(q, q.length).then((b) => {
        if (b === undefined) counters.dns_drops++;
        else {
          counters.dns_answers++;
          send(b);
        }
      }, () => counters.dns_drops++);
    } else {
      counters.dns_answers++;
      send(r);
    }
  };
  const key = `kernel-vxlan/${o.network}`;
  await o.listeners.listen(key, { ns: o.ns, addrs: o.addrs, port, tcp: true }, (m, reply) => answer(m.bytes, m.from, reply));
  return {
    counters,
    close: () => o.listeners.close(key),
  };
}

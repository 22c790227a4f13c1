/**
 * The embedded DNS on the kernel path. No userspace switch sees the sandbox's frames here, so the
 * resolver is a listener of the agent's own: UDP and TCP sockets on port 53 of the network's
 * resolver addresses (its gateways, which live on `br0`), opened inside the network's namespace
 * and handed to Node's event loop by file descriptor. A sandbox reaches it through its veth and
 * the bridge exactly as it reaches the gateway; its resolv.conf does not change between paths.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Dns, DnsClient, Logger } from '@weft/kernel';
import { check, parseIPv4, scratchOf, setsockoptInt, udpSocket, withNetns, writeSockaddrIn, AF_INET, SOCK_CLOEXEC, SOL_SOCKET, SO_REUSEADDR, SIZEOF_SOCKADDR_IN, type Sys } from '@weft/sys';

const SOCK_STREAM = 1;

/**
 * Why this runtime cannot run the resolver, or undefined. It hands sockets opened inside the
 * network's namespace to the event loop by descriptor (`bind({ fd })`, `listen({ fd })`): Node
 * and Bun (the single-file agent) accept that; Deno's node:dgram refuses it (ERR_INVALID_FD_TYPE,
 * Deno 2.x). Without its resolver the kernel path would carry frames but answer no names, so on
 * Deno the kernel path reports itself unavailable and `auto` networks take the userspace switch.
 */
export function resolverUnsupported(): string | undefined {
  return 'Deno' in globalThis ? 'its embedded DNS needs sockets adopted by descriptor, which Deno does not support (run the agent on Node or as the single binary for the kernel path)' : undefined;
}

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

/** A TCP socket bound to addr:port in the calling thread's namespace, not yet listening (libuv listens). */
function tcpSocket(sys: Sys, addr: string, port: number): number {
  const fd = check(sys, sys.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket(AF_INET, SOCK_STREAM)');
  try {
    setsockoptInt(sys, fd, SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
    const s = scratchOf(sys);
    writeSockaddrIn(s.bytes, 256, parseIPv4(addr), port);
    check(sys, sys.bind(fd, s.addr + 256, SIZEOF_SOCKADDR_IN), `bind tcp ${addr}:${port}`);
    return fd;
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/**
 * Serves DNS on `addrs`:`port` inside namespace `ns` for network `network`. `macOf` finds the
 * MAC of the local endpoint holding a source address (the client the `dns` service checks).
 */
export function startResolver(o: {
  readonly sys: Sys;
  readonly ns: string;
  readonly network: string;
  readonly addrs: readonly string[];
  readonly port?: number;
  readonly dns: Dns | undefined;
  readonly macOf: (ipv4: number) => number | undefined;
  readonly log?: Logger;
}): Resolver {
  const port = o.port ?? 53;
  const counters: ResolverCounters = { dns_queries: 0, dns_answers: 0, dns_forwarded: 0, dns_drops: 0 };
  const closers: (() => void)[] = [];
  const client = (address: string): DnsClient => {
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
  try {
    for (const addr of o.addrs) {
      const ufd = withNetns(o.sys, o.ns, () => udpSocket(o.sys, { addr, port }));
      const u = dgram.createSocket('udp4');
      u.on('error', (e) => o.log?.warn('kernel-vxlan: resolver socket error', { addr, error: String(e) }));
      u.on('message', (msg, rinfo) => answer(msg, rinfo.address, (r) => u.send(r, rinfo.port, rinfo.address)));
      u.bind({ fd: ufd });
      u.unref();
      closers.push(() => u.close());
      const tfd = withNetns(o.sys, o.ns, () => tcpSocket(o.sys, addr, port));
      // RFC 1035 §4.2.2 / RFC 7766: two-byte length, then the message; several per connection.
      const srv = net.createServer((c) => {
        let buf = Buffer.alloc(0);
        c.setTimeout(10_000, () => c.destroy());
        c.on('error', () => c.destroy());
        c.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2) {
            const len = buf.readUInt16BE(0);
            if (buf.length < 2 + len) break;
            const q = buf.subarray(2, 2 + len);
            buf = buf.subarray(2 + len);
            answer(q, c.remoteAddress?.replace(/^::ffff:/, '') ?? '0.0.0.0', (r) => {
              const h = Buffer.alloc(2);
              h.writeUInt16BE(r.length);
              if (!c.destroyed) c.write(Buffer.concat([h, r]));
            });
          }
        });
      });
      srv.on('error', (e) => o.log?.warn('kernel-vxlan: resolver TCP error', { addr, error: String(e) }));
      srv.listen({ fd: tfd });
      srv.unref();
      closers.push(() => srv.close());
    }
  } catch (e) {
    for (const c of closers) c();
    throw e;
  }
  return {
    counters,
    close() {
      for (const c of closers.splice(0)) {
        try {
          c();
        } catch {
          /* already closed */
        }
      }
    },
  };
}

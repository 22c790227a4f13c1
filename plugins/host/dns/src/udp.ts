/**
 * The socket side, on node:dgram (Node and Deno): one exchange with an upstream resolver, and a
 * UDP server answering with a resolver (tests, hosts without the userspace switch).
 */
import dgram from 'node:dgram';
import { dnsNameEquals, parseDnsMessage, type DnsQuestion } from '@weft/net';
import type { Upstream } from './resolvconf.ts';

export type ExchangeResult = Uint8Array | 'timeout' | 'error';

/** Sends `query` to `upstream` and waits for its reply; never rejects. */
export type Exchange = (query: Uint8Array, upstream: Upstream, timeoutMs: number, question: DnsQuestion | undefined) => Promise<ExchangeResult>;

/**
 * One socket per exchange, bound to a random port by the OS: the source port is part of what a
 * spoofer must guess (RFC 5452 §9.2). A reply is accepted only from the upstream's address and
 * port, with our ID, QR set and the same question; anything else is ignored until the timeout.
 */
export const udpExchange: Exchange = (query, upstream, timeoutMs, question) =>
  new Promise<ExchangeResult>((resolve) => {
    let done = false;
    let sock: dgram.Socket;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (r: ExchangeResult): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve(r);
    };
    try {
      sock = dgram.createSocket(upstream.family === 6 ? 'udp6' : 'udp4');
    } catch {
      resolve('error');
      return;
    }
    const zone = upstream.addr.indexOf('%');
    const bare = zone < 0 ? upstream.addr : upstream.addr.slice(0, zone);
    sock.on('error', () => finish('error'));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port !== upstream.port || (rinfo.address !== upstream.addr && rinfo.address !== bare)) return;
      if (msg.length < 12 || msg[0] !== query[0] || msg[1] !== query[1] || (msg[2]! & 0x80) === 0) return;
      if (question !== undefined) {
        const p = parseDnsMessage(msg);
        const q = p.ok ? p.value.questions[0] : undefined;
        // A reply without the question section (some FORMERR/SERVFAIL replies) is accepted by ID.
        if (p.ok && q !== undefined && (q.type !== question.type || q.class !== question.class || !dnsNameEquals(q.name, question.name))) return;
      }
      finish(new Uint8Array(msg.buffer, msg.byteOffset, msg.length).slice());
    });
    timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.send(query, upstream.port, upstream.addr, (e) => {
      if (e) finish('error');
    });
  });

/** The part of a resolver `serveUdp` needs. */
export interface UdpAnswerer {
  resolve(query: Uint8Array, len: number, network: string): Promise<Uint8Array | undefined>;
}

export interface UdpServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Answers DNS over UDP on `addr:port` (port 0: any free port) for `network`, with the
 * resolver's answers and forwards. Resolves once the socket is bound.
 */
export const serveUdp = (resolver: UdpAnswerer, addr: string, port: number, network: string): Promise<UdpServer> =>
  new Promise<UdpServer>((resolve, reject) => {
    const sock = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
    let bound = false;
    sock.on('error', (e) => {
      if (!bound) reject(e);
    });
    sock.on('message', (msg, rinfo) => {
      const q = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
      resolver
        .resolve(q, q.length, network)
        .then((r) => {
          if (r !== undefined) sock.send(r, rinfo.port, rinfo.address);
        })
        .catch(() => undefined);
    });
    sock.bind(port, addr, () => {
      bound = true;
      const a = sock.address();
      resolve({
        address: a.address,
        port: a.port,
        close: () => new Promise<void>((res) => sock.close(() => res())),
      });
    });
  });

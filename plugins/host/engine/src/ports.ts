/**
 * Published ports of a sandbox (`weft run -p [HOST_IP:]HOST_PORT:PORT[/tcp|udp]`): the agent
 * listens on HOST_IP:HOST_PORT in its own namespace and hands each TCP connection, or each UDP
 * client's datagrams, to a unix socket served by a small forwarder running inside the sandbox's
 * namespace, which reaches the sandbox's address on PORT. Unix sockets live in the file system,
 * so they cross network namespaces without a veth or NAT. The services plugin's routing mesh uses
 * the same forwarder (`PORT_FORWARDER`).
 *
 * UDP: Node has no unix datagram sockets, so datagrams travel framed over a unix stream
 * connection (2-byte big-endian length, then the payload). The agent keeps one session per
 * client address (one stream connection; the forwarder gives it one UDP socket connected to one
 * target, so replies come back from the port the client sent to), closed after `UDP_IDLE_MS`
 * without traffic either way. Replies go to the client from the published port.
 *
 * IPv6: a port published on `0.0.0.0` (the default) also listens on `[::]`, as Docker binds both
 * (`listenHosts`); an IPv6 host address (`-p [::]:8080:80`, `[::1]:…`) listens on IPv6 only. IPv6
 * sockets are v6-only, so `0.0.0.0:P` and `[::]:P` are two sockets that never collide. A host
 * without IPv6 (no `::` to bind) serves IPv4 alone, silently. The forwarder reaches the sandbox
 * on its address whatever the client's family (the hop is a unix socket).
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { PortForwarding, Ports } from '@weft/kernel';
import { evalCommand } from '@weft/sys';

/** A UDP session (client address) is closed after this long without a datagram either way. */
export const UDP_IDLE_MS = 30_000;
/** UDP sessions per published port at once; datagrams of further clients are dropped. */
export const UDP_MAX_SESSIONS = 1024;

/**
 * Run as `node -e PORT_FORWARDER TARGETS_FILE SOCK=PORT[/udp]...` (`evalCommand` of @weft/sys: the
 * same under Deno and in the single-file agent) inside a namespace: accepts on
 * each SOCK and reaches PORT on one of the addresses in TARGETS_FILE (a JSON array, read per
 * connection or UDP session, round robin). No target: the connection is closed. For `/udp`, each
 * connection carries one client's datagrams framed as [u16 length][payload], both ways.
 */
export const PORT_FORWARDER = `
const net = require('net'), fs = require('fs'), dgram = require('dgram');
const [file, ...specs] = process.argv.slice(1);
let n = 0;
const pick = () => { let ips = []; try { ips = JSON.parse(fs.readFileSync(file, 'utf8')); } catch {} return ips.length === 0 ? undefined : ips[n++ % ips.length]; };
for (const s of specs) {
  const i = s.lastIndexOf('='); const sock = s.slice(0, i); const udp = s.endsWith('/udp'); const port = Number(s.slice(i + 1).replace('/udp', ''));
  try { fs.unlinkSync(sock); } catch {}
  net.createServer((c) => {
    const ip = pick();
    if (ip === undefined) { c.destroy(); return; }
    if (!udp) {
      const u = net.connect(port, ip);
      c.pipe(u); u.pipe(c);
      u.on('error', () => c.destroy()); c.on('error', () => u.destroy());
      return;
    }
    const u = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    let buf = Buffer.alloc(0), open = true, ready = false;
    const end = () => { if (open) { open = false; try { u.close(); } catch {} c.destroy(); } };
    const flush = () => { while (open && ready && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { const len = buf.readUInt16BE(0); u.send(buf.subarray(2, 2 + len)); buf = buf.subarray(2 + len); } };
    u.on('message', (m) => { const h = Buffer.alloc(2); h.writeUInt16BE(m.length); c.write(Buffer.concat([h, m])); });
    u.on('error', end); c.on('error', end); c.on('close', end);
    c.on('data', (d) => { buf = Buffer.concat([buf, d]); flush(); });
    u.connect(port, ip, () => { ready = true; flush(); });
  }).listen(sock);
}
setInterval(() => {}, 1 << 30);
`;

/** Something listening on a published port. */
export interface PortListener {
  close(): void;
}

/**
 * `0.0.0.0` (every IPv4 address) also means `::` (every IPv6 address), as Docker publishes on both;
 * any other host is itself. TCP under Deno is the exception (`dualStackTcp`).
 */
export function listenHosts(host: string, protocol: 'tcp' | 'udp' = 'tcp'): string[] {
  return host === '0.0.0.0' && !dualStackTcp(protocol) ? ['0.0.0.0', '::'] : [host];
}

/**
 * Deno's TCP listeners ignore `ipv6Only`: a `::` socket there is dual-stack (and collides with
 * `0.0.0.0`). So under Deno, TCP on `0.0.0.0` is one `::` socket serving both families (IPv4
 * clients as `::ffff:a.b.c.d`), or `0.0.0.0` on a host without IPv6; and an explicit `[::]`
 * closes IPv4 clients' connections at once (`spliceToUnix`), though it still holds the IPv4 port.
 */
const dualStackTcp = (protocol: 'tcp' | 'udp'): boolean => protocol === 'tcp' && 'Deno' in globalThis;

/** True for the errors of binding `::` on a host without IPv6 (nothing to serve there, no error to report). */
export function noIPv6(e: unknown): boolean {
  const code = (e as { code?: string } | undefined)?.code;
  return code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL' || code === 'EPROTONOSUPPORT';
}

const isV6 = (host: string): boolean => host.includes(':');

/** Listens on `host:port` and splices every connection into the unix socket `sock` (`dual`: a `::` socket that takes IPv4 too). */
export function spliceToUnix(host: string, port: number, sock: string, onError: (e: Error) => void, dual = false): net.Server {
  const v6only = isV6(host) && !dual;
  const srv = net.createServer((c) => {
    // An IPv4 client of a v6-only listener: only where `ipv6Only` is ignored (Deno); closed, as if nothing listened.
    if (v6only && c.remoteAddress?.startsWith('::ffff:') === true) {
      c.destroy();
      return;
    }
    const u = net.connect(sock);
    c.pipe(u);
    u.pipe(c);
    u.on('error', () => c.destroy());
    c.on('error', () => u.destroy());
  });
  srv.on('error', onError);
  // IPv6 sockets are v6-only: `[::]:P` beside `0.0.0.0:P`, not over it.
  srv.listen(v6only ? { port, host, ipv6Only: true } : { port, host });
  return srv;
}

/** One length-prefixed frame: [u16 big-endian length][payload]. */
export function frameDatagram(payload: Uint8Array): Buffer {
  const h = Buffer.alloc(2 + payload.length);
  h.writeUInt16BE(payload.length, 0);
  h.set(payload, 2);
  return h;
}

/** Splits a byte stream into frames; keeps what is incomplete for the next chunk. */
export function frameReader(onFrame: (payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      onFrame(buf.subarray(2, 2 + len));
      buf = buf.subarray(2 + len);
    }
  };
}

/**
 * Listens for UDP on `host:port` and relays each client's datagrams over its own stream
 * connection to the unix socket `sock` (framed; see the module comment); replies are sent back to
 * the client from `host:port`. Sessions close after `idleMs` without traffic.
 */
export function relayUdpToUnix(host: string, port: number, sock: string, onError: (e: Error) => void, idleMs: number = UDP_IDLE_MS): PortListener & { sessions(): number; port(): number } {
  const srv = isV6(host) ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket('udp4');
  const sessions = new Map<string, { conn: net.Socket; timer: ReturnType<typeof setTimeout> }>();
  let closed = false;
  const drop = (key: string) => {
    const s = sessions.get(key);
    if (s === undefined) return;
    sessions.delete(key);
    clearTimeout(s.timer);
    s.conn.destroy();
  };
  const touch = (key: string) => {
    const s = sessions.get(key);
    if (s === undefined) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => drop(key), idleMs);
    s.timer.unref?.();
  };
  srv.on('message', (msg, rinfo) => {
    if (closed) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = sessions.get(key);
    if (s === undefined) {
      if (sessions.size >= UDP_MAX_SESSIONS) return;
      const conn = net.connect(sock);
      s = { conn, timer: setTimeout(() => undefined, 0) };
      sessions.set(key, s);
      conn.on(
        'data',
        frameReader((reply) => {
          if (closed) return;
          touch(key);
          try {
            srv.send(reply, rinfo.port, rinfo.address);
          } catch {
            drop(key); // the published socket is gone (bind failed or closed)
          }
        }),
      );
      conn.on('error', () => drop(key));
      conn.on('close', () => drop(key));
    }
    touch(key);
    s.conn.write(frameDatagram(msg));
  });
  srv.on('error', onError);
  srv.bind(port, host);
  return {
    sessions: () => sessions.size,
    port: () => {
      try {
        return srv.address().port;
      } catch {
        return 0; // not bound (yet)
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const k of [...sessions.keys()]) drop(k);
      try {
        srv.close();
      } catch {
        /* not bound */
      }
    },
  };
}

/** Binds `host:port` once (TCP or UDP): undefined when free, else the error. */
function tryBind(host: string, port: number, protocol: 'tcp' | 'udp'): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = isV6(host) ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket('udp4');
      s.once('error', (e) => {
        s.close();
        resolve(e);
      });
      s.bind(port, host, () => s.close(() => resolve(undefined)));
      return;
    }
    const s = net.createServer();
    s.once('error', (e) => resolve(e));
    s.listen(isV6(host) ? { port, host, ipv6Only: true } : { port, host }, () => s.close(() => resolve(undefined)));
  });
}

/**
 * True when `host:port` can be bound now (a clear error before the sandbox is made). For
 * `0.0.0.0`, `[::]` must be free too (unless this host has no IPv6).
 */
export async function portFree(host: string, port: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<boolean> {
  if (host === '0.0.0.0' && dualStackTcp(protocol)) {
    const e = await tryBind('::', port, protocol);
    return e === undefined || (noIPv6(e) && (await tryBind(host, port, protocol)) === undefined);
  }
  for (const [i, h] of listenHosts(host, protocol).entries()) {
    const e = await tryBind(h, port, protocol);
    if (e !== undefined && !(i > 0 && noIPv6(e))) return false;
  }
  return true;
}

/** Unix socket path of a published port in `dir` (TCP and UDP of one port number differ). */
export const portSocket = (dir: string, port: number, protocol: 'tcp' | 'udp' = 'tcp'): string => `${dir}/${port}${protocol === 'udp' ? '.udp' : ''}.sock`;

/** The forwarder's argument for one port: `SOCK=PORT` or `SOCK=PORT/udp`. */
export const forwarderSpec = (sock: string, target: number, protocol: 'tcp' | 'udp' = 'tcp'): string => `${sock}=${target}${protocol === 'udp' ? '/udp' : ''}`;

/** Starts the listener of one published port. */
export function listenPort(host: string, port: number, protocol: 'tcp' | 'udp', sock: string, onError: (e: Error) => void): PortListener {
  if (protocol === 'udp') return relayUdpToUnix(host, port, sock, onError);
  if (host !== '0.0.0.0' || !dualStackTcp(protocol)) return spliceToUnix(host, port, sock, onError);
  // Deno: one dual-stack `::` socket; `0.0.0.0` instead on a host without IPv6.
  let cur: PortListener = spliceToUnix('::', port, sock, (e) => {
    if (!noIPv6(e)) return onError(e);
    cur = spliceToUnix(host, port, sock, onError);
  }, true);
  return { close: () => cur.close() };
}

export function writeTargets(file: string, ips: readonly string[]): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(ips));
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * The `ports` service (kernel contract `Ports`): one forwarding per sandbox, its sockets and the
 * target list in `dir`. Used by the engine for `weft run -p` and by the services plugin's routing
 * mesh, so the forwarder-then-listen sequence exists once.
 */
export function createPorts(): Ports {
  return {
    free: portFree,
    forward({ dir, ports }): PortForwarding {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = `${dir}/targets.json`;
      if (!fs.existsSync(file)) writeTargets(file, []);
      const socks = ports.map((p) => ({ p, proto: p.protocol ?? 'tcp', sock: portSocket(dir, p.published, p.protocol ?? 'tcp') }));
      let listeners: PortListener[] = [];
      const close = () => {
        for (const l of listeners) l.close();
        listeners = [];
      };
      return {
        command: evalCommand(PORT_FORWARDER, [file, ...socks.map((s) => forwarderSpec(s.sock, s.p.target, s.proto))]),
        setTargets: (ips) => writeTargets(file, ips),
        targets() {
          try {
            return JSON.parse(fs.readFileSync(file, 'utf8')) as string[];
          } catch {
            return [];
          }
        },
        listen(onError) {
          close();
          listeners = socks.flatMap((s) =>
            listenHosts(s.p.host ?? '0.0.0.0', s.proto).map((h, i) =>
              // The `[::]` beside `0.0.0.0` on a host without IPv6: nothing to serve, no error.
              listenPort(h, s.p.published, s.proto, s.sock, (e) => (i > 0 && noIPv6(e) ? undefined : onError(i > 0 ? { ...s.p, host: h } : s.p, e))),
            ),
          );
        },
        close,
        remove() {
          close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

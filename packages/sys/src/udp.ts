/** UDP sockets through FFI, for batched I/O (sendmmsg/UDP_SEGMENT, recvmmsg/UDP_GRO). */
import { formatIPv4, ipv6ToBytes, parseIPv6, scanIPv4 } from '@weft/net';
import { check, scratchOf } from './host.ts';
import {
  AF_INET, AF_INET6_SOCK, SIZEOF_SOCKADDR_IN, SIZEOF_SOCKADDR_IN6, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, SOL_UDP, SO_RCVBUF, SO_RCVBUFFORCE,
  SO_REUSEADDR, SO_SNDBUF, SO_SNDBUFFORCE, UDP_GRO, type Sys,
} from './types.ts';

/** A dotted quad's value (@weft/net's parser), thrown as an error when invalid (a configuration fault). */
export function parseIPv4(s: string): number {
  const v = scanIPv4(s);
  if (v < 0) throw new Error(`Bad IPv4 address "${s}"`);
  return v;
}

export { formatIPv4 };

/** Writes a `struct sockaddr_in` at `off`. */
export function writeSockaddrIn(b: Uint8Array, off: number, ip: number, port: number): void {
  b.fill(0, off, off + SIZEOF_SOCKADDR_IN);
  b[off] = AF_INET;
  b[off + 2] = port >> 8;
  b[off + 3] = port & 255;
  b[off + 4] = ip >>> 24;
  b[off + 5] = (ip >>> 16) & 255;
  b[off + 6] = (ip >>> 8) & 255;
  b[off + 7] = ip & 255;
}

/** An IPv6 address's 16 bytes, thrown as an error when invalid (a configuration fault). */
export function parseIPv6Bytes(s: string): Uint8Array {
  const r = parseIPv6(s);
  if (!r.ok) throw new Error(`Bad IPv6 address "${s}"`);
  return ipv6ToBytes(r.value);
}

/** Writes a `struct sockaddr_in6` at `off` (flow info and scope id 0). */
export function writeSockaddrIn6(b: Uint8Array, off: number, ip: Uint8Array, port: number): void {
  b.fill(0, off, off + SIZEOF_SOCKADDR_IN6);
  b[off] = AF_INET6_SOCK;
  b[off + 2] = port >> 8;
  b[off + 3] = port & 255;
  b.set(ip.subarray(0, 16), off + 8);
}

export function setsockoptInt(sys: Sys, fd: number, level: number, name: number, value: number, what: string): void {
  const s = scratchOf(sys);
  new DataView(s.bytes.buffer, s.bytes.byteOffset).setInt32(128, value, true);
  check(sys, sys.setsockopt(fd, level, name, s.addr + 128, 4), what);
}

export interface UdpOptions {
  readonly addr: string;
  readonly port: number;
  readonly rcvbuf?: number;
  readonly sndbuf?: number;
  /** Ask for UDP_GRO on receive (coalesced datagrams plus a gso_size cmsg). */
  readonly gro?: boolean;
  readonly nonblock?: boolean;
}

/**
 * A UDP socket bound to addr:port in the calling thread's namespace: AF_INET for a dotted quad,
 * AF_INET6 for an IPv6 address (then it sends and receives `sockaddr_in6`, 28 bytes).
 */
export function udpSocket(sys: Sys, o: UdpOptions): number {
  const v6 = o.addr.includes(':');
  const fd = check(sys, sys.socket(v6 ? AF_INET6_SOCK : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (o.nonblock === true ? SOCK_NONBLOCK : 0), 0), `socket(${v6 ? 'AF_INET6' : 'AF_INET'}, SOCK_DGRAM)`);
  try {
    setsockoptInt(sys, fd, SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
    if (o.rcvbuf !== undefined && sys.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, intAt(sys, o.rcvbuf), 4) < 0) setsockoptInt(sys, fd, SOL_SOCKET, SO_RCVBUF, o.rcvbuf, 'SO_RCVBUF');
    if (o.sndbuf !== undefined && sys.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, intAt(sys, o.sndbuf), 4) < 0) setsockoptInt(sys, fd, SOL_SOCKET, SO_SNDBUF, o.sndbuf, 'SO_SNDBUF');
    if (o.gro === true) setsockoptInt(sys, fd, SOL_UDP, UDP_GRO, 1, 'UDP_GRO');
    const s = scratchOf(sys);
    if (v6) writeSockaddrIn6(s.bytes, 256, parseIPv6Bytes(o.addr), o.port);
    else writeSockaddrIn(s.bytes, 256, parseIPv4(o.addr), o.port);
    check(sys, sys.bind(fd, s.addr + 256, v6 ? SIZEOF_SOCKADDR_IN6 : SIZEOF_SOCKADDR_IN), v6 ? `bind [${o.addr}]:${o.port}` : `bind ${o.addr}:${o.port}`);
    return fd;
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

function intAt(sys: Sys, v: number): number {
  const s = scratchOf(sys);
  new DataView(s.bytes.buffer, s.bytes.byteOffset).setInt32(132, v, true);
  return s.addr + 132;
}

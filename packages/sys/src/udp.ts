/** UDP sockets through FFI, for batched I/O (sendmmsg/UDP_SEGMENT, recvmmsg/UDP_GRO). */
import { formatIPv4, scanIPv4 } from '@weft/net';
import { check, scratchOf } from './host.ts';
import {
  AF_INET, SIZEOF_SOCKADDR_IN, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, SOL_UDP, SO_RCVBUF, SO_RCVBUFFORCE,
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

/** An IPv4 UDP socket bound to addr:port in the calling thread's namespace. */
export function udpSocket(sys: Sys, o: UdpOptions): number {
  const fd = check(sys, sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (o.nonblock === true ? SOCK_NONBLOCK : 0), 0), 'socket(AF_INET, SOCK_DGRAM)');
  try {
    setsockoptInt(sys, fd, SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
    if (o.rcvbuf !== undefined && sys.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, intAt(sys, o.rcvbuf), 4) < 0) setsockoptInt(sys, fd, SOL_SOCKET, SO_RCVBUF, o.rcvbuf, 'SO_RCVBUF');
    if (o.sndbuf !== undefined && sys.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, intAt(sys, o.sndbuf), 4) < 0) setsockoptInt(sys, fd, SOL_SOCKET, SO_SNDBUF, o.sndbuf, 'SO_SNDBUF');
    if (o.gro === true) setsockoptInt(sys, fd, SOL_UDP, UDP_GRO, 1, 'UDP_GRO');
    const s = scratchOf(sys);
    writeSockaddrIn(s.bytes, 256, parseIPv4(o.addr), o.port);
    check(sys, sys.bind(fd, s.addr + 256, SIZEOF_SOCKADDR_IN), `bind ${o.addr}:${o.port}`);
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

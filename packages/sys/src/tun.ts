/** TAP devices through /dev/net/tun (drivers/net/tun.c): create, re-attach, persist, offload. */
import { check, cstr, scratchOf } from './host.ts';
import {
  F_GETFL, F_SETFL, IFF_MULTI_QUEUE, IFF_NO_PI, IFF_TAP, IFF_VNET_HDR, O_CLOEXEC, O_NONBLOCK, O_RDWR,
  SIZEOF_IFREQ, TUNSETIFF, TUNSETOFFLOAD, TUNSETPERSIST, TUNSETVNETHDRSZ, type Sys,
} from './types.ts';

export interface TapOptions {
  /** Prefix frames with a 10-byte virtio_net_hdr (needed for offloads). Default true. */
  readonly vnetHdr?: boolean;
  readonly multiQueue?: boolean;
  /** Keep the device when the last fd closes, so a restarted agent can re-attach. */
  readonly persist?: boolean;
  /** TUN_F_* flags for TUNSETOFFLOAD (TSO super-frames, partial checksums). Default 0. */
  readonly offload?: number;
  readonly nonblock?: boolean;
}

export interface Tap {
  readonly fd: number;
  readonly name: string;
}

/**
 * Opens (creating if missing) TAP `name` in the calling thread's network namespace. Opening an
 * existing persistent TAP re-attaches to it; the kernel keeps its addresses and routes.
 */
export function openTap(sys: Sys, name: string, opts: TapOptions = {}): Tap {
  if (name.length === 0 || name.length > 15) throw new Error(`Interface name "${name}" must be 1-15 characters`);
  const fd = check(sys, sys.open(cstr(sys, '/dev/net/tun'), O_RDWR | O_CLOEXEC | (opts.nonblock === true ? O_NONBLOCK : 0)), 'open /dev/net/tun');
  try {
    const s = scratchOf(sys);
    s.bytes.fill(0, 0, SIZEOF_IFREQ);
    s.bytes.set(new TextEncoder().encode(name), 0);
    let flags = IFF_TAP | IFF_NO_PI;
    if (opts.vnetHdr !== false) flags |= IFF_VNET_HDR;
    if (opts.multiQueue === true) flags |= IFF_MULTI_QUEUE;
    s.bytes[16] = flags & 0xff;
    s.bytes[17] = flags >> 8;
    check(sys, sys.ioctl(fd, TUNSETIFF, s.addr), `TUNSETIFF "${name}"`);
    let end = 0;
    while (end < 16 && s.bytes[end] !== 0) end++;
    const got = new TextDecoder().decode(s.bytes.subarray(0, end));
    if (opts.vnetHdr !== false) setVnetHdrSize(sys, fd, 10);
    if (opts.persist !== undefined) setTapPersist(sys, fd, opts.persist);
    setTapOffload(sys, fd, opts.offload ?? 0);
    return { fd, name: got };
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

export function setTapPersist(sys: Sys, fd: number, on: boolean): void {
  check(sys, sys.ioctl(fd, TUNSETPERSIST, on ? 1 : 0), 'TUNSETPERSIST');
}

export function setTapOffload(sys: Sys, fd: number, flags: number): void {
  check(sys, sys.ioctl(fd, TUNSETOFFLOAD, flags), 'TUNSETOFFLOAD');
}

export function setVnetHdrSize(sys: Sys, fd: number, size: number): void {
  const s = scratchOf(sys);
  new DataView(s.bytes.buffer, s.bytes.byteOffset).setInt32(64, size, true);
  check(sys, sys.ioctl(fd, TUNSETVNETHDRSZ, s.addr + 64), 'TUNSETVNETHDRSZ');
}

export function setNonblocking(sys: Sys, fd: number, on: boolean): void {
  const fl = check(sys, sys.fcntl(fd, F_GETFL, 0), 'fcntl F_GETFL');
  check(sys, sys.fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK), 'fcntl F_SETFL');
}

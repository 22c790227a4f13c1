/**
 * Network-device configuration through ioctls on an AF_INET socket (no `ip` process per call):
 * MAC, MTU, up, rename, IPv4 address and the default route. Each function runs in namespace
 * `ns` (a name or a path, see `withNetns`), or the calling thread's own when undefined.
 * Attaching thousands of ports this way costs microseconds each instead of a process spawn.
 */
import { ipv4PrefixMask } from '@weft/net';
import { check, scratchOf, SysError } from './host.ts';
import { withNetns } from './netns.ts';
import { parseIPv4 } from './udp.ts';
import {
  AF_INET, ARPHRD_ETHER, EEXIST, ENODEV, IFF_UP, RTF_GATEWAY, RTF_UP, SIOCADDRT, SIOCGIFFLAGS, SIOCGIFINDEX, SIOCGIFMTU,
  SIOCSIFADDR, SIOCSIFFLAGS, SIOCSIFHWADDR, SIOCSIFMTU, SIOCSIFNAME, SIOCSIFNETMASK, SIZEOF_IFREQ, SIZEOF_RTENTRY, SOCK_CLOEXEC,
  SOCK_DGRAM, type Sys,
} from './types.ts';

// Scratch layout (the 4 KiB per-thread area; cstr() uses 2048+): ifreq at 256, rtentry at 512, device name at 768.
const IFR = 256;
const RT = 512;
const DEV = 768;

function ifreq(sys: Sys, name: string): { b: Uint8Array; dv: DataView; addr: number } {
  if (name.length === 0 || name.length > 15) throw new Error(`Interface name "${name}" must be 1-15 characters`);
  const s = scratchOf(sys);
  const b = s.bytes;
  b.fill(0, IFR, IFR + SIZEOF_IFREQ);
  b.set(new TextEncoder().encode(name), IFR);
  return { b, dv: new DataView(b.buffer, b.byteOffset), addr: s.addr + IFR };
}

/** Runs `fn` with a control socket opened in `ns`. */
function withCtl<T>(sys: Sys, ns: string | undefined, fn: (fd: number) => T): T {
  return withNetns(sys, ns, () => {
    const fd = check(sys, sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket(AF_INET) for ioctls');
    try {
      return fn(fd);
    } finally {
      sys.close(fd);
    }
  });
}

function macBytes(mac: string): number[] {
  const p = mac.split(':');
  if (p.length !== 6 || p.some((x) => !/^[0-9a-fA-F]{1,2}$/.test(x))) throw new Error(`Bad MAC address "${mac}"`);
  return p.map((x) => parseInt(x, 16));
}

function ipv4Bytes(a: string): number[] {
  const v = parseIPv4(a);
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** The ifindex of `name` in `ns`, or undefined when there is no such device. */
export function linkIndex(sys: Sys, name: string, ns?: string): number | undefined {
  return withCtl(sys, ns, (fd) => {
    const r = ifreq(sys, name);
    if (sys.ioctl(fd, SIOCGIFINDEX, r.addr) < 0) {
      const e = sys.errno();
      if (e === ENODEV) return undefined;
      throw new SysError(`SIOCGIFINDEX "${name}"`, e);
    }
    return r.dv.getInt32(IFR + 16, true);
  });
}

export function linkMtu(sys: Sys, name: string, ns?: string): number {
  return withCtl(sys, ns, (fd) => {
    const r = ifreq(sys, name);
    check(sys, sys.ioctl(fd, SIOCGIFMTU, r.addr), `SIOCGIFMTU "${name}"`);
    return r.dv.getInt32(IFR + 16, true);
  });
}

export interface LinkConfig {
  /** New name (the device is renamed while down, before anything else). */
  readonly rename?: string;
  readonly mac?: string;
  readonly mtu?: number;
  /** IPv4 address with prefix (`10.0.0.2/24`): replaces the primary address. */
  readonly ipv4?: string;
  /** Default route via this IPv4 gateway on the device (kept if one exists already). */
  readonly gateway?: string;
  readonly up?: boolean;
}

/**
 * Configures device `name` in `ns` with one control socket: rename, MAC, MTU, IPv4 address,
 * up, default route, in that order. Returns the device's final name.
 */
export function configureLink(sys: Sys, name: string, c: LinkConfig, ns?: string): string {
  return withCtl(sys, ns, (fd) => {
    let dev = name;
    if (c.rename !== undefined && c.rename !== name) {
      const r = ifreq(sys, dev);
      if (c.rename.length === 0 || c.rename.length > 15) throw new Error(`Interface name "${c.rename}" must be 1-15 characters`);
      r.b.set(new TextEncoder().encode(c.rename), IFR + 16);
      check(sys, sys.ioctl(fd, SIOCSIFNAME, r.addr), `rename "${dev}" to "${c.rename}"`);
      dev = c.rename;
    }
    if (c.mac !== undefined) {
      const r = ifreq(sys, dev);
      r.dv.setUint16(IFR + 16, ARPHRD_ETHER, true);
      r.b.set(macBytes(c.mac), IFR + 18);
      check(sys, sys.ioctl(fd, SIOCSIFHWADDR, r.addr), `set MAC ${c.mac} on "${dev}"`);
    }
    if (c.mtu !== undefined) {
      const r = ifreq(sys, dev);
      r.dv.setInt32(IFR + 16, c.mtu, true);
      check(sys, sys.ioctl(fd, SIOCSIFMTU, r.addr), `set MTU ${c.mtu} on "${dev}"`);
    }
    if (c.ipv4 !== undefined) {
      const [a, len] = c.ipv4.split('/');
      const bits = len === undefined ? 32 : Number(len);
      if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`Bad prefix length in "${c.ipv4}"`);
      const addr = ipv4Bytes(a!);
      let r = ifreq(sys, dev);
      r.dv.setUint16(IFR + 16, AF_INET, true);
      r.b.set(addr, IFR + 20);
      check(sys, sys.ioctl(fd, SIOCSIFADDR, r.addr), `set address ${c.ipv4} on "${dev}"`);
      const mask = ipv4PrefixMask(bits);
      r = ifreq(sys, dev);
      r.dv.setUint16(IFR + 16, AF_INET, true);
      r.dv.setUint32(IFR + 20, mask, false);
      check(sys, sys.ioctl(fd, SIOCSIFNETMASK, r.addr), `set netmask /${bits} on "${dev}"`);
    }
    if (c.up === true) {
      const r = ifreq(sys, dev);
      check(sys, sys.ioctl(fd, SIOCGIFFLAGS, r.addr), `get flags of "${dev}"`);
      r.dv.setInt16(IFR + 16, r.dv.getInt16(IFR + 16, true) | IFF_UP, true);
      check(sys, sys.ioctl(fd, SIOCSIFFLAGS, r.addr), `set "${dev}" up`);
    }
    if (c.gateway !== undefined) {
      const s = scratchOf(sys);
      const b = s.bytes;
      const dv = new DataView(b.buffer, b.byteOffset);
      b.fill(0, RT, RT + SIZEOF_RTENTRY);
      b.fill(0, DEV, DEV + 16);
      b.set(new TextEncoder().encode(dev), DEV);
      dv.setUint16(RT + 8, AF_INET, true); // rt_dst 0.0.0.0
      dv.setUint16(RT + 24, AF_INET, true); // rt_gateway
      b.set(ipv4Bytes(c.gateway), RT + 28);
      dv.setUint16(RT + 40, AF_INET, true); // rt_genmask 0.0.0.0
      dv.setUint16(RT + 56, RTF_UP | RTF_GATEWAY, true);
      dv.setUint32(RT + 88, (s.addr + DEV) >>> 0, true); // rt_dev
      dv.setUint32(RT + 92, Math.floor((s.addr + DEV) / 4294967296), true);
      if (sys.ioctl(fd, SIOCADDRT, s.addr + RT) < 0) {
        const e = sys.errno();
        if (e !== EEXIST) throw new SysError(`default route via ${c.gateway} dev "${dev}"`, e);
      }
    }
    return dev;
  });
}

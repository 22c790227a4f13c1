/**
 * rtnetlink (RFC 3549, linux/rtnetlink.h) over the `Sys` syscalls: links (bridge, vxlan, veth
 * with its peer in another namespace), addresses, neighbour and FDB entries, link statistics.
 * A socket belongs to the namespace it was opened in (`openNetlink(sys, ns)`), so one socket per
 * namespace programs it without entering it again.
 *
 * Requests are batched: many messages go in one `sendto` (the kernel handles every message of a
 * datagram in turn) and their acknowledgements are read back together, so 10,000 FDB entries
 * cost a few dozen system calls, not 10,000 `bridge` processes.
 */
import { check, cstr, SysError } from './host.ts';
import { netnsPath, withNetns } from './netns.ts';
import { parseIPv4 } from './udp.ts';
import { O_CLOEXEC, O_RDONLY, SOCK_CLOEXEC, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, type Mem, type Sys } from './types.ts';

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
const SOCK_RAW = 3;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;
const NETLINK_CAP_ACK = 10;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_STATS64 = 23;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_PROXY = 11;
export const IFLA_VXLAN_PORT = 15;
/** The local VTEP address when it is IPv6 (`local` of `ip link add … type vxlan`). */
export const IFLA_VXLAN_LOCAL6 = 17;
export const IFLA_BR_MCAST_SNOOPING = 23;
const NLA_F_NESTED = 0x8000;

export const IFA_LOCAL = 2;
export const IFA_ADDRESS = 1;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_PORT = 6;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;
export const AF_UNSPEC = 0;
export const AF_INET_ = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
const IFF_UP = 0x1;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Builds one netlink message: a fixed header of the family, then attributes (nested ones too). */
export class NlMessage {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  private len = 16;
  private readonly nests: number[] = [];

  constructor(type: number, flags: number) {
    this.dv.setUint16(4, type, true);
    this.dv.setUint16(6, flags | NLM_F_REQUEST, true);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n + 64));
    b.set(this.buf);
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  /** Raw bytes of the family header (`ifinfomsg`, `ndmsg`, ...), padded to 4. */
  header(bytes: Uint8Array): this {
    const padded = (bytes.length + 3) & ~3;
    this.room(padded);
    this.buf.fill(0, this.len, this.len + padded);
    this.buf.set(bytes, this.len);
    this.len += padded;
    return this;
  }

  attr(type: number, payload: Uint8Array): this {
    const n = 4 + payload.length;
    const padded = (n + 3) & ~3;
    this.room(padded);
    this.buf.fill(0, this.len, this.len + padded);
    this.dv.setUint16(this.len, n, true);
    this.dv.setUint16(this.len + 2, type, true);
    this.buf.set(payload, this.len + 4);
    this.len += padded;
    return this;
  }

  str(type: number, s: string): this {
    const b = enc.encode(s);
    const z = new Uint8Array(b.length + 1);
    z.set(b);
    return this.attr(type, z);
  }

  u8(type: number, v: number): this {
    return this.attr(type, Uint8Array.of(v));
  }

  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }

  /** A 16-bit value in network byte order (ports). */
  be16(type: number, v: number): this {
    return this.attr(type, Uint8Array.of((v >> 8) & 255, v & 255));
  }

  begin(type: number): this {
    this.room(4);
    this.nests.push(this.len);
    this.dv.setUint16(this.len + 2, type | NLA_F_NESTED, true);
    this.len += 4;
    return this;
  }

  end(): this {
    const at = this.nests.pop();
    if (at === undefined) throw new Error('netlink: end() without begin()');
    this.dv.setUint16(at, this.len - at, true);
    return this;
  }

  /** The finished message with length and sequence number. */
  bytes(seq: number): Uint8Array {
    this.dv.setUint32(0, this.len, true);
    this.dv.setUint32(8, seq >>> 0, true);
    return this.buf.subarray(0, this.len);
  }
}

/** `struct ifinfomsg`. */
export function ifinfomsg(family: number, index: number, flags = 0, change = 0): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  b[0] = family;
  dv.setInt32(4, index, true);
  dv.setUint32(8, flags, true);
  dv.setUint32(12, change, true);
  return b;
}

/** `struct ndmsg`. */
export function ndmsg(family: number, ifindex: number, state: number, flags: number): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  b[0] = family;
  dv.setInt32(4, ifindex, true);
  dv.setUint16(8, state, true);
  b[10] = flags;
  return b;
}

export function macBytes(mac: string): Uint8Array {
  const p = mac.split(':');
  if (p.length !== 6 || p.some((x) => !/^[0-9a-fA-F]{1,2}$/.test(x))) throw new Error(`Bad MAC address "${mac}"`);
  return Uint8Array.from(p.map((x) => parseInt(x, 16)));
}

export function ipv4Bytes(a: string): Uint8Array {
  const v = parseIPv4(a);
  return Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

/** IPv6 text to 16 bytes (`::` compression, no zone, no embedded IPv4). */
export function ipv6Bytes(a: string): Uint8Array {
  const out = new Uint8Array(16);
  const [head, tail] = a.includes('::') ? a.split('::') as [string, string] : [a, undefined];
  const hs = head === '' ? [] : head.split(':');
  const ts = tail === undefined || tail === '' ? [] : tail.split(':');
  if (tail === undefined && hs.length !== 8) throw new Error(`Bad IPv6 address "${a}"`);
  if (hs.length + ts.length > 8) throw new Error(`Bad IPv6 address "${a}"`);
  const put = (g: string, i: number) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`Bad IPv6 address "${a}"`);
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 255;
  };
  hs.forEach((g, i) => put(g, i));
  ts.forEach((g, i) => put(g, 8 - ts.length + i));
  return out;
}

/** One attribute of a received message. */
export interface NlAttr {
  readonly type: number;
  readonly data: Uint8Array;
}

/** Attributes in `b[off..end)` by type (the NLA_F_NESTED bit cleared). */
export function parseAttrs(b: Uint8Array, off: number, end: number): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (off + 4 <= end) {
    const len = dv.getUint16(off, true);
    const type = dv.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > end) break;
    m.set(type, b.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return m;
}

export const attrStr = (d: Uint8Array | undefined): string | undefined => (d === undefined ? undefined : dec.decode(d[d.length - 1] === 0 ? d.subarray(0, d.length - 1) : d));
export const attrU32 = (d: Uint8Array | undefined): number | undefined => (d === undefined || d.length < 4 ? undefined : new DataView(d.buffer, d.byteOffset, 4).getUint32(0, true));

/** A message received from a dump: its type and everything after the netlink header. */
export interface NlReply {
  readonly type: number;
  readonly body: Uint8Array;
}

/** A request the kernel refused: which one (its index in the batch) and why. */
export class NetlinkError extends SysError {
  readonly index: number;
  constructor(what: string, errno: number, index: number, ext?: string) {
    super(ext !== undefined && ext !== '' ? `${what} (${ext})` : what, errno);
    this.name = 'NetlinkError';
    this.index = index;
  }
}

export interface Netlink {
  /** The namespace the socket lives in (undefined: the caller's). */
  readonly ns: string | undefined;
  /**
   * Sends the messages in batches, each acknowledged. Returns one errno per message (0: done).
   * Never throws for a refused message: the caller decides (e.g. ENOENT on a delete is fine).
   */
  send(msgs: readonly NlMessage[]): number[];
  /** `send` that throws a NetlinkError for the first refused message, naming it with `what(i)`. */
  exec(msgs: readonly NlMessage[], what: (i: number) => string): void;
  /** A dump request: every reply message until NLMSG_DONE. */
  dump(msg: NlMessage): NlReply[];
  close(): void;
}

const BATCH_BYTES = 56 * 1024;
/** Messages per datagram: their acks (about 1 KiB of socket buffer each) must fit the receive buffer. */
const BATCH_MSGS = 512;
const RECV_BYTES = 1 << 20;
let io: { tx: Mem; rx: Mem } | undefined;

/** A route netlink socket opened in namespace `ns` (a name or a path; the caller's when undefined). */
export function openNetlink(sys: Sys, ns?: string): Netlink {
  io ??= { tx: sys.alloc(BATCH_BYTES + 4096), rx: sys.alloc(RECV_BYTES) };
  const { tx, rx } = io;
  const fd = withNetns(sys, ns, () => check(sys, sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), 'socket(AF_NETLINK)'));
  // Big enough for the acknowledgements of one batch; extended acks name the bad attribute.
  const one = new DataView(tx.bytes.buffer, tx.bytes.byteOffset);
  one.setInt32(0, 1, true);
  sys.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, tx.addr, 4);
  sys.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, tx.addr, 4);
  // Every message of a batch is acknowledged before the first ack is read: room for all of them.
  one.setInt32(0, 8 << 20, true);
  if (sys.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, tx.addr, 4) < 0) sys.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, tx.addr, 4);
  const sa = new Uint8Array(12);
  sa[0] = AF_NETLINK;
  tx.bytes.set(sa, 0);
  check(sys, sys.bind(fd, tx.addr, 12), 'bind(AF_NETLINK)');
  let seq = (Date.now() & 0x3fffffff) >>> 0;
  const rxv = new DataView(rx.bytes.buffer, rx.bytes.byteOffset, rx.bytes.byteLength);

  const sendRaw = (len: number): void => {
    // sockaddr_nl of the kernel (all zero) after the payload.
    tx.bytes.fill(0, BATCH_BYTES, BATCH_BYTES + 12);
    tx.bytes[BATCH_BYTES] = AF_NETLINK;
    for (;;) {
      const n = sys.sendto(fd, tx.addr, len, 0, tx.addr + BATCH_BYTES, 12);
      if (n >= 0) return;
      const e = sys.errno();
      if (e !== 4) throw new SysError('sendto(AF_NETLINK)', e);
    }
  };
  const recv = (): number => {
    for (;;) {
      const n = sys.recvfrom(fd, rx.addr, RECV_BYTES, 0, 0, 0);
      if (n >= 0) return n;
      const e = sys.errno();
      if (e !== 4) throw new SysError('recvfrom(AF_NETLINK)', e);
    }
  };
  /** Extended ack message (NLMSGERR_ATTR_MSG = 1) after the error header, when the kernel gave one. */
  const extMsg = (off: number, len: number, flags: number): string | undefined => {
    if ((flags & 0x200) === 0) return undefined; // NLM_F_ACK_TLVS
    const start = off + 16 + 4 + 16; // header, error, the request's header (capped)
    return attrStr(parseAttrs(rx.bytes, start, off + len).get(1));
  };

  const nl: Netlink = {
    ns,
    send(msgs) {
      const errs = new Array<number>(msgs.length).fill(0);
      let i = 0;
      while (i < msgs.length) {
        const first = seq;
        let len = 0;
        const start = i;
        while (i < msgs.length) {
          const m = msgs[i]!.bytes(seq);
          if (len > 0 && (len + m.length > BATCH_BYTES || i - start >= BATCH_MSGS)) break;
          if (m.length > BATCH_BYTES) throw new Error(`netlink: message of ${m.length} bytes is too large`);
          // NLM_F_ACK on every message: one reply each, in order.
          const flags = new DataView(m.buffer, m.byteOffset).getUint16(6, true);
          new DataView(m.buffer, m.byteOffset).setUint16(6, flags | NLM_F_ACK, true);
          tx.bytes.set(m, len);
          len += m.length;
          seq = (seq + 1) >>> 0;
          i++;
        }
        sendRaw(len);
        let pending = i - start;
        while (pending > 0) {
          const n = recv();
          let off = 0;
          while (off + 16 <= n && pending > 0) {
            const mlen = rxv.getUint32(off, true);
            const type = rxv.getUint16(off + 4, true);
            const mflags = rxv.getUint16(off + 6, true);
            const mseq = rxv.getUint32(off + 8, true);
            if (mlen < 16 || off + mlen > n) break;
            if (type === NLMSG_ERROR) {
              const idx = start + ((mseq - first) >>> 0);
              if (idx >= start && idx < i) {
                const err = -rxv.getInt32(off + 16, true);
                errs[idx] = err;
                if (err !== 0) lastExt.set(idx, extMsg(off, mlen, mflags));
                pending--;
              }
            }
            off += (mlen + 3) & ~3;
          }
        }
      }
      return errs;
    },
    exec(msgs, what) {
      lastExt.clear();
      const errs = nl.send(msgs);
      const bad = errs.findIndex((e) => e !== 0);
      if (bad >= 0) throw new NetlinkError(what(bad), errs[bad]!, bad, lastExt.get(bad));
    },
    dump(msg) {
      const s = seq;
      seq = (seq + 1) >>> 0;
      const m = msg.bytes(s);
      tx.bytes.set(m, 0);
      sendRaw(m.length);
      const out: NlReply[] = [];
      for (;;) {
        const n = recv();
        let off = 0;
        while (off + 16 <= n) {
          const mlen = rxv.getUint32(off, true);
          const type = rxv.getUint16(off + 4, true);
          if (mlen < 16 || off + mlen > n) break;
          if (type === NLMSG_DONE) return out;
          if (type === NLMSG_ERROR) {
            const err = -rxv.getInt32(off + 16, true);
            if (err !== 0) throw new SysError('netlink dump', err);
            return out;
          }
          out.push({ type, body: rx.bytes.slice(off + 16, off + mlen) });
          off += (mlen + 3) & ~3;
        }
      }
    },
    close() {
      sys.close(fd);
    },
  };
  const lastExt = new Map<number, string | undefined>();
  return nl;
}

/** Opens namespace `ns` (name or path) for IFLA_NET_NS_FD; close the fd after use. */
export function openNetnsFd(sys: Sys, ns: string): number {
  return check(sys, sys.open(cstr(sys, netnsPath(ns)), O_RDONLY | O_CLOEXEC), `open netns "${ns}"`);
}

// ---- rtnetlink requests -------------------------------------------------------------------------

export interface LinkSpec {
  readonly name: string;
  readonly kind: 'bridge' | 'vxlan' | 'veth';
  readonly mtu?: number;
  readonly mac?: string;
  readonly master?: number;
  readonly up?: boolean;
  /** Create it in this namespace (an fd from openNetnsFd) rather than the socket's. */
  readonly netnsFd?: number;
  readonly vxlan?: { readonly vni: number; readonly local: string; readonly port: number; readonly proxy: boolean };
  /** veth: the other end, optionally in another namespace. */
  readonly peer?: { readonly name: string; readonly mac?: string; readonly mtu?: number; readonly netnsFd?: number };
}

/** RTM_NEWLINK that creates a device (fails with EEXIST when the name is taken). */
export function nlLinkAdd(s: LinkSpec): NlMessage {
  const m = new NlMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL).header(ifinfomsg(AF_UNSPEC, 0, s.up === true ? IFF_UP : 0, s.up === true ? IFF_UP : 0));
  m.str(IFLA_IFNAME, s.name);
  if (s.mtu !== undefined) m.u32(IFLA_MTU, s.mtu);
  if (s.mac !== undefined) m.attr(IFLA_ADDRESS, macBytes(s.mac));
  if (s.master !== undefined) m.u32(IFLA_MASTER, s.master);
  if (s.netnsFd !== undefined) m.u32(IFLA_NET_NS_FD, s.netnsFd);
  m.begin(IFLA_LINKINFO).str(IFLA_INFO_KIND, s.kind);
  if (s.kind === 'vxlan' && s.vxlan !== undefined) {
    m.begin(IFLA_INFO_DATA)
      .u32(IFLA_VXLAN_ID, s.vxlan.vni)
      .attr(s.vxlan.local.includes(':') ? IFLA_VXLAN_LOCAL6 : IFLA_VXLAN_LOCAL, s.vxlan.local.includes(':') ? ipv6Bytes(s.vxlan.local) : ipv4Bytes(s.vxlan.local))
      .u8(IFLA_VXLAN_LEARNING, 0)
      .u8(IFLA_VXLAN_PROXY, s.vxlan.proxy ? 1 : 0)
      .be16(IFLA_VXLAN_PORT, s.vxlan.port)
      .end();
  } else if (s.kind === 'bridge') {
    // Multicast snooping off: a bridge of one network floods nothing it would need to learn.
    m.begin(IFLA_INFO_DATA).u8(IFLA_BR_MCAST_SNOOPING, 0).end();
  } else if (s.kind === 'veth' && s.peer !== undefined) {
    const p = s.peer;
    m.begin(IFLA_INFO_DATA).begin(VETH_INFO_PEER).header(ifinfomsg(AF_UNSPEC, 0));
    m.str(IFLA_IFNAME, p.name);
    if (p.mtu !== undefined) m.u32(IFLA_MTU, p.mtu);
    if (p.mac !== undefined) m.attr(IFLA_ADDRESS, macBytes(p.mac));
    if (p.netnsFd !== undefined) m.u32(IFLA_NET_NS_FD, p.netnsFd);
    m.end().end();
  }
  return m.end();
}

/** RTM_NEWLINK on an existing device: up/down, MTU, master. */
export function nlLinkSet(index: number, s: { readonly up?: boolean; readonly mtu?: number; readonly master?: number; readonly mac?: string }): NlMessage {
  const m = new NlMessage(RTM_NEWLINK, 0).header(ifinfomsg(AF_UNSPEC, index, s.up === true ? IFF_UP : 0, s.up !== undefined ? IFF_UP : 0));
  if (s.mtu !== undefined) m.u32(IFLA_MTU, s.mtu);
  if (s.master !== undefined) m.u32(IFLA_MASTER, s.master);
  if (s.mac !== undefined) m.attr(IFLA_ADDRESS, macBytes(s.mac));
  return m;
}

export function nlLinkDel(index: number): NlMessage {
  return new NlMessage(RTM_DELLINK, 0).header(ifinfomsg(AF_UNSPEC, index));
}

/** RTM_NEWADDR: `cidr` (IPv4 or IPv6, with prefix) on device `index`, replacing an equal one. */
export function nlAddrAdd(index: number, cidr: string): NlMessage {
  const [a, l] = cidr.split('/') as [string, string | undefined];
  const v6 = a.includes(':');
  const bytes = v6 ? ipv6Bytes(a) : ipv4Bytes(a);
  const h = new Uint8Array(8);
  h[0] = v6 ? AF_INET6 : AF_INET_;
  h[1] = l === undefined ? (v6 ? 128 : 32) : Number(l);
  h[2] = v6 ? 0x02 : 0; // IFA_F_NODAD: a gateway or endpoint address is unique by construction
  new DataView(h.buffer).setUint32(4, index, true);
  return new NlMessage(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE).header(h).attr(IFA_LOCAL, bytes).attr(IFA_ADDRESS, bytes);
}

/**
 * RTM_NEWROUTE in the main table: IPv4 `dst` (a CIDR; `0.0.0.0/0` is the default route) out of
 * device `oif`, via `gateway` or on the link. Exclusive: the kernel refuses it with EEXIST when the
 * table has a route to that prefix already, whichever device that one uses (unlike SIOCADDRT,
 * which appends another route to the prefix for each device).
 */
export function nlRouteAdd(r: { readonly dst: string; readonly oif: number; readonly gateway?: string }): NlMessage {
  const [a, l] = r.dst.split('/') as [string, string | undefined];
  const len = l === undefined ? 32 : Number(l);
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new Error(`Bad prefix length in route "${r.dst}"`);
  const h = new Uint8Array(12);
  h[0] = AF_INET_;
  h[1] = len;
  h[4] = 254; // RT_TABLE_MAIN
  h[5] = 3; // RTPROT_BOOT, as `ip route add`
  h[6] = r.gateway === undefined ? 253 : 0; // RT_SCOPE_LINK on the link, RT_SCOPE_UNIVERSE via a gateway
  h[7] = 1; // RTN_UNICAST
  const m = new NlMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL).header(h);
  if (len > 0) m.attr(RTA_DST, ipv4Bytes(a));
  m.u32(RTA_OIF, r.oif);
  if (r.gateway !== undefined) m.attr(RTA_GATEWAY, ipv4Bytes(r.gateway));
  return m;
}

export interface NeighSpec {
  readonly ifindex: number;
  readonly mac: string;
  /** FDB entry (AF_BRIDGE): the remote VTEP; neighbour entry: the endpoint's IPv4/IPv6 address. */
  readonly dst: string;
  /** FDB entry: the remote VTEP's UDP port when it differs from the device's. */
  readonly port?: number;
}

/** A static FDB entry on a vxlan device (`bridge fdb replace MAC dev vxlan0 dst VTEP [port P] self permanent`). */
export function nlFdbAdd(n: NeighSpec): NlMessage {
  const m = new NlMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE).header(ndmsg(AF_BRIDGE, n.ifindex, NUD_PERMANENT | NUD_NOARP, NTF_SELF));
  // NDA_DST of 16 bytes: a VTEP on an IPv6 underlay (the device's `local` must be IPv6 too).
  m.attr(NDA_LLADDR, macBytes(n.mac)).attr(NDA_DST, n.dst.includes(':') ? ipv6Bytes(n.dst) : ipv4Bytes(n.dst));
  if (n.port !== undefined) m.be16(NDA_PORT, n.port);
  return m;
}

export function nlFdbDel(ifindex: number, mac: string): NlMessage {
  return new NlMessage(RTM_DELNEIGH, 0).header(ndmsg(AF_BRIDGE, ifindex, 0, NTF_SELF)).attr(NDA_LLADDR, macBytes(mac));
}

/** A permanent neighbour entry (`ip neigh replace IP lladdr MAC dev vxlan0 nud permanent`): what proxy ARP/ND answers from. */
export function nlNeighAdd(n: NeighSpec): NlMessage {
  const v6 = n.dst.includes(':');
  return new NlMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE)
    .header(ndmsg(v6 ? AF_INET6 : AF_INET_, n.ifindex, NUD_PERMANENT, 0))
    .attr(NDA_DST, v6 ? ipv6Bytes(n.dst) : ipv4Bytes(n.dst))
    .attr(NDA_LLADDR, macBytes(n.mac));
}

export function nlNeighDel(ifindex: number, dst: string): NlMessage {
  const v6 = dst.includes(':');
  return new NlMessage(RTM_DELNEIGH, 0).header(ndmsg(v6 ? AF_INET6 : AF_INET_, ifindex, 0, 0)).attr(NDA_DST, v6 ? ipv6Bytes(dst) : ipv4Bytes(dst));
}

/** Link statistics (`struct rtnl_link_stats64`), the counters Weft reports. */
export interface LinkStats {
  readonly rx_packets: number;
  readonly tx_packets: number;
  readonly rx_bytes: number;
  readonly tx_bytes: number;
  readonly rx_errors: number;
  readonly tx_errors: number;
  readonly rx_dropped: number;
  readonly tx_dropped: number;
}

export interface LinkRow {
  readonly index: number;
  readonly name: string;
  readonly kind?: string;
  readonly master?: number;
  readonly up: boolean;
  readonly mtu?: number;
  readonly stats?: LinkStats;
  /** vxlan devices: VNI and UDP port. */
  readonly vxlan?: { readonly vni: number; readonly port: number };
}

/** Every link of the socket's namespace, with kind, master and statistics (one dump). */
export function nlLinkList(nl: Netlink): LinkRow[] {
  const rows: LinkRow[] = [];
  for (const r of nl.dump(new NlMessage(RTM_GETLINK, NLM_F_DUMP).header(ifinfomsg(AF_UNSPEC, 0)))) {
    if (r.type !== RTM_NEWLINK || r.body.length < 16) continue;
    const dv = new DataView(r.body.buffer, r.body.byteOffset, r.body.byteLength);
    const a = parseAttrs(r.body, 16, r.body.length);
    const info = a.get(IFLA_LINKINFO);
    const li = info === undefined ? undefined : parseAttrs(info, 0, info.length);
    const kind = attrStr(li?.get(IFLA_INFO_KIND));
    const data = li?.get(IFLA_INFO_DATA);
    let vxlan: { vni: number; port: number } | undefined;
    if (kind === 'vxlan' && data !== undefined) {
      const d = parseAttrs(data, 0, data.length);
      const p = d.get(IFLA_VXLAN_PORT);
      vxlan = { vni: attrU32(d.get(IFLA_VXLAN_ID)) ?? 0, port: p !== undefined && p.length >= 2 ? (p[0]! << 8) | p[1]! : 0 };
    }
    const mtu = attrU32(a.get(IFLA_MTU));
    const s = a.get(IFLA_STATS64);
    let stats: LinkStats | undefined;
    if (s !== undefined && s.length >= 64) {
      const sv = new DataView(s.buffer, s.byteOffset, s.byteLength);
      const u = (i: number) => Number(sv.getBigUint64(i * 8, true));
      stats = { rx_packets: u(0), tx_packets: u(1), rx_bytes: u(2), tx_bytes: u(3), rx_errors: u(4), tx_errors: u(5), rx_dropped: u(6), tx_dropped: u(7) };
    }
    const master = attrU32(a.get(IFLA_MASTER));
    rows.push({
      index: dv.getInt32(4, true),
      name: attrStr(a.get(IFLA_IFNAME)) ?? '',
      up: (dv.getUint32(8, true) & IFF_UP) !== 0,
      ...(kind !== undefined ? { kind } : {}),
      ...(master !== undefined ? { master } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
      ...(stats !== undefined ? { stats } : {}),
      ...(vxlan !== undefined ? { vxlan } : {}),
    });
  }
  return rows;
}

export interface NeighRow {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly flags: number;
  readonly mac?: string;
  readonly dst?: string;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** Neighbour (AF_INET/AF_INET6) or FDB (AF_BRIDGE) entries of the socket's namespace. */
export function nlNeighList(nl: Netlink, family: number): NeighRow[] {
  const out: NeighRow[] = [];
  for (const r of nl.dump(new NlMessage(RTM_GETNEIGH, NLM_F_DUMP).header(ndmsg(family, 0, 0, 0)))) {
    if (r.type !== RTM_NEWNEIGH || r.body.length < 12) continue;
    const dv = new DataView(r.body.buffer, r.body.byteOffset, r.body.byteLength);
    const a = parseAttrs(r.body, 12, r.body.length);
    const ll = a.get(NDA_LLADDR);
    const d = a.get(NDA_DST);
    out.push({
      family: r.body[0]!,
      ifindex: dv.getInt32(4, true),
      state: dv.getUint16(8, true),
      flags: r.body[10]!,
      ...(ll !== undefined && ll.length === 6 ? { mac: [...ll].map(hex2).join(':') } : {}),
      ...(d !== undefined && d.length === 4 ? { dst: [...d].join('.') } : {}),
      ...(d !== undefined && d.length === 16 ? { dst: [...Array(8).keys()].map((i) => ((d[i * 2]! << 8) | d[i * 2 + 1]!).toString(16)).join(':') } : {}),
    });
  }
  return out;
}

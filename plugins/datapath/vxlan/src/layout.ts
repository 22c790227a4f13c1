/** Shared between the controller and the data-path workers: table snapshots and counter layout. */
import type { CipherWorker, KeyRing } from '@weft/kernel';

/**
 * Ports per host. The worker watches TAP fds with poll(2) while there are few of them and with
 * epoll once there are more than EPOLL_FROM (so 10,000 idle ports cost nothing per packet);
 * tables change by deltas, never by copying every port.
 */
export const MAX_PORTS = 16384;
/** From this many TAPs on, the worker waits in epoll and reads only the ready ones. */
export const EPOLL_FROM = 64;
/** Remote endpoints per host (all networks): a network of 10,000 endpoints on another host fits. */
export const MAX_PEERS = 16384;
/** Remote VTEPs per host (all networks): one row each for its session and receive drops. */
export const MAX_VTEPS = 4096;

/** Counter fields, per port and per peer, in one Float64Array per worker (summed by the controller). */
export const COUNTER_FIELDS = [
  'rx_packets', // port: frames read from the TAP; peer: frames received from its VTEP
  'rx_bytes',
  'tx_packets', // port: frames written to the TAP; peer: frames sent to its VTEP
  'tx_bytes',
  'drop_unknown_unicast',
  'drop_broadcast',
  'drop_not_routed',
  'drop_io',
  'drop_malformed',
  'drop_unknown_vni',
  'proxy_arp',
  'arp_miss',
  'gateway_echo',
  'tx_super_frames',
  'rx_coalesced',
  'drop_too_big',
  'wakeups', // vtep row: poll(2) returns with work, i.e. thread wake-ups
  'warm_ticks', // vtep row: wake-ups by a warm tick (warmUs) that found nothing to do
  'spin_polls', // vtep row: busy-poll rounds (spinUs) that found nothing to do
  'dns_queries', // port: UDP/53 datagrams to the network's resolver, handed to the `dns` service
  'dns_answers', // port: replies written back to the sandbox
  'dns_forwarded', // port: queries the `dns` service forwarded upstream
  'dns_drops', // port: queries not answered (no `dns` service, 'drop', malformed, failed forward)
  // Encrypted networks (vtep row unless noted): datagrams dropped on receive, by reason.
  'drop_plaintext', // plaintext VXLAN for an encrypted network's VNI (CVE-2023-28840 class)
  'drop_auth', // envelope tag did not verify (tampered, or a key this host does not hold)
  'drop_replay', // sequence number already seen or left of the anti-replay window
  'drop_unknown_spi', // no key of the ring matches the SPI
  'drop_old_key', // SPI of a retired key epoch
  'drop_crypto', // other: runt envelope, unknown sender, too big, seal failure (per port/peer on send)
  'tx_sealed', // peer: datagrams sealed toward it
  'rx_opened', // vtep: datagrams opened
  // Fragmented envelopes (frag.ts): one envelope per TCP super-frame, sent in pieces.
  'tx_fragmented', // peer: super-frames sealed whole and sent as fragments
  'rx_reassembled', // vtep: fragmented envelopes put back together (then opened as any envelope)
  'drop_reassembly', // vtep: malformed fragments, and groups evicted before all their pieces came
  // Remote-VTEP rows only: gauges the worker writes when its tables or key ring change (never per
  // packet); the controller takes the largest over workers instead of the sum.
  'sa_epoch', // key epoch + 1 of the SA sealing toward that VTEP (0: none)
  'sa_since', // Date.now() when that SA was installed
] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];
export const K = COUNTER_FIELDS.length;
export const C = Object.fromEntries(COUNTER_FIELDS.map((n, i) => [n, i])) as Record<CounterField, number>;

/** Float64 index of `field` for the worker-global row, a port slot or a peer slot. */
export const globalRow = 0;
export const portRow = (slot: number): number => K * (1 + slot);
export const peerRow = (slot: number): number => K * (1 + MAX_PORTS + slot);
/** A remote VTEP's row: receive drops attributable to it (the envelope's sender), its session's gauges. */
export const vtepRow = (slot: number): number => K * (1 + MAX_PORTS + MAX_PEERS + slot);
export const COUNTER_SLOTS = K * (1 + MAX_PORTS + MAX_PEERS + MAX_VTEPS);
/** Fields that are gauges (largest over workers), not counters (summed). */
export const GAUGE_FIELDS: ReadonlySet<CounterField> = new Set(['sa_epoch', 'sa_since']);

/** Bytes a peer's socket address takes in the worker's table (`sockaddr_in6` is 28). */
export const SA_STRIDE = 32;

/**
 * A 32-bit key of the IPv6 address at b[off..off+16) (FNV-1a over its four words): what an IPv6
 * VTEP is known by in the worker's maps, computed alike from a peer's address and from a received
 * datagram's source, without allocating. The controller refuses a second VTEP with the same key.
 */
export function vtepKey6(b: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) {
    const w = ((b[off + i]! << 24) | (b[off + i + 1]! << 16) | (b[off + i + 2]! << 8) | b[off + i + 3]!) >>> 0;
    h = Math.imul(h ^ w, 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h;
}

export interface SnapPort {
  readonly slot: number;
  readonly fd: number;
  readonly mac: number;
  readonly ipv4: number;
  /** IPv6 address in text form without prefix, '' for none. */
  readonly ipv6: string;
}
export interface SnapPeer {
  readonly slot: number;
  /** Send complete inner checksums (Linux vxlan, hardware VTEP); Weft peers re-derive them. */
  readonly fullCsum: boolean;
  readonly mac: number;
  readonly ipv4: number;
  readonly ipv6: string;
  /**
   * Its VTEP as a number: the IPv4 address, or on an IPv6 underlay `vtepKey6` of the address
   * (the key received datagrams are matched by: sessions, counter rows, reassembly).
   */
  readonly vtep: number;
  /** The IPv6 VTEP address (canonical text) on an IPv6 underlay; '' on IPv4. */
  readonly vtep6: string;
  readonly port: number;
  /** Row slot of its VTEP (`vtepRow`), shared by every peer behind that VTEP. */
  readonly vslot: number;
}
export interface SnapNet {
  readonly vni: number;
  /** Seal every datagram to peers, accept only envelopes that open (plaintext is dropped). */
  readonly encrypted: boolean;
  readonly mtu: number;
  readonly gwMac: number;
  readonly gwIps: readonly number[];
  readonly gwIps6: readonly string[];
  /** IPv4 addresses whose UDP/53 the switch answers (the resolver, or the gateways); empty: none. */
  readonly dnsIps: readonly number[];
  /** The same for IPv6 (text): the IPv6 gateways, or an IPv6 resolver address. */
  readonly dnsIps6: readonly string[];
  readonly ports: readonly SnapPort[];
  readonly peers: readonly SnapPeer[];
}
export interface Snapshot {
  readonly nets: readonly SnapNet[];
}

/**
 * Controller → worker table deltas, applied in order after the last full `Snapshot`: adding or
 * removing one port or peer costs O(1) in both threads, whatever the table size.
 */
export type TableMsg =
  | { readonly t: 'port+'; readonly vni: number; readonly port: SnapPort }
  | { readonly t: 'port-'; readonly vni: number; readonly port: SnapPort }
  | { readonly t: 'peer+'; readonly vni: number; readonly peer: SnapPeer }
  /** `vlast`: no peer behind its VTEP is left, so the VTEP's row slot is free again. */
  | { readonly t: 'peer-'; readonly vni: number; readonly peer: SnapPeer; readonly vlast?: boolean };

/** Control words in a SharedArrayBuffer (Int32): table generation, stop flag, applied generation. */
export const CTL_GEN = 0;
export const CTL_STOP = 1;
export const CTL_ACK = 2;

export interface WorkerInit {
  /** The VXLAN receive socket (shared by all networks). */
  readonly udpFd: number;
  /** Send sockets, one per source port; the inner flow hash picks one (RFC 7348 §5 entropy). */
  readonly sendFds: readonly number[];
  readonly offload: boolean;
  /** Which half of the loop this worker runs: both, or only VXLAN receive, or only TAP reads. */
  readonly mode: 'all' | 'udp' | 'taps';
  /** Scatter-gather (sendmsg/writev iovecs) instead of copying payloads in userspace. */
  readonly gather: boolean;
  /** Nice value for the data-path thread (0: unchanged). */
  readonly nice: number;
  /** Encrypted networks: seal TCP super-frames whole and send them as fragments. */
  readonly superSeal: boolean;
  /** Busy-poll this long after the last packet before sleeping in poll(2) (latency vs CPU). */
  readonly spinUs: number;
  /** Fraction of a core the spin may take per second. */
  readonly spinBudget: number;
  /** Poll timeout in µs while traffic is recent (keeps caches warm); 0: always the long timeout. */
  readonly warmUs: number;
  readonly ctl: SharedArrayBuffer;
  /** eventfd the controller writes to after posting a table change, so a sleeping worker applies it at once. */
  readonly wakeFd: number;
  readonly counters: SharedArrayBuffer;
  readonly snapshot: Snapshot;
  /** The cipher module to load in the worker (the data path encrypts); `localId` names this VTEP in sessions. */
  readonly cipher?: CipherWorker;
  readonly localId: string;
  /** Address family of the underlay (the sockets are AF_INET or AF_INET6, every VTEP of that family). */
  readonly family: 4 | 6;
  /** The key ring installed when the worker started; later rings arrive as `RingMsg`s. */
  readonly ring?: KeyRing;
}

/** Controller → worker: a key ring to install (sent in order on the snapshot port). */
export interface RingMsg {
  readonly t: 'ring';
  readonly ring: KeyRing;
}
export function macToNum(mac: string): number {
  const p = mac.split(':');
  if (p.length !== 6 || p.some((x) => !/^[0-9a-fA-F]{1,2}$/.test(x))) throw new Error(`Bad MAC address "${mac}"`);
  let v = 0;
  for (const x of p) v = v * 256 + parseInt(x, 16);
  return v;
}

export const numToMac = (v: number): string => {
  const out: string[] = [];
  for (let i = 5; i >= 0; i--) out.push((Math.floor(v / 2 ** (8 * i)) % 256).toString(16).padStart(2, '0'));
  return out.join(':');
};

/**
 * datapath — the switch: ports, peers (FDB + neighbour), counters.
 *
 * Two kinds of data path carry Weft networks (Weave Net's fastdp/sleeve split): the kernel's own
 * vxlan device and bridge (`kernel`, as Docker's overlay does) and Weft's userspace switch
 * (`userspace`, which can also encrypt). Both speak RFC 7348 VXLAN, so hosts on either share a
 * network. Providers register as `datapath.kernel` / `datapath.userspace`; the `datapath` service
 * drivers use picks one per network (`DataPathNetwork.dataplane`) and routes every call for that
 * network to it (@weft/dataplane); a lone provider may also register as `datapath` itself.
 */

/** What carries a network's frames on a host. */
export type DataPlane = 'kernel' | 'userspace';
/** What a network asks for (`--opt weft.dataplane=`): `auto` lets the host choose. */
export type DataPlaneChoice = 'auto' | DataPlane;
export const DATAPLANE_CHOICES: readonly DataPlaneChoice[] = ['auto', 'kernel', 'userspace'];

/** Where a network is carried on this host, and the UDP port its VTEP receives on there. */
export interface DataPlacement {
  readonly dataplane: DataPlane;
  readonly vtepPort: number;
}

export interface DataPathNetwork {
  readonly id: string;
  /**
   * VXLAN network identifier. 0 means a local-only network (bridge): frames never leave the host
   * and VXLAN datagrams are never accepted into it, whatever VNI they carry.
   */
  readonly vni: number;
  readonly mtu: number;
  readonly encrypted: boolean;
  readonly internal: boolean;
  /** Gateway of each subnet, `10.0.0.1/24`, answered for by the switch (proxy ARP + ICMP echo). */
  readonly gateways: readonly string[];
  /** Embedded DNS resolver address inside the network; empty to disable. */
  readonly resolver?: string;
  /**
   * The data plane the network asks for (default `auto`: the kernel for plaintext networks when
   * it has vxlan, the userspace switch for encrypted ones). Read by the dispatching `datapath`;
   * a single data path ignores it.
   */
  readonly dataplane?: DataPlaneChoice;
}

export interface PortSpec {
  readonly network: string;
  readonly endpointId: string;
  readonly mac: string;
  /**
   * Addresses with prefix length (`10.0.0.5/24`). When `netns` is set, the data path brings the
   * interface up inside it with these addresses and, unless the network is internal or the
   * sandbox already has one, a default route via the network's gateway.
   */
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Interface name to create (e.g. `wft1a2b3c4d`). */
  readonly ifname: string;
  /** Name to use inside the sandbox. */
  readonly dstName?: string;
  /** Network namespace to create it in (path); default: the agent's. */
  readonly netns?: string;
  /**
   * `netns` holds many ports (the bare endpoints' shared namespace). A data path may then give
   * each port its IPv4 address as a /32 and keep the network's subnet and default routes on one
   * port of the network there (moved to another when that port goes), so attaching stays O(1) in
   * the kernel instead of one connected route per port on the same prefix.
   */
  readonly sharedNetns?: boolean;
  readonly name?: string;
  readonly aliases?: readonly string[];
}

export interface PeerSpec {
  readonly network: string;
  readonly mac: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Underlay address of the remote VTEP. */
  readonly vtep: string;
  readonly vtepPort?: number;
  readonly node?: string;
  readonly name?: string;
  readonly aliases?: readonly string[];
  /** A static external peer (Linux vxlan device, hardware VTEP): kernel-exact frames. */
  readonly external?: boolean;
  /**
   * The data plane of the remote endpoint's host. A `kernel` peer, like an external one, gets
   * kernel-exact frames (complete inner checksums): a Linux vxlan device does not re-derive them.
   */
  readonly dataplane?: DataPlane;
}

export interface Counters {
  readonly [name: string]: number;
}

/** One remote endpoint as the data path holds it, with its counters since it was added. */
export interface PeerStats {
  readonly mac: string;
  readonly ipv4?: string;
  /** Underlay address of its VTEP. */
  readonly vtep: string;
  readonly vtepPort: number;
  readonly node?: string;
  readonly name?: string;
  /** Added as a static peer (`network peer add`), not learned from the cluster. */
  readonly external: boolean;
  /** `rx_*`: frames from it; `tx_*`: frames to it; `drop_*`: lost on the way, by reason. */
  readonly counters: Counters;
}

/**
 * One remote VTEP, whatever the network: its encryption session and what is attributable to it
 * before a network is known (an envelope that fails to open hides its VNI).
 */
export interface VtepStats {
  /** Underlay address. */
  readonly vtep: string;
  /** Key epoch of the SA this host seals toward it with; -1 without one (plain networks only). */
  readonly txEpoch: number;
  /** Age of that SA in milliseconds (0 without one). */
  readonly saAgeMs: number;
  /** Receive drops by reason (`drop_auth`, `drop_replay`, `drop_reassembly`, ...), `rx_opened`. */
  readonly counters: Counters;
}

export interface NetworkStats {
  readonly id: string;
  /** Sums over the network's local ports since the network came up, removed ports included. */
  readonly ports: Counters;
  /** Sums over the network's remote peers since the network came up, removed peers included. */
  readonly peers: Counters;
  /** The peers now. */
  readonly peerList: readonly PeerStats[];
}

/** What the data path counted, read without disturbing it (shared counters, no messages). */
export interface DataPathStats {
  /** Host-wide: the VTEP's own row (drops before a network is known, wake-ups, opened envelopes). */
  readonly host: Counters;
  readonly networks: readonly NetworkStats[];
  readonly vteps: readonly VtepStats[];
}

export interface DataPath {
  /** What this provider is (a dispatcher of several leaves it undefined and answers `placement`). */
  readonly dataplane?: DataPlane;
  /** The UDP port this provider's VTEP receives VXLAN on. */
  readonly vtepPort?: number;
  /**
   * Why this data path cannot carry networks on this host (e.g. the kernel has no vxlan), or
   * undefined when it can. A dispatcher then never picks it, and `ensureNetwork` refuses.
   */
  readonly unavailable?: string;
  /** Where network `id` is carried on this host, once `ensureNetwork` placed it. */
  placement?(id: string): DataPlacement | undefined;
  /**
   * True only when frames of `encrypted` networks are sealed with the `cipher` service and
   * plaintext for their VNIs is dropped. Drivers must refuse encrypted networks otherwise: a
   * network that claims encryption and carries plaintext is the worst outcome (CVE-2023-28840).
   */
  readonly encrypts?: boolean;
  /** What this data path can hold on one host (guards warn before it is reached). */
  readonly capacity?: { readonly ports: number };
  /** Ports attached now, over all networks. */
  portCount?(): number;
  ensureNetwork(n: DataPathNetwork): Promise<void>;
  removeNetwork(id: string): Promise<void>;
  addPort(p: PortSpec): Promise<{ readonly ifname: string }>;
  removePort(network: string, endpointId: string): Promise<void>;
  addPeer(p: PeerSpec): void;
  removePeer(network: string, mac: string): void;
  counters(network?: string): Readonly<Record<string, Counters>>;
  /** Optional, read-only: structured counters for debug views and metrics (see DataPathStats). */
  stats?(): DataPathStats;
}

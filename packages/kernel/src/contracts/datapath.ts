/** datapath — the switch: ports (TAPs), peers (FDB + neighbour), counters. */
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

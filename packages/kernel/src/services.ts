/**
 * Service contracts: what plugins need from each other, in-process. A plugin provides a service
 * by naming it in `manifest.provides` and returning an implementation from `services[name]`; a
 * plugin that names it in `manifest.requires` reaches it as `ctx.services.get(name)`. Services are
 * singletons: two providers of one service fail at load.
 *
 * Hot-path members (DataPath frames, Cipher seal/open) work on Uint8Array with caller-supplied
 * buffers and return numbers, not fp-ts values.
 */

// ---------------------------------------------------------------------------------------------
// store — durable state. The kernel hands every plugin `ctx.store`, scoped to its name.

export interface Store {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Durable and atomic once the promise resolves: after a crash the key holds the old or the new value. */
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Keys under `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** A view whose keys are prefixed with `prefix + '/'`. */
  scope(prefix: string): Store;
}

// ---------------------------------------------------------------------------------------------
// membership — the cluster's nodes, failure detection (gossip, SWIM).

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Member {
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  readonly state: MemberState;
  readonly incarnation: number;
  /** Tags as serf shows them; Weft nodes carry `weft`, `role`, `os`, `dp` (data-path addr:port), ... */
  readonly meta: Readonly<Record<string, string>>;
}

export type MemberEventType = 'join' | 'update' | 'suspect' | 'alive' | 'dead' | 'left' | 'reap';
export interface MemberEvent {
  readonly type: MemberEventType;
  readonly member: Member;
}

export interface Membership {
  self(): Member;
  members(): readonly Member[];
  /** Contacts seeds (`ip:port`); resolves with how many answered. */
  join(seeds: readonly string[]): Promise<number>;
  leave(): Promise<void>;
  setMeta(meta: Readonly<Record<string, string>>): void;
  /** Gossip keyring (memberlist AES-GCM), when encryption is on. */
  readonly keyring?: {
    install(key: Uint8Array): void;
    use(key: Uint8Array): void;
    remove(key: Uint8Array): void;
    list(): readonly Uint8Array[];
  };
}

// ---------------------------------------------------------------------------------------------
// tables — replicated per-network tables (NetworkDB-like), Lamport LWW, tombstones.

export interface TableEntry {
  readonly network: string;
  readonly table: string;
  readonly key: string;
  readonly value: Uint8Array;
  /** Node that wrote the entry. */
  readonly owner: string;
  readonly lamport: number;
  readonly deleted: boolean;
  /** Set while the owner is unreachable but within the grace period (kept, not dropped). */
  readonly stale: boolean;
}

export interface TableEvent {
  readonly type: 'create' | 'update' | 'delete';
  readonly entry: TableEntry;
}

export interface Tables {
  joinNetwork(network: string): Promise<void>;
  leaveNetwork(network: string): Promise<void>;
  put(network: string, table: string, key: string, value: Uint8Array): void;
  delete(network: string, table: string, key: string): void;
  get(network: string, table: string, key: string): TableEntry | undefined;
  /** Live (non-deleted) entries. */
  entries(network: string, table: string): readonly TableEntry[];
  /** Nodes known to be attached to `network`. */
  peers(network: string): readonly string[];
  /**
   * A node left the cluster for good (`node rm`): drop its entries and attachments here and tell
   * every other node to do the same, instead of keeping them for the stale grace period.
   */
  evict?(node: string): void;
}

// ---------------------------------------------------------------------------------------------
// datapath — the switch: ports (TAPs), peers (FDB + neighbour), counters.

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
}

// ---------------------------------------------------------------------------------------------
// cipher — per-peer-pair AEAD sessions with an ESP-like envelope.

export interface DataKey {
  /** Key epoch (monotonic, e.g. a Lamport time from the manager). */
  readonly epoch: number;
  readonly key: Uint8Array;
}

/** Up to three keys: newest (receive only), primary (send), oldest (receive, for laggards). */
export interface KeyRing {
  readonly keys: readonly DataKey[];
  readonly primary: number;
}

/** Negative results of `open`: why a packet was dropped. */
export const DropReason = {
  short: -1,
  unknownSpi: -2,
  auth: -3,
  replay: -4,
  oldKey: -5,
  tooBig: -6,
} as const;

/** Stat names every CipherSession reports (others may be added). */
export const CipherStatNames = {
  sealedPackets: 'sealedPackets',
  openedPackets: 'openedPackets',
  /** Total drops; per reason as `drop.<reason>` (`drop.auth`, `drop.replay`, ...). */
  dropped: 'dropped',
  txEpoch: 'txEpoch',
  saAgeMs: 'saAgeMs',
} as const;

export interface CipherSession {
  /**
   * Seals `plain[0..len)` into `out`; returns bytes written, or a negative DropReason
   * (`unknownSpi` when no key is installed, `tooBig` when `out` is too small).
   */
  seal(plain: Uint8Array, len: number, out: Uint8Array): number;
  /** Opens `sealed[0..len)` into `out`; returns plaintext length, or a negative DropReason. */
  open(sealed: Uint8Array, len: number, out: Uint8Array): number;
  readonly stats: Readonly<Record<string, number | bigint>>;
}

export interface Cipher {
  /** `libsodium-wrappers`, `sodium-native`, ... */
  readonly backend: string;
  /** Bytes added per packet. */
  readonly overhead: number;
  setKeyRing(ring: KeyRing): void;
  /**
   * Optional. Subscribes to key-ring changes: `listener` gets the installed ring at once (when one
   * is installed) and again after every `setKeyRing` that changed it. Returns the unsubscribe
   * function. A data path that seals in other threads, each with its own Cipher instance (the
   * sessions' sequence numbers and replay windows must not be shared across threads), mirrors
   * the ring through it; a data path that needs it and finds none must not claim `encrypts`.
   * The ring handed over holds copies of the keys; treat them as secret.
   */
  onKeyRing?(listener: (ring: KeyRing) => void): () => void;
  /** The session between this node and `remote` (both sides derive the same SPIs). One per pair: a second object for the same pair would reuse nonces. */
  session(local: string, remote: string): CipherSession;
  /** Forgets every key (zeroed where the backend allows). */
  close?(): void;
}

/** Known services and their contracts, for typed `ctx.services.get()`. */
export interface ServiceMap {
  store: Store;
  membership: Membership;
  tables: Tables;
  datapath: DataPath;
  cipher: Cipher;
}

/** membership — the cluster's nodes, failure detection (gossip, SWIM). */
import type { MembershipStats } from './stats.ts';
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

/**
 * Tag every Weft node gossips with the epoch of its primary gossip key (from the swarm's key
 * ring; absent when gossip is not encrypted, or encrypted with keys given by hand). Epochs are
 * public: they say which ring a node applied, never a key. The manager reads them to know that
 * every node holds a new key before the next rotation makes it the primary.
 */
export const GOSSIP_KEY_EPOCH_TAG = 'gk';

/** Whether gossip is encrypted, and what was refused for lacking a valid key (never key material). */
export interface GossipEncryption {
  readonly encrypted: boolean;
  /** Keys installed (all open inbound traffic; the primary seals outbound). */
  readonly keys: number;
  /** Epoch of the primary key when the keys come from the swarm's key ring. */
  readonly keyEpoch?: number;
  /** Inbound datagrams and TCP streams refused: plaintext, or sealed with no installed key. */
  readonly refused: { readonly packets: number; readonly streams: number };
}

export interface Membership {
  self(): Member;
  members(): readonly Member[];
  /** Contacts seeds (`ip:port`); resolves with how many answered. */
  join(seeds: readonly string[]): Promise<number>;
  leave(): Promise<void>;
  setMeta(meta: Readonly<Record<string, string>>): void;
  /** Optional, read-only: protocol counters since start (metrics). */
  stats?(): MembershipStats;
  /** Gossip keyring (memberlist AES-GCM), when encryption is on. */
  readonly keyring?: {
    install(key: Uint8Array): void;
    use(key: Uint8Array): void;
    remove(key: Uint8Array): void;
    list(): readonly Uint8Array[];
  };
  /** Encryption state and refusal counts; providers without encryption may omit it. */
  encryption?(): GossipEncryption;
}

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
}

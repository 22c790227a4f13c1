/**
 * Where the swarm's state lives in the cluster store: one key per record, under `weft/`, so an
 * attach writes one small key and uniqueness is decided by transactions (see manager.ts).
 *
 * | key | value |
 * |---|---|
 * | `weft/format` | `{ Format, ClusterID }` — written first at init; a newer Format is refused |
 * | `weft/meta` | cluster identity: manager key pair, join-token secrets, address pools |
 * | `weft/ring` | the data-path and gossip key rings (`RingState`) |
 * | `weft/fence/networks` | bumped by every network create/remove: serialises name, subnet and VNI checks |
 * | `weft/nodes/<id>` | `NodeRecord` |
 * | `weft/networks/<id>` | `NetworkRecord` (without attachments) |
 * | `weft/removing/<id>` | a network being removed (leased): attaches to it are refused |
 * | `weft/attach/<net>/<node>/<sandbox>` | one attachment (empty value) |
 * | `weft/blocks/<net>/<index>` | the IPAM block table of one subnet (the `blocks` allocator's bytes) |
 * | `weft/managers/<id>` | a live manager (leased): `{ Addr }` |
 * | `weft/leader` | the leader (leased): `{ NodeID, Addr }` |
 * | `weft/sessions/<node>` | the manager a node is connected to (leased by that manager) |
 * | `weft/plugins/<plugin>/…` | cluster state of other plugins (services, ...) |
 */
import * as t from 'io-ts';
import { WireKey } from './codecs.ts';

export const FORMAT = 2;
export const PREFIX = 'weft/';
export const K = {
  format: `${PREFIX}format`,
  meta: `${PREFIX}meta`,
  ring: `${PREFIX}ring`,
  fence: `${PREFIX}fence/networks`,
  leader: `${PREFIX}leader`,
  node: (id: string) => `${PREFIX}nodes/${id}`,
  network: (id: string) => `${PREFIX}networks/${id}`,
  removing: (id: string) => `${PREFIX}removing/${id}`,
  attach: (net: string, node: string, sandbox: string) => `${PREFIX}attach/${net}/${node}/${sandbox}`,
  attachNet: (net: string) => `${PREFIX}attach/${net}/`,
  attachNode: (net: string, node: string) => `${PREFIX}attach/${net}/${node}/`,
  blocks: (poolKey: string) => `${PREFIX}blocks/${poolKey}`,
  blocksNet: (net: string) => `${PREFIX}blocks/${net}/`,
  manager: (id: string) => `${PREFIX}managers/${id}`,
  session: (node: string) => `${PREFIX}sessions/${node}`,
  plugin: (name: string) => `${PREFIX}plugins/${name}/`,
} as const;

export const FormatRecord = t.type({ Format: t.number, ClusterID: t.string });
export type FormatRecord = t.TypeOf<typeof FormatRecord>;

export const MetaRecord = t.type({
  ClusterID: t.string,
  CreatedAt: t.string,
  /** The swarm's Ed25519 key pair (base64): every manager presents it; tokens pin its public half. */
  ManagerKey: t.type({ PublicKey: t.string, SecretKey: t.string }),
  Tokens: t.type({ worker: t.string, manager: t.string }),
  DefaultAddrPool: t.array(t.string),
  SubnetSize: t.number,
  /** The store's URL as managers open it (`embedded:` or `etcd://...`), for joining managers. */
  StoreURL: t.string,
  /** Whether managers on other hosts can share the store (false for embedded). */
  Shared: t.boolean,
});
export type MetaRecord = t.TypeOf<typeof MetaRecord>;

export const RingState = t.type({
  Rotation: t.number,
  Keys: t.array(WireKey),
  Gossip: t.array(WireKey),
  IntervalMs: t.number,
  /** Persisted so a restart neither rotates early nor twice (swarmkit#1954). */
  NextRotationAt: t.number,
  LastRotatedAt: t.number,
});
export type RingState = t.TypeOf<typeof RingState>;

export const ManagerRecord = t.type({ Addr: t.string });
export const LeaderRecord = t.type({ NodeID: t.string, Addr: t.string });
export type LeaderRecord = t.TypeOf<typeof LeaderRecord>;
export const SessionRecord = t.type({ Manager: t.string });

/** Splits `weft/attach/<net>/<node>/<sandbox>`; sandbox names may not hold '/', IDs never do. */
export function parseAttachKey(key: string): { net: string; node: string; sandbox: string } | undefined {
  const rest = key.slice(`${PREFIX}attach/`.length).split('/');
  if (rest.length < 3) return undefined;
  return { net: rest[0]!, node: rest[1]!, sandbox: rest.slice(2).join('/') };
}

/**
 * Upgrade: a manager of Weft ≤ 0.1 kept the whole cluster in one JSON record (`manager/cluster`
 * in the state dir) and its IPAM block tables under `manager/blocks/`. On first start of this
 * version the record is converted into per-key cluster state in one transaction (so a crash
 * leaves either nothing or everything converted), then renamed to `cluster.v1` as a backup; no
 * user loses a swarm on upgrade.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { errors, jsonValue, raise, type ClusterStore, type Store, type TxnOp } from '@weft/kernel';
import { NetworkRecord, NodeRecord } from './codecs.ts';
import { FORMAT, K, RingState, type MetaRecord } from './keys.ts';
import { PLUGIN } from './state.ts';

export const V1_KEY = 'cluster';
export const V1_BACKUP_KEY = 'cluster.v1';

export const ClusterStateV1 = t.type({
  Version: t.literal(1),
  ClusterID: t.string,
  CreatedAt: t.string,
  ManagerKey: t.type({ PublicKey: t.string, SecretKey: t.string }),
  NodeID: t.string,
  ListenAddr: t.string,
  BindAddr: t.string,
  Tokens: t.type({ worker: t.string, manager: t.string }),
  Nodes: t.record(t.string, NodeRecord),
  Networks: t.record(t.string, NetworkRecord),
  Ring: RingState,
  DefaultAddrPool: t.array(t.string),
  SubnetSize: t.number,
  Seq: t.number,
});
export type ClusterStateV1 = t.TypeOf<typeof ClusterStateV1>;

const dec = new TextDecoder();

/** The v1 record in `local` (the manager's scope of the state dir), or undefined. */
export async function readV1(local: Store): Promise<ClusterStateV1 | undefined> {
  const raw = await local.get(V1_KEY);
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(raw));
  } catch {
    json = undefined;
  }
  const r = ClusterStateV1.decode(json);
  if (isLeft(r)) {
    raise(errors.internal(PLUGIN, 'The stored cluster state (manager/cluster, written by an earlier Weft) does not decode; refusing to convert or start on it', { hint: 'Restore the state dir from a backup.' }));
  }
  return (r as { right: ClusterStateV1 }).right;
}

/**
 * Writes the v1 state as per-key records (only into an empty store), then keeps the old record
 * as `cluster.v1`. Returns the manager's node ID and addresses for its local config.
 */
export async function convertV1(v1: ClusterStateV1, local: Store, store: ClusterStore, storeURL: string): Promise<void> {
  const meta: MetaRecord = {
    ClusterID: v1.ClusterID,
    CreatedAt: v1.CreatedAt,
    ManagerKey: v1.ManagerKey,
    Tokens: v1.Tokens,
    DefaultAddrPool: v1.DefaultAddrPool,
    SubnetSize: v1.SubnetSize,
    StoreURL: storeURL,
    Shared: false,
  };
  const ops: TxnOp[] = [
    { op: 'put', key: K.format, value: jsonValue({ Format: FORMAT, ClusterID: v1.ClusterID }) },
    { op: 'put', key: K.meta, value: jsonValue(meta) },
    { op: 'put', key: K.ring, value: jsonValue(v1.Ring) },
    { op: 'put', key: K.fence, value: jsonValue({}) },
  ];
  for (const n of Object.values(v1.Nodes)) ops.push({ op: 'put', key: K.node(n.ID), value: jsonValue({ ...n, Leader: false }) });
  for (const n of Object.values(v1.Networks)) {
    ops.push({ op: 'put', key: K.network(n.Id), value: jsonValue({ ...n, Attachments: {} }) });
    for (const [node, sbs] of Object.entries(n.Attachments)) for (const sb of sbs) ops.push({ op: 'put', key: K.attach(n.Id, node, sb), value: new Uint8Array(0) });
  }
  const blocks = local.scope('blocks');
  for (const key of await blocks.keys()) {
    const v = await blocks.get(key);
    if (v !== undefined) ops.push({ op: 'put', key: K.blocks(key), value: v });
  }
  const r = await store.txn({ compare: [{ key: K.format, target: 'createRevision', result: '=', value: 0 }], success: ops, failure: [{ op: 'get', key: K.format }] });
  if (!r.succeeded) {
    const kv = r.results[0]?.kvs?.[0];
    const other = kv === undefined ? '' : (JSON.parse(dec.decode(kv.value)) as { ClusterID?: string }).ClusterID;
    if (other !== v1.ClusterID) {
      raise(errors.conflict(PLUGIN, `Cannot convert the swarm state of this manager (cluster ${v1.ClusterID}): its cluster store already holds cluster ${other}`, { hint: 'Move the state dir aside or restore it from a backup.' }));
    }
  }
  const raw = await local.get(V1_KEY);
  if (raw !== undefined) {
    await local.put(V1_BACKUP_KEY, raw);
    await local.delete(V1_KEY);
  }
  for (const key of await blocks.keys()) await blocks.delete(key);
}

/**
 * Every change a manager makes, as cluster-store transactions. The rules that make several
 * managers safe:
 * - a record is replaced only if its `modRevision` is still the one the change was computed
 *   from (optimistic concurrency); on a lost race the view catches up and the change is computed
 *   again, so two managers racing can never both win;
 * - network create/remove bump `weft/fence/networks`, and a create commits only if the fence is
 *   unchanged since it checked names, subnets and VNIs against the view;
 * - an attach writes one key, guarded by "the network exists and is not being removed" and "the
 *   node is a member"; a network is removed in two steps (mark `removing`, then delete if no
 *   attachment exists), so an attach and a remove never both succeed;
 * - an IPAM block table is replaced only at the revision it was read at.
 * After a write the caller waits until its view reached the write's revision (read-your-writes).
 */
import {
  createKeyedSerial,
  errors,
  jsonValue,
  raise,
  type BlockAllocator,
  type ClusterStore,
  type Compare,
  type KeyValue,
  type TxnOp,
} from '@weft/kernel';
import type { NetworkRecord, NodeRecord, Role } from './codecs.ts';
import { K, type MetaRecord, type RingState } from './keys.ts';
import * as S from './state.ts';
import type { ClusterView } from './view.ts';

const MAX_TRIES = 30;
/** A short random pause after a lost race, growing with the attempts, so racing managers spread out. */
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * (attempt + 1))));

export interface WritesOptions {
  readonly store: ClusterStore;
  readonly view: ClusterView;
  readonly now: () => number;
  /** The manager's current lease (for keys that must vanish with it). */
  readonly lease: () => number;
  readonly storeName: string;
}

export class Writes {
  private readonly o: WritesOptions;
  private readonly serial = createKeyedSerial();
  /** Store writes this manager made (for the attach benchmark's writes-per-attach figure). */
  readonly counts = { txns: 0, bytes: 0 };

  constructor(o: WritesOptions) {
    this.o = o;
  }

  private get view(): ClusterView {
    return this.o.view;
  }

  private contention(what: string): never {
    return raise(errors.unavailable(S.PLUGIN, `Could not ${what}: other managers changed the same records ${MAX_TRIES} times in a row`, { code: S.Codes.contention, hint: 'Retry.' }));
  }

  private async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []) {
    this.counts.txns++;
    for (const op of success) if (op.op === 'put') this.counts.bytes += op.key.length + op.value.length;
    return this.o.store.txn({ compare, success, failure });
  }

  /** Waits until the view holds at least what `kv` (read from the store) shows. */
  private async catchUp(kv: KeyValue | undefined, revision?: number): Promise<void> {
    await this.view.reached(Math.max(kv?.modRevision ?? 0, revision ?? 0));
  }

  // -------------------------------------------------------------------------------------------
  // Nodes

  async addNode(rec: NodeRecord): Promise<void> {
    const r = await this.txn([{ key: K.node(rec.ID), target: 'createRevision', result: '=', value: 0 }], [{ op: 'put', key: K.node(rec.ID), value: jsonValue(rec) }]);
    if (!r.succeeded) raise(errors.conflict(S.PLUGIN, `Node ID ${rec.ID} exists already`, { value: rec.ID }));
    await this.view.reached(r.revision);
  }

  /** Read-modify-write of one node record. */
  async updateNode(id: string, f: (n: NodeRecord) => NodeRecord): Promise<void> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = this.view.nodes.get(id);
      if (cur === undefined) raise(errors.notFound(S.PLUGIN, `Node "${id}" not found`, { value: id }));
      const next = f(cur!.value);
      const r = await this.txn([{ key: K.node(id), target: 'modRevision', result: '=', value: cur!.modRevision }], [{ op: 'put', key: K.node(id), value: jsonValue(next) }], [{ op: 'get', key: K.node(id) }]);
      if (r.succeeded) return this.view.reached(r.revision);
      const kv = r.results[0]?.kvs?.[0];
      if (kv === undefined) raise(errors.notFound(S.PLUGIN, `Node "${id}" not found (it was removed meanwhile)`, { value: id }));
      await this.catchUp(kv);
      await backoff(i);
    }
    this.contention(`update node ${id}`);
  }

  /** Removes a node with its attachments, session and IPAM blocks, in one transaction. */
  async removeNode(id: string, blocks: BlockAllocator): Promise<void> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const node = this.view.nodes.get(id);
      if (node === undefined) return;
      const pools = blocks.blocksOf(id).map((b) => b.key);
      const revs = new Map(pools.map((k) => [k, this.view.blockRevisions.get(k) ?? 0]));
      const changed = blocks.reclaimNode(id).map((x) => x.key);
      const compare: Compare[] = [{ key: K.node(id), target: 'modRevision', result: '=', value: node.modRevision }];
      const ops: TxnOp[] = [{ op: 'delete', key: K.node(id) }, { op: 'delete', key: K.session(id) }];
      for (const net of this.view.networks.keys()) ops.push({ op: 'deletePrefix', prefix: K.attachNode(net, id) });
      for (const key of changed) {
        compare.push({ key: K.blocks(key), target: 'modRevision', result: '=', value: revs.get(key) ?? 0 });
        const bytes = blocks.save(key);
        if (bytes !== undefined) ops.push({ op: 'put', key: K.blocks(key), value: bytes });
      }
      const r = await this.txn(compare, ops);
      if (r.succeeded) return this.view.reached(r.revision);
      await this.reloadPools(changed, blocks);
      const kv = await this.o.store.get(K.node(id));
      await this.catchUp(kv);
    }
    this.contention(`remove node ${id}`);
  }

  async rotateToken(role: Role, secret: string): Promise<void> {
    await this.updateMeta((m) => ({ ...m, Tokens: { ...m.Tokens, [role]: secret } }));
  }

  private async updateMeta(f: (m: MetaRecord) => MetaRecord): Promise<void> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = this.view.meta!;
      const r = await this.txn([{ key: K.meta, target: 'modRevision', result: '=', value: cur.modRevision }], [{ op: 'put', key: K.meta, value: jsonValue(f(cur.value)) }], [{ op: 'get', key: K.meta }]);
      if (r.succeeded) return this.view.reached(r.revision);
      await this.catchUp(r.results[0]?.kvs?.[0]);
    }
    this.contention('update the cluster record');
  }

  /** `f` returns the ring unchanged when there is nothing to do (a replayed rotation). */
  async rotateRing(f: (r: RingState) => RingState): Promise<{ ring: RingState; changed: boolean }> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = this.view.ring!;
      const next = f(cur.value);
      if (next === cur.value) return { ring: cur.value, changed: false };
      const r = await this.txn([{ key: K.ring, target: 'modRevision', result: '=', value: cur.modRevision }], [{ op: 'put', key: K.ring, value: jsonValue(next) }], [{ op: 'get', key: K.ring }]);
      if (r.succeeded) {
        await this.view.reached(r.revision);
        return { ring: next, changed: true };
      }
      await this.catchUp(r.results[0]?.kvs?.[0]);
    }
    return this.contention('rotate the key ring');
  }

  /** The manager `manager` has a session with `node` (bound to its lease). */
  async openSession(node: string, manager: string): Promise<void> {
    const lease = this.o.lease();
    if (lease === 0) return;
    await this.o.store.put(K.session(node), jsonValue({ Manager: manager }), { lease });
  }

  async closeSession(node: string, manager: string): Promise<void> {
    await this.o.store.txn({ compare: [{ key: K.session(node), target: 'value', result: '=', value: jsonValue({ Manager: manager }) }], success: [{ op: 'delete', key: K.session(node) }] });
  }

  // -------------------------------------------------------------------------------------------
  // Networks

  /** `build` validates against the networks it is given (throws on a conflict) and returns the record. */
  async createNetwork(build: (nets: Record<string, NetworkRecord>) => NetworkRecord): Promise<{ Id: string }> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const fence = this.view.fenceRevision;
      const nets = Object.fromEntries([...this.view.networks].map(([id, v]) => [id, v.value]));
      const rec = build(nets);
      const r = await this.txn(
        [{ key: K.fence, target: 'modRevision', result: '=', value: fence }],
        [
          { op: 'put', key: K.network(rec.Id), value: jsonValue({ ...rec, Attachments: {} }) },
          { op: 'put', key: K.fence, value: jsonValue({}) },
        ],
        [{ op: 'get', key: K.fence }],
      );
      if (r.succeeded) {
        await this.view.reached(r.revision);
        return { Id: rec.Id };
      }
      // Another manager created or removed a network meanwhile: check again against it.
      await this.catchUp(r.results[0]?.kvs?.[0]);
      await backoff(i);
    }
    return this.contention('create the network');
  }

  async removeNetwork(n: NetworkRecord, nameOf: (node: string) => string): Promise<Record<string, never>> {
    const busy = S.activeEndpoints(n, this.view.attachmentsOf(n.Id), nameOf);
    if (busy !== undefined) raise(busy);
    const lease = this.o.lease();
    const mark = await this.txn(
      [
        { key: K.network(n.Id), target: 'createRevision', result: '>', value: 0 },
        { key: K.removing(n.Id), target: 'createRevision', result: '=', value: 0 },
      ],
      [lease !== 0 ? { op: 'put', key: K.removing(n.Id), value: jsonValue({}), lease } : { op: 'put', key: K.removing(n.Id), value: jsonValue({}) }],
      [{ op: 'get', key: K.network(n.Id) }],
    );
    if (!mark.succeeded) {
      if ((mark.results[0]?.kvs ?? []).length === 0) raise(errors.notFound(S.PLUGIN, `Network "${n.Name}" not found (it was removed meanwhile)`, { value: n.Name }));
      raise(errors.conflict(S.PLUGIN, `Network "${n.Name}" is being removed by another request`, { code: S.Codes.removing, value: n.Name }));
    }
    // No attach can commit from here on (each checks `removing`); look for those that did before.
    const users = await this.o.store.range(K.attachNet(n.Id));
    if (users.kvs.length > 0) {
      await this.o.store.delete(K.removing(n.Id));
      const byNode: Record<string, string[]> = {};
      for (const kv of users.kvs) {
        const [node, ...sb] = kv.key.slice(K.attachNet(n.Id).length).split('/');
        (byNode[node!] ??= []).push(sb.join('/'));
      }
      raise(S.activeEndpoints(n, byNode, nameOf)!);
    }
    const r = await this.txn(
      [],
      [
        { op: 'delete', key: K.network(n.Id) },
        { op: 'delete', key: K.removing(n.Id) },
        { op: 'deletePrefix', prefix: K.blocksNet(n.Id) },
        { op: 'put', key: K.fence, value: jsonValue({}) },
      ],
    );
    await this.view.reached(r.revision);
    return {};
  }

  /** One key per attachment: O(1) store work whatever the number of endpoints. */
  async attach(n: NetworkRecord, node: string, sandbox: string): Promise<void> {
    const r = await this.txn(
      [
        { key: K.network(n.Id), target: 'createRevision', result: '>', value: 0 },
        { key: K.removing(n.Id), target: 'createRevision', result: '=', value: 0 },
        { key: K.node(node), target: 'createRevision', result: '>', value: 0 },
      ],
      [{ op: 'put', key: K.attach(n.Id, node, sandbox), value: new Uint8Array(0) }],
      [{ op: 'get', key: K.network(n.Id) }, { op: 'get', key: K.removing(n.Id) }, { op: 'get', key: K.node(node) }],
    );
    if (!r.succeeded) {
      const [net, removing, member] = r.results.map((x) => (x.kvs ?? []).length > 0);
      if (!net) raise(errors.notFound(S.PLUGIN, `Network "${n.Name}" not found (it was removed)`, { value: n.Name, hint: 'Run "weft network ls" to see the networks.' }));
      if (removing) raise(errors.conflict(S.PLUGIN, `Network "${n.Name}" is being removed; cannot attach ${sandbox} to it`, { code: S.Codes.removing, value: n.Name }));
      if (!member) raise(errors.notFound(S.PLUGIN, `Node "${node}" is not a member of this swarm`, { value: node }));
    }
    await this.view.reached(r.revision);
  }

  async detach(net: string, node: string, sandbox: string): Promise<void> {
    const r = await this.txn([], [{ op: 'delete', key: K.attach(net, node, sandbox) }]);
    await this.view.reached(r.revision);
  }

  // -------------------------------------------------------------------------------------------
  // IPAM blocks: each subnet's table is one key, replaced at the revision it was read at.

  private async reloadPools(keys: readonly string[], blocks: BlockAllocator): Promise<void> {
    for (const key of keys) {
      const kv = await this.o.store.get(K.blocks(key));
      if (kv !== undefined) blocks.load(key, kv.value);
      await this.catchUp(kv);
    }
  }

  private async changePool(net: string, key: string, blocks: BlockAllocator, change: () => string): Promise<string> {
    return this.serial(key, async () => {
      for (let i = 0; i < MAX_TRIES; i++) {
        // The allocator's copy of the table is the view's, at the revision the view recorded.
        const rev = this.view.blockRevisions.get(key) ?? 0;
        const result = change();
        const bytes = blocks.save(key);
        if (bytes === undefined) raise(errors.notFound(S.PLUGIN, `Network ${net} has no such subnet (it was removed)`, { value: key }));
        const r = await this.txn(
          [
            { key: K.blocks(key), target: 'modRevision', result: '=', value: rev },
            { key: K.network(net), target: 'createRevision', result: '>', value: 0 },
          ],
          [{ op: 'put', key: K.blocks(key), value: bytes! }],
          [{ op: 'get', key: K.blocks(key) }, { op: 'get', key: K.network(net) }],
        );
        if (r.succeeded) {
          await this.view.reached(r.revision);
          return result;
        }
        if ((r.results[1]?.kvs ?? []).length === 0) raise(errors.notFound(S.PLUGIN, `Network ${net} not found (it was removed)`, { value: net }));
        // Another manager changed the table: undo ours, catch up with theirs, compute again.
        const kv = r.results[0]?.kvs?.[0];
        if (kv !== undefined) blocks.load(key, kv.value);
        await this.catchUp(kv);
        await backoff(i);
      }
      return this.contention(`change the address blocks of ${key}`);
    });
  }

  grantBlock(net: string, key: string, node: string, blocks: BlockAllocator): Promise<string> {
    return this.changePool(net, key, blocks, () => blocks.grant(key, node));
  }

  async releaseBlock(key: string, node: string, block: string, blocks: BlockAllocator): Promise<void> {
    await this.changePool(key.split('/')[0]!, key, blocks, () => {
      blocks.release(key, node, block);
      return block;
    });
  }
}

/**
 * Block affinity for global (overlay) networks, after Calico's IPAM: the manager grants each host
 * BLOCKS of a network's pool (default /28); a host allocates inside its own blocks without asking
 * anyone, and asks for another block when they are full. A specific address (`--ip`) goes to the
 * manager, which knows every block's owner: an unowned block is granted to the asker, a block
 * the asker owns is checked locally, and a block owned by another node is refused naming that
 * node (no borrowing inside foreign blocks — that is what keeps the owner authoritative). When a
 * node is removed, the manager reclaims its blocks.
 *
 * This file holds the logic of both sides and the message codecs; the transport (the control
 * plane) is not here.
 */
import * as t from 'io-ts';
import { errors, raise, Cidr, IP, NonEmptyString } from '@weft/kernel';
import { familyBits, formatAddr, formatPrefix, parseAddr, parsePrefix, prefixContains, prefixSize, type Prefix } from './addr.ts';
import { AddressBitmap, Reader, writeVarint, writeVarintBig } from './bitmap.ts';
import { RecordKind, decodeRecord, encodeRecord } from './record.ts';

export const BlockCodes = {
  noFreeBlock: 'WEFT_IPAM_NO_FREE_BLOCK',
  foreignBlock: 'WEFT_IPAM_BLOCK_OWNED_ELSEWHERE',
  notOwner: 'WEFT_IPAM_NOT_BLOCK_OWNER',
  blockInUse: 'WEFT_IPAM_BLOCK_IN_USE',
  outOfPool: 'WEFT_IPAM_ADDRESS_OUT_OF_POOL',
  addressInUse: 'WEFT_IPAM_ADDRESS_IN_USE',
  notAllocated: 'WEFT_IPAM_ADDRESS_NOT_ALLOCATED',
  corrupt: 'WEFT_IPAM_CORRUPT_STATE',
} as const;

export const DEFAULT_BLOCK_PREFIX_V4 = 28;
/** The same 16 addresses per block for IPv6. */
export const DEFAULT_BLOCK_PREFIX_V6 = 124;

// ---------------------------------------------------------------------------------------------
// Messages

const Network = NonEmptyString;
const Node = NonEmptyString;

/** Host → manager: "give me another block of this network". */
export const BlockRequest = t.type({ type: t.literal('BlockRequest'), network: Network, node: Node });
/** Manager → host. */
export const BlockGrant = t.type({ type: t.literal('BlockGrant'), network: Network, node: Node, block: Cidr });
/** Manager → host: no block is free (the message says which pool and how many blocks). */
export const BlockDenied = t.type({ type: t.literal('BlockDenied'), network: Network, node: Node, code: t.string, reason: t.string });
/** Host → manager: a specific address (`--ip`) is wanted. */
export const AddressClaim = t.type({ type: t.literal('AddressClaim'), network: Network, node: Node, address: IP });
/** Manager → host: `granted` (its block is now yours), `owned` (already yours: check locally), `refused`. */
export const AddressClaimReply = t.intersection([
  t.type({
    type: t.literal('AddressClaimReply'),
    network: Network,
    node: Node,
    address: IP,
    result: t.union([t.literal('granted'), t.literal('owned'), t.literal('refused')]),
  }),
  t.partial({ block: Cidr, owner: t.string, reason: t.string }),
]);
/** Host → manager: an empty block handed back. */
export const BlockRelease = t.type({ type: t.literal('BlockRelease'), network: Network, node: Node, block: Cidr });
/** Control plane → manager: a node left the cluster for good. */
export const NodeRemoved = t.type({ type: t.literal('NodeRemoved'), node: Node });
/** Manager → everyone: these blocks of `node` are free again. */
export const BlocksReclaimed = t.type({ type: t.literal('BlocksReclaimed'), network: Network, node: Node, blocks: t.array(Cidr) });

export const BlockMessage = t.union([BlockRequest, BlockGrant, BlockDenied, AddressClaim, AddressClaimReply, BlockRelease, NodeRemoved, BlocksReclaimed]);
export type BlockMessage = t.TypeOf<typeof BlockMessage>;
export type BlockRequest = t.TypeOf<typeof BlockRequest>;
export type BlockGrant = t.TypeOf<typeof BlockGrant>;
export type AddressClaimReply = t.TypeOf<typeof AddressClaimReply>;
export type BlocksReclaimed = t.TypeOf<typeof BlocksReclaimed>;

// ---------------------------------------------------------------------------------------------
// Manager side

function blockGeometry(pool: Prefix, blockPrefix: number): { bits: number; count: bigint } {
  const bits = Math.min(Math.max(blockPrefix, pool.bits), familyBits(pool.family));
  return { bits, count: 1n << BigInt(bits - pool.bits) };
}

/** Which node owns which block of one network's pool. */
export class BlockTable {
  readonly plugin: string;
  readonly pool: Prefix;
  readonly blockBits: number;
  readonly blockCount: bigint;
  private readonly taken: AddressBitmap;
  private readonly owners = new Map<bigint, string>();
  private readonly byNode = new Map<string, Set<bigint>>();

  constructor(pool: string | Prefix, blockPrefix?: number, plugin = 'ipam') {
    const p = typeof pool === 'string' ? parsePrefix(pool) : pool;
    if (p === undefined) throw new RangeError(`pool ${JSON.stringify(pool)} is not a CIDR`);
    this.plugin = plugin;
    this.pool = p;
    const g = blockGeometry(p, blockPrefix ?? (p.family === 4 ? DEFAULT_BLOCK_PREFIX_V4 : DEFAULT_BLOCK_PREFIX_V6));
    this.blockBits = g.bits;
    this.blockCount = g.count < 1n << 64n ? g.count : 1n << 64n;
    this.taken = new AddressBitmap(this.blockCount);
  }

  blockPrefix(index: bigint): Prefix {
    return { family: this.pool.family, bits: this.blockBits, base: this.pool.base + (index << BigInt(familyBits(this.pool.family) - this.blockBits)) };
  }

  /** Index of the block `text` (a block CIDR or an address inside the pool), or undefined. */
  indexOf(text: string): bigint | undefined {
    const p = text.includes('/') ? parsePrefix(text) : undefined;
    const a = p !== undefined ? { family: p.family, value: p.base } : parseAddr(text);
    if (a === undefined || !prefixContains(this.pool, a)) return undefined;
    const i = (a.value - this.pool.base) >> BigInt(familyBits(this.pool.family) - this.blockBits);
    return i < this.blockCount ? i : undefined;
  }

  owner(index: bigint): string | undefined {
    return this.owners.get(index);
  }

  blocksOf(node: string): string[] {
    return [...(this.byNode.get(node) ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((i) => formatPrefix(this.blockPrefix(i)));
  }

  get granted(): number {
    return this.owners.size;
  }

  private assign(index: bigint, node: string): void {
    this.taken.setBig(index);
    this.owners.set(index, node);
    let s = this.byNode.get(node);
    if (s === undefined) this.byNode.set(node, (s = new Set()));
    s.add(index);
  }

  private unassign(index: bigint): void {
    const node = this.owners.get(index);
    if (node === undefined) return;
    this.taken.unsetBig(index);
    this.owners.delete(index);
    const s = this.byNode.get(node)!;
    s.delete(index);
    if (s.size === 0) this.byNode.delete(node);
  }

  /** Grants the lowest free block to `node`. */
  grant(node: string): string {
    const i = this.taken.findFreeBig(0n, this.blockCount - 1n);
    if (i < 0n) {
      raise(errors.unavailable(this.plugin, `No free /${this.blockBits} block left in pool "${formatPrefix(this.pool)}": all ${this.blockCount} blocks are granted`, {
        code: BlockCodes.noFreeBlock,
        value: formatPrefix(this.pool),
        hint: 'Release idle blocks, remove dead nodes, or use a larger subnet.',
      }));
    }
    this.assign(i, node);
    return formatPrefix(this.blockPrefix(i));
  }

  /** Where a specific address may be allocated; throws Conflict when another node owns it. */
  claim(node: string, address: string): { result: 'granted' | 'owned'; block: string } {
    const i = this.indexOf(address);
    if (i === undefined) {
      raise(errors.badRequest(this.plugin, `Address "${address}" is outside pool "${formatPrefix(this.pool)}"`, { code: BlockCodes.outOfPool, value: address }));
    }
    const block = formatPrefix(this.blockPrefix(i));
    const owner = this.owners.get(i);
    if (owner === node) return { result: 'owned', block };
    if (owner !== undefined) {
      raise(errors.conflict(this.plugin, `Address "${address}" lies in block "${block}", which node "${owner}" owns; it cannot be allocated on node "${node}"`, {
        code: BlockCodes.foreignBlock,
        value: address,
        hint: `Choose an address outside the blocks of node "${owner}", or run the container on that node.`,
      }));
    }
    this.assign(i, node);
    return { result: 'granted', block };
  }

  /** A node hands a block back (it must own it). */
  release(node: string, block: string): void {
    const i = this.indexOf(block);
    const owner = i === undefined ? undefined : this.owners.get(i);
    if (i === undefined || owner !== node) {
      raise(errors.forbidden(this.plugin, `Node "${node}" cannot release block "${block}" of pool "${formatPrefix(this.pool)}": ${owner === undefined ? 'it is not granted' : `node "${owner}" owns it`}`, {
        code: BlockCodes.notOwner,
        value: block,
      }));
    }
    this.unassign(i);
  }

  /** Frees every block of a removed node; returns them. */
  reclaimNode(node: string): string[] {
    const blocks = this.blocksOf(node);
    for (const i of [...(this.byNode.get(node) ?? [])]) this.unassign(i);
    return blocks;
  }

  /** Snapshot in the checksummed envelope (kind 3): pool, block length, node names, (index, node) pairs. */
  encode(key: string): Uint8Array {
    const out: number[] = [];
    const te = new TextEncoder();
    const str = (s: string) => {
      const b = te.encode(s);
      writeVarint(out, b.length);
      for (const x of b) out.push(x);
    };
    str(formatPrefix(this.pool));
    writeVarint(out, this.blockBits);
    const nodes = [...this.byNode.keys()].sort();
    writeVarint(out, nodes.length);
    for (const node of nodes) {
      str(node);
      const idx = [...this.byNode.get(node)!].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      writeVarint(out, idx.length);
      let prev = -1n;
      for (const i of idx) {
        writeVarintBig(out, i - prev - 1n); // gaps: runs of adjacent blocks cost one byte each
        prev = i;
      }
    }
    return encodeRecord(key, RecordKind.blocks, Uint8Array.from(out));
  }

  static decode(key: string, bytes: Uint8Array, plugin = 'ipam'): BlockTable {
    const bad = (reason: string) =>
      raise(errors.internal(plugin, `Stored block table "${key}" is corrupt: ${reason}`, { code: BlockCodes.corrupt, value: key, hint: 'Restore it from a backup; do not re-grant blocks blindly.' }));
    const r0 = decodeRecord(key, RecordKind.blocks, bytes);
    if (!r0.ok) bad(r0.reason);
    const r = new Reader((r0 as { payload: Uint8Array }).payload);
    const td = new TextDecoder();
    try {
      const str = () => {
        const n = r.varint();
        if (r.pos + n > r.buf.length) throw new RangeError('truncated');
        const s = td.decode(r.buf.subarray(r.pos, r.pos + n));
        r.pos += n;
        return s;
      };
      const t0 = new BlockTable(str(), r.varint(), plugin);
      const nodes = r.varint();
      for (let n = 0; n < nodes; n++) {
        const node = str();
        const count = r.varint();
        let prev = -1n;
        for (let k = 0; k < count; k++) {
          const i = prev + 1n + r.varintBig();
          if (i >= t0.blockCount || t0.owners.has(i)) throw new RangeError(`block index ${i} is out of range or granted twice`);
          t0.assign(i, node);
          prev = i;
        }
      }
      if (!r.done) throw new RangeError('trailing bytes');
      return t0;
    } catch (e) {
      return bad(e instanceof Error ? e.message : String(e));
    }
  }
}

/** The manager's side of the protocol: one BlockTable per global network. */
export class BlockManager {
  readonly plugin: string;
  readonly blockPrefix: number | undefined;
  readonly tables = new Map<string, BlockTable>();

  constructor(opts: { plugin?: string; blockPrefix?: number } = {}) {
    this.plugin = opts.plugin ?? 'ipam';
    this.blockPrefix = opts.blockPrefix;
  }

  addNetwork(network: string, pool: string): BlockTable {
    let tb = this.tables.get(network);
    if (tb === undefined) this.tables.set(network, (tb = new BlockTable(pool, this.blockPrefix, this.plugin)));
    return tb;
  }

  removeNetwork(network: string): void {
    this.tables.delete(network);
  }

  private table(network: string): BlockTable {
    const tb = this.tables.get(network);
    if (tb === undefined) raise(errors.notFound(this.plugin, `Network "${network}" has no block table on this manager`, { value: network }));
    return tb;
  }

  /** Handles one decoded message; returns the replies (to the asker, or broadcasts). */
  handle(msg: BlockMessage): BlockMessage[] {
    const attempt = <T>(f: () => T): { ok: true; v: T } | { ok: false; code: string; reason: string } => {
      try {
        return { ok: true, v: f() };
      } catch (e) {
        const err = (e as { error?: { code: string; message: string } }).error;
        if (err === undefined) throw e;
        return { ok: false, code: err.code, reason: err.message };
      }
    };
    switch (msg.type) {
      case 'BlockRequest': {
        const r = attempt(() => this.table(msg.network).grant(msg.node));
        return [r.ok ? { type: 'BlockGrant', network: msg.network, node: msg.node, block: r.v } : { type: 'BlockDenied', network: msg.network, node: msg.node, code: r.code, reason: r.reason }];
      }
      case 'AddressClaim': {
        const r = attempt(() => this.table(msg.network).claim(msg.node, msg.address));
        const base = { type: 'AddressClaimReply' as const, network: msg.network, node: msg.node, address: msg.address };
        if (r.ok) return [{ ...base, result: r.v.result, block: r.v.block }];
        const tb = this.tables.get(msg.network);
        const i = tb?.indexOf(msg.address);
        const owner = i === undefined ? undefined : tb!.owner(i);
        return [{ ...base, result: 'refused', reason: r.reason, ...(owner !== undefined ? { owner } : {}) }];
      }
      case 'BlockRelease':
        this.table(msg.network).release(msg.node, msg.block);
        return [];
      case 'NodeRemoved': {
        const out: BlockMessage[] = [];
        for (const [network, tb] of this.tables) {
          const blocks = tb.reclaimNode(msg.node);
          if (blocks.length > 0) out.push({ type: 'BlocksReclaimed', network, node: msg.node, blocks });
        }
        return out;
      }
      default:
        return [];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side

export type HostAllocation = { readonly type: 'address'; readonly address: string } | { readonly type: 'need-block'; readonly request: BlockRequest };

/** One host's view of one global network: the blocks it owns and its allocations in them. */
export class HostBlocks {
  readonly plugin: string;
  readonly network: string;
  readonly node: string;
  readonly pool: Prefix;
  readonly blockBits: number;
  private readonly bitmap: AddressBitmap;
  private readonly blocks: bigint[] = [];
  private readonly reserved: bigint[];
  private readonly blockSize: bigint;

  constructor(opts: { network: string; node: string; pool: string; blockPrefix?: number; plugin?: string }) {
    const p = parsePrefix(opts.pool);
    if (p === undefined) throw new RangeError(`pool ${JSON.stringify(opts.pool)} is not a CIDR`);
    this.plugin = opts.plugin ?? 'ipam';
    this.network = opts.network;
    this.node = opts.node;
    this.pool = p;
    this.blockBits = blockGeometry(p, opts.blockPrefix ?? (p.family === 4 ? DEFAULT_BLOCK_PREFIX_V4 : DEFAULT_BLOCK_PREFIX_V6)).bits;
    this.blockSize = 1n << BigInt(familyBits(p.family) - this.blockBits);
    const size = prefixSize(p) < 1n << 64n ? prefixSize(p) : 1n << 64n;
    this.bitmap = new AddressBitmap(size);
    // Same reservations as a local pool: network (and IPv4 broadcast) address of the whole pool.
    this.reserved = p.family === 4 ? (p.bits <= 30 ? [0n, size - 1n] : []) : p.bits <= 126 ? [0n] : [];
    for (const r of this.reserved) this.bitmap.setBig(r);
  }

  private indexOf(address: string): bigint | undefined {
    const a = parseAddr(address.split('/')[0]!);
    if (a === undefined || !prefixContains(this.pool, a)) return undefined;
    return (a.value - this.pool.base) / this.blockSize;
  }

  ownedBlocks(): string[] {
    return this.blocks.map((i) => formatPrefix({ family: this.pool.family, bits: this.blockBits, base: this.pool.base + i * this.blockSize }));
  }

  /** Applies a grant (BlockGrant, or an AddressClaimReply `granted`). */
  addBlock(block: string): void {
    const i = this.indexOf(block);
    if (i === undefined) throw new RangeError(`block ${block} is outside pool ${formatPrefix(this.pool)}`);
    if (!this.blocks.includes(i)) {
      this.blocks.push(i);
      this.blocks.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
  }

  private format(off: bigint): string {
    return `${formatAddr({ family: this.pool.family, value: this.pool.base + off })}/${this.pool.bits}`;
  }

  /** An address from the owned blocks, or the BlockRequest to send when they are full. */
  allocate(): HostAllocation {
    for (const i of this.blocks) {
      const lo = i * this.blockSize;
      const off = this.bitmap.findFreeBig(lo, lo + this.blockSize - 1n);
      if (off >= 0n) {
        this.bitmap.setBig(off);
        return { type: 'address', address: this.format(off) };
      }
    }
    return { type: 'need-block', request: { type: 'BlockRequest', network: this.network, node: this.node } };
  }

  /** A specific address: allocated if its block is ours, otherwise the AddressClaim to send. */
  allocateSpecific(address: string): HostAllocation | { readonly type: 'need-claim'; readonly claim: t.TypeOf<typeof AddressClaim> } {
    const bare = address.split('/')[0]!;
    const i = this.indexOf(bare);
    if (i === undefined) raise(errors.badRequest(this.plugin, `Address "${bare}" is outside pool "${formatPrefix(this.pool)}"`, { code: BlockCodes.outOfPool, value: address }));
    if (!this.blocks.includes(i)) return { type: 'need-claim', claim: { type: 'AddressClaim', network: this.network, node: this.node, address: bare } };
    const off = parseAddr(bare)!.value - this.pool.base;
    if (this.reserved.includes(off) || !this.bitmap.setBig(off)) {
      raise(errors.conflict(this.plugin, `Address "${bare}" is already allocated (or reserved) in pool "${formatPrefix(this.pool)}"`, { code: BlockCodes.addressInUse, value: address }));
    }
    return { type: 'address', address: this.format(off) };
  }

  release(address: string): void {
    const bare = address.split('/')[0]!;
    const i = this.indexOf(bare);
    const off = i === undefined ? -1n : parseAddr(bare)!.value - this.pool.base;
    if (i === undefined || !this.blocks.includes(i) || this.reserved.includes(off) || !this.bitmap.unsetBig(off)) {
      raise(errors.notFound(this.plugin, `Address "${bare}" is not allocated on node "${this.node}" in pool "${formatPrefix(this.pool)}"; nothing was released`, { code: BlockCodes.notAllocated, value: address }));
    }
  }

  /** Allocations (reserved addresses excluded) inside `block`. */
  usedIn(block: string): number {
    const i = this.indexOf(block);
    if (i === undefined) return 0;
    const lo = i * this.blockSize;
    const hi = lo + this.blockSize - 1n;
    const reservedIn = this.reserved.filter((r) => r >= lo && r <= hi).length;
    return Number(this.bitmap.countRange(lo, hi)) - reservedIn;
  }

  /** Owned blocks with nothing allocated: candidates for a BlockRelease. */
  idleBlocks(): string[] {
    return this.ownedBlocks().filter((b) => this.usedIn(b) === 0);
  }

  /** Forgets an owned block; it must be empty. Returns the BlockRelease to send. */
  dropBlock(block: string): t.TypeOf<typeof BlockRelease> {
    const i = this.indexOf(block);
    const at = i === undefined ? -1 : this.blocks.indexOf(i);
    if (at < 0) raise(errors.notFound(this.plugin, `Node "${this.node}" does not own block "${block}"`, { code: BlockCodes.notOwner, value: block }));
    const used = this.usedIn(block);
    if (used > 0) raise(errors.conflict(this.plugin, `Block "${block}" still has ${used} allocated addresses on node "${this.node}"; release them first`, { code: BlockCodes.blockInUse, value: block }));
    this.blocks.splice(at, 1);
    return { type: 'BlockRelease', network: this.network, node: this.node, block };
  }

  /** Allocated offsets (reserved ones excluded), ascending. */
  private allocated(): bigint[] {
    return [...this.bitmap.bits()].filter((o) => !this.reserved.includes(o));
  }

  /** Snapshot for the host's store (kind 3 envelope): owned blocks and allocations, gap-encoded. */
  encode(key: string): Uint8Array {
    const out: number[] = [];
    const te = new TextEncoder();
    const str = (x: string) => {
      const b = te.encode(x);
      writeVarint(out, b.length);
      for (const c of b) out.push(c);
    };
    str(this.network);
    str(this.node);
    str(formatPrefix(this.pool));
    writeVarint(out, this.blockBits);
    const gaps = (list: readonly bigint[]) => {
      writeVarint(out, list.length);
      let prev = -1n;
      for (const v of list) {
        writeVarintBig(out, v - prev - 1n);
        prev = v;
      }
    };
    gaps(this.blocks);
    gaps(this.allocated());
    return encodeRecord(key, RecordKind.blocks, Uint8Array.from(out));
  }

  static decode(key: string, bytes: Uint8Array, plugin = 'ipam'): HostBlocks {
    const bad = (reason: string): never =>
      raise(errors.internal(plugin, `Stored host blocks "${key}" are corrupt: ${reason}`, { code: BlockCodes.corrupt, value: key, hint: 'Restore the record from a backup; the manager still knows which blocks this node owns.' }));
    const r0 = decodeRecord(key, RecordKind.blocks, bytes);
    if (!r0.ok) return bad(r0.reason);
    const r = new Reader(r0.payload);
    const td = new TextDecoder();
    try {
      const str = () => {
        const n = r.varint();
        if (r.pos + n > r.buf.length) throw new RangeError('truncated');
        const x = td.decode(r.buf.subarray(r.pos, r.pos + n));
        r.pos += n;
        return x;
      };
      const network = str();
      const node = str();
      const pool = str();
      const h = new HostBlocks({ network, node, pool, blockPrefix: r.varint(), plugin });
      const gaps = (): bigint[] => {
        const n = r.varint();
        const list: bigint[] = [];
        let prev = -1n;
        for (let i = 0; i < n; i++) list.push((prev = prev + 1n + r.varintBig()));
        return list;
      };
      h.blocks.push(...gaps());
      for (const off of gaps()) {
        const bi = off / h.blockSize;
        if (off >= h.bitmap.size || !h.blocks.includes(bi) || !h.bitmap.setBig(off)) throw new RangeError(`allocation at offset ${off} is outside the owned blocks`);
      }
      if (!r.done) throw new RangeError('trailing bytes');
      return h;
    } catch (e) {
      return bad(e instanceof Error ? e.message : String(e));
    }
  }

  /** Applies a manager message addressed to this host. */
  apply(msg: BlockMessage): void {
    if (msg.type === 'BlockGrant' && msg.network === this.network && msg.node === this.node) this.addBlock(msg.block);
    if (msg.type === 'AddressClaimReply' && msg.network === this.network && msg.node === this.node && msg.result === 'granted' && msg.block !== undefined) this.addBlock(msg.block);
  }
}

/**
 * IPAM host blocks on the manager, behind a small adapter so the control plane does not depend on
 * the allocator's internals. The default adapter uses @weft/ipam's `BlockTable` (one table per
 * subnet of a network); each table is persisted in the store on every change.
 */
import { BlockTable } from '@weft/ipam';
import type { Store } from '@weft/kernel';

export interface BlockAllocator {
  /** Registers a pool (`key` = `<networkId>/<subnet index>`); a no-op when it exists. */
  addPool(key: string, pool: string): void;
  removePool(key: string): void;
  /** Grants the lowest free block; throws a WeftException when none is free. */
  grant(key: string, node: string): string;
  /** Throws a WeftException when `node` does not own `block`. */
  release(key: string, node: string, block: string): void;
  /** Frees every block of `node`; returns the pools that changed and what was freed. */
  reclaimNode(node: string): { key: string; blocks: string[] }[];
  blocksOf(node: string): { key: string; blocks: string[] }[];
  /** Durable form of one pool's table, or undefined if the pool is gone. */
  save(key: string): Uint8Array | undefined;
  load(key: string, bytes: Uint8Array): void;
}

export function ipamBlockAllocator(opts: { blockPrefix?: number; plugin?: string } = {}): BlockAllocator {
  const tables = new Map<string, BlockTable>();
  const plugin = opts.plugin ?? 'control';
  const table = (key: string): BlockTable => {
    const tb = tables.get(key);
    if (tb === undefined) throw new Error(`no block table for ${key}`);
    return tb;
  };
  return {
    addPool(key, pool) {
      if (!tables.has(key)) tables.set(key, new BlockTable(pool, opts.blockPrefix, plugin));
    },
    removePool: (key) => void tables.delete(key),
    grant: (key, node) => table(key).grant(node),
    release: (key, node, block) => table(key).release(node, block),
    reclaimNode(node) {
      const out: { key: string; blocks: string[] }[] = [];
      for (const [key, tb] of tables) {
        const blocks = tb.reclaimNode(node);
        if (blocks.length > 0) out.push({ key, blocks });
      }
      return out;
    },
    blocksOf(node) {
      const out: { key: string; blocks: string[] }[] = [];
      for (const [key, tb] of tables) {
        const blocks = tb.blocksOf(node);
        if (blocks.length > 0) out.push({ key, blocks });
      }
      return out;
    },
    save: (key) => tables.get(key)?.encode(key),
    load(key, bytes) {
      tables.set(key, BlockTable.decode(key, bytes, plugin));
    },
  };
}

/** Loads every persisted table under `store` (keys `<networkId>/<index>`). */
export async function loadBlocks(alloc: BlockAllocator, store: Store): Promise<void> {
  for (const key of await store.keys()) {
    const v = await store.get(key);
    if (v !== undefined) alloc.load(key, v);
  }
}

export async function saveBlocks(alloc: BlockAllocator, store: Store, keys: Iterable<string>): Promise<void> {
  for (const key of keys) {
    const v = alloc.save(key);
    if (v === undefined) await store.delete(key);
    else await store.put(key, v);
  }
}

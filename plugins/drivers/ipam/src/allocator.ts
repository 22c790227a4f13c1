/**
 * The kernel's `blocks` contract over `BlockTable`: one table per pool (one subnet of one swarm
 * network), for the control plane's manager, which persists each table's bytes in its own store.
 * `ipamBlocksPlugin` provides it as the `blocks` service.
 */
import { definePlugin, type BlockAllocator, type BlockAllocatorOptions, type BlockAllocators, type PluginDefinition } from '@weft/kernel';
import { BlockTable } from './blocks.ts';
import { IPAM_PLUGIN_VERSION } from './plugin.ts';

export function ipamBlockAllocator(opts: BlockAllocatorOptions = {}): BlockAllocator {
  const tables = new Map<string, BlockTable>();
  const plugin = opts.plugin ?? 'control';
  const table = (key: string): BlockTable => {
    const tb = tables.get(key);
    if (tb === undefined) throw new Error(`no block table for ${key}`);
    return tb;
  };
  const each = (f: (tb: BlockTable) => string[]): { key: string; blocks: string[] }[] => {
    const out: { key: string; blocks: string[] }[] = [];
    for (const [key, tb] of tables) {
      const blocks = f(tb);
      if (blocks.length > 0) out.push({ key, blocks });
    }
    return out;
  };
  return {
    addPool(key, pool) {
      if (!tables.has(key)) tables.set(key, new BlockTable(pool, opts.blockPrefix, plugin));
    },
    removePool: (key) => void tables.delete(key),
    grant: (key, node) => table(key).grant(node),
    release: (key, node, block) => table(key).release(node, block),
    reclaimNode: (node) => each((tb) => tb.reclaimNode(node)),
    blocksOf: (node) => each((tb) => tb.blocksOf(node)),
    save: (key) => tables.get(key)?.encode(key),
    load(key, bytes) {
      tables.set(key, BlockTable.decode(key, bytes, plugin));
    },
  };
}

/** Provides the `blocks` service (load it beside `control`; it holds no state of its own). */
export function ipamBlocksPlugin(): PluginDefinition {
  return definePlugin({
    manifest: {
      name: 'ipam-blocks',
      version: IPAM_PLUGIN_VERSION,
      kernel: '^0.1.0',
      provides: ['blocks'],
      description: "The manager's block allocator for swarm networks (block affinity over BlockTable)",
    },
    services: {
      blocks: (): BlockAllocators => ({ create: (opts) => ipamBlockAllocator(opts) }),
    },
  });
}

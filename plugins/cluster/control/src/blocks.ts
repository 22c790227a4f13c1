/**
 * IPAM host blocks on the manager: the allocator is the kernel's `blocks` contract (provided by
 * @weft/ipam's `ipamBlocksPlugin`), so the control plane does not depend on an IPAM's internals;
 * the manager persists each pool's table in its store on every change (`<networkId>/<index>`).
 */
import type { BlockAllocator, Store } from '@weft/kernel';

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

/**
 * `blocks`: the manager's allocator of address blocks (Calico's block affinity, libnetwork's
 * "the controller sequences, the IPAM allocates"): the control plane grants each node blocks of a
 * swarm network's subnets and persists who owns which, but how a pool is cut into blocks and
 * tracked is the IPAM's business. Provided by @weft/ipam (`ipamBlocksPlugin`, over its
 * `BlockTable`); required by `control`.
 *
 * A pool is one subnet of one network, keyed `<networkId>/<subnet index>`. Failures that the
 * caller reports to users (no free block, a block owned by another node) are thrown as
 * WeftExceptions carrying the allocator's codes.
 */
export interface BlockAllocator {
  /** Registers a pool; a no-op when it exists. */
  addPool(key: string, pool: string): void;
  removePool(key: string): void;
  /** Grants `node` the lowest free block of the pool. */
  grant(key: string, node: string): string;
  /** Frees `block`; throws when `node` does not own it. */
  release(key: string, node: string, block: string): void;
  /** Frees every block of `node`; returns the pools that changed and what was freed. */
  reclaimNode(node: string): { key: string; blocks: string[] }[];
  blocksOf(node: string): { key: string; blocks: string[] }[];
  /** Durable form of one pool's table, or undefined if the pool is gone. */
  save(key: string): Uint8Array | undefined;
  /** Restores a pool from `save`'s bytes; throws (coded) when they do not decode. */
  load(key: string, bytes: Uint8Array): void;
}

export interface BlockAllocatorOptions {
  /** Block size as a prefix length (default: the allocator's, /28 for IPv4). */
  readonly blockPrefix?: number;
  /** Plugin named in errors (default `control`, the caller that reports them). */
  readonly plugin?: string;
}

/** The `blocks` service: a fresh, empty allocator for each manager. */
export interface BlockAllocators {
  create(opts?: BlockAllocatorOptions): BlockAllocator;
}

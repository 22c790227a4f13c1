/**
 * @weft/ipam — Docker-compatible IPAM for Weft: predefined and explicit pools, sub-pools,
 * gateway/serial/aux requests, a summarised bitmap allocator with compact checksummed
 * persistence, and the block-affinity logic that keeps global networks duplicate-free.
 */
export * from './addr.ts';
export * from './bitmap.ts';
export * from './record.ts';
export * from './pools.ts';
export * from './state.ts';
export * from './plugin.ts';
export * from './blocks.ts';
export * from './allocator.ts';

/**
 * @weft/ipam — Docker-compatible IPAM for Weft: predefined and explicit pools, sub-pools,
 * gateway/serial/aux requests, a summarised bitmap allocator with compact checksummed
 * persistence, and the block-affinity logic that keeps global networks duplicate-free.
 */
export { familyBits, parseIPv4, parseIPv6, formatIPv6, parseAddr, formatAddr, hostMask, parsePrefix, formatPrefix, prefixSize, prefixLast, prefixContains, prefixOverlaps, samePrefix, subnetAt, formatIPv4 } from './addr.ts';
export type { Family, Addr, Prefix } from './addr.ts';
export { CHUNK_SHIFT, CHUNK_BITS, MAX_BITS, popcount32, Chunk, AddressBitmap, writeVarint, writeVarintBig, Reader, encodeWords, decodeWords } from './bitmap.ts';
export { RECORD_VERSION, RecordKind, HEADER_BYTES, encodeRecord, decodeRecord } from './record.ts';
export { DEFAULT_LOCAL_POOLS, DEFAULT_GLOBAL_POOLS, DEFAULT_LOCAL_V6_POOLS, DEFAULT_GLOBAL_V6_POOLS, IpamConfig, checkConfigPools, resolvePools, parseRoutes, pickPool } from './pools.ts';
export type { PredefinedPool, ResolvedPools } from './pools.ts';
export { IpamCodes, IpamOptions, metaKey, chunkKey, IpamState } from './state.ts';
export type { SubRange, Subnet, PoolRef, IpamStateOptions, PoolUsage } from './state.ts';
export { IPAM_PLUGIN_VERSION, PoolUsageCodec, UtilisationRequest, UtilisationResponse, IpamMethods, stateOptions, ipamPlugin } from './plugin.ts';
export type { IpamPluginOptions } from './plugin.ts';
export { BlockCodes, DEFAULT_BLOCK_PREFIX_V4, DEFAULT_BLOCK_PREFIX_V6, BlockRequest, BlockGrant, BlockDenied, AddressClaim, AddressClaimReply, BlockRelease, NodeRemoved, BlocksReclaimed, BlockMessage, BlockTable, BlockManager, HostBlocks } from './blocks.ts';
export type { HostAllocation } from './blocks.ts';
export { ipamBlockAllocator, ipamBlocksPlugin } from './allocator.ts';

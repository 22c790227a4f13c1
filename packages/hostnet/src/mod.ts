/** @weft/hostnet — this host's instance of a network (pools, gateways, blocks, the driver's network), shared by the engine and the Docker plugin. */
export { HostNetwork, inSubnet, poolFamily } from './instance.ts';
export type { SubnetSpec, NetworkSpec, PoolState, Instance, HostNetworkOptions } from './instance.ts';
export { subnetProblem, checkSubnets, reservedOverlap, familyOf, SubnetCodes, IPV6_MIN_PREFIX, IPV6_MAX_PREFIX } from './subnets.ts';
export type { SubnetRequest } from './subnets.ts';

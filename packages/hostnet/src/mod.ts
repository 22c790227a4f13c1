/** @weft/hostnet — this host's instance of a network (pools, gateways, blocks, the driver's network), shared by the engine and the Docker plugin. */
export { HostNetwork, inSubnet } from './instance.ts';
export type { SubnetSpec, NetworkSpec, PoolState, Instance, HostNetworkOptions } from './instance.ts';

/**
 * @weft/switch — the network-driver core shared by the `overlay` and `bridge` drivers: Docker's
 * NetworkDriver calls on the userspace switch, with the endpoint sharing left to each driver.
 */
export { switchDriver, nodeName, ifnameFor, macFor, JoinOptions } from './driver.ts';
export type { SwitchConfig, SwitchDriverSpec, EndpointSharing, EndpointState } from './driver.ts';
export { parseNetwork, derivedVni, VNI_MIN, VNI_MAX, DEFAULT_MTU, MIN_MTU } from './options.ts';
export type { NetworkSpec, Parsed } from './options.ts';

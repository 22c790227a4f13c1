/**
 * @weft/docker — Weft as a Docker Engine network and IPAM driver: the `weft` kernel plugin that the
 * agent serves on Docker's plugin socket, and the entries the agent loads for it.
 */
export { dockerPlugin } from './plugin.ts';
export { DockerPluginConfig, DEFAULT_DNS_ADDRESS, DOCKER_PLUGIN_VERSION, attachmentName } from './config.ts';
export type { DockerPluginOptions } from './config.ts';
export { WEFT_NETWORK, mapCreateOptions, ipv4ToNum, numToIpv4, bare, prefixLen, normaliseCidr, firstHost, inSubnet, isV4 } from './options.ts';
export type { MappedOptions, Mapped } from './options.ts';
export { DNS_BRIDGE, socketPathOf, linuxDockerHost } from './host.ts';
export type { DockerHost, ContainerLink } from './host.ts';
export { createContainerDns } from './container-dns.ts';
export type { ContainerDns, DnsAnswer } from './container-dns.ts';
export { dockerIntegration } from './agent.ts';
export type { DockerIntegration } from './agent.ts';

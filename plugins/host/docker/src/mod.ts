/**
 * @weft/docker — Weft as a Docker Engine network and IPAM driver: the `weft` kernel plugin that the
 * agent serves on Docker's plugin socket, and the entries the agent loads for it.
 */
export * from './plugin.ts';
export * from './options.ts';
export * from './host.ts';
export * from './agent.ts';

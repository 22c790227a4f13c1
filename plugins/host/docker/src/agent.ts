/**
 * What the agent needs to serve Docker: the plugin entries to load and the plugin names the
 * Docker socket gateway routes `/NetworkDriver.*` and `/IpamDriver.*` to.
 */
import * as path from 'node:path';
import type { PluginEntry } from '@weft/kernel';
import { dockerPlugin } from './plugin.ts';
import type { DockerPluginConfig } from './config.ts';

export interface DockerIntegration {
  readonly entries: PluginEntry[];
  readonly networkDriver: string;
  readonly ipamDriver: string;
}

/**
 * `nodeName` is recorded with control-plane attachments. `WEFT_DOCKER_HOST` (e.g.
 * `unix:///run/docker.sock`) lets the plugin ask dockerd for a network's name;
 * `WEFT_DOCKER_CREATE=0` stops it from creating Weft networks. The agent answers DNS for containers
 * run with `--dns 127.0.0.53` (`WEFT_DOCKER_DNS_ADDRESS` changes the address; `WEFT_DOCKER_DNS=0`
 * turns it off).
 */
export function dockerIntegration(cfg: { readonly nodeName: string; readonly stateDir?: string }, env: Readonly<Record<string, string | undefined>> = process.env): DockerIntegration {
  const config: DockerPluginConfig = {
    node: cfg.nodeName,
    ...(env.WEFT_DOCKER_HOST !== undefined && env.WEFT_DOCKER_HOST !== '' ? { dockerHost: env.WEFT_DOCKER_HOST } : {}),
    ...(env.WEFT_DOCKER_CREATE === '0' ? { createNetworks: false } : {}),
    // Containers run with --dns 127.0.0.53 reach Weft's resolver (one responder in the agent,
    // a socket in each container's namespace); WEFT_DOCKER_DNS=0 turns it off.
    ...(env.WEFT_DOCKER_DNS === '0' ? { containerDns: false } : {}),
    ...(env.WEFT_DOCKER_DNS_ADDRESS !== undefined && env.WEFT_DOCKER_DNS_ADDRESS !== '' ? { dnsAddress: env.WEFT_DOCKER_DNS_ADDRESS } : {}),
  };
  const plugin = dockerPlugin();
  return { entries: [{ plugin, config }], networkDriver: plugin.manifest.name, ipamDriver: plugin.manifest.name };
}

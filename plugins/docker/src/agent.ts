/**
 * What the agent needs to serve Docker: the plugin entries to load and the plugin names the
 * Docker socket gateway routes `/NetworkDriver.*` and `/IpamDriver.*` to.
 */
import type { PluginEntry } from '@weft/kernel';
import { dockerPlugin, type DockerPluginConfig } from './plugin.ts';

export interface DockerIntegration {
  readonly entries: PluginEntry[];
  readonly networkDriver: string;
  readonly ipamDriver: string;
}

/**
 * `nodeName` is recorded with control-plane attachments. `WEFT_DOCKER_HOST` (e.g.
 * `unix:///run/docker.sock`) lets the plugin ask dockerd for a network's name;
 * `WEFT_DOCKER_CREATE=0` stops it from creating Weft networks.
 */
export function dockerIntegration(cfg: { readonly nodeName: string }, env: Readonly<Record<string, string | undefined>> = process.env): DockerIntegration {
  const config: DockerPluginConfig = {
    node: cfg.nodeName,
    ...(env.WEFT_DOCKER_HOST !== undefined && env.WEFT_DOCKER_HOST !== '' ? { dockerHost: env.WEFT_DOCKER_HOST } : {}),
    ...(env.WEFT_DOCKER_CREATE === '0' ? { createNetworks: false } : {}),
  };
  const plugin = dockerPlugin();
  return { entries: [{ plugin, config }], networkDriver: plugin.manifest.name, ipamDriver: plugin.manifest.name };
}

/** The `weft` Docker plugin's configuration and factory options. */
import * as t from 'io-ts';
import type { DockerHost } from './host.ts';

export const DEFAULT_DNS_ADDRESS = '127.0.0.53';

export const DOCKER_PLUGIN_VERSION = '0.1.0';

export const DockerPluginConfig = t.partial({
  /** This node's name (recorded with control-plane attachments). */
  node: t.string,
  /**
   * dockerd's API (`unix:///run/docker.sock`). When set, a Docker network created without a
   * Weft network name maps to the Weft network of the Docker network's own name, looked up here.
   */
  dockerHost: t.string,
  /** Create the Weft network through the control plane when none matches (default true). */
  createNetworks: t.boolean,
  /**
   * Unix socket on which the agent answers DNS for the bridges it runs inside containers. Unset:
   * no bridges. With it, Docker's embedded DNS forwards names it does not know to Weft's resolver
   * when a container runs with `--dns <dnsAddress>`.
   */
  dnsSocket: t.string,
  /** Loopback address inside containers the bridge answers on (default 127.0.0.53). */
  dnsAddress: t.string,
});
export type DockerPluginConfig = t.TypeOf<typeof DockerPluginConfig>;

export interface DockerPluginOptions {
  /** Kernel plugin name; it is also the driver name Docker users type. Default `weft`. */
  readonly name?: string;
  readonly overlay?: string;
  readonly ipam?: string;
  readonly control?: string;
  readonly host?: DockerHost;
}

/** Docker's sandbox name in control-plane attachments: `docker-<12 hex of the endpoint>`. */
export const attachmentName = (endpointId: string): string => `docker-${endpointId.slice(0, 12)}`;

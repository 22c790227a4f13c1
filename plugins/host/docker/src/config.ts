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
   * Answer Weft's names inside containers on Weft networks (default true, when the `dns` service
   * is loaded): one responder in the agent opens a socket on `dnsAddress`:53 in each container's
   * namespace (container-dns.ts). Docker's embedded DNS forwards the names it does not know there
   * when a container runs with `--dns <dnsAddress>`.
   */
  containerDns: t.boolean,
  /** Loopback address inside containers the responder answers on (default 127.0.0.53). */
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

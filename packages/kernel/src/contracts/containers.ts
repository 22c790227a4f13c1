/**
 * containers — network namespaces outside the engine that sit on Weft networks: Docker's
 * containers, attached by dockerd through the `weft` network driver (@weft/docker provides it).
 * Whatever Weft does inside its own sandboxes for a network's clients it does here too; the
 * services plugin programs its VIP load balancing in them.
 */
export interface ContainerSandbox {
  /** Stable ID (the Docker endpoint's). */
  readonly id: string;
  /** The container's name when known, else its endpoint ID (for logs). */
  readonly name: string;
  /** Path of its network namespace (Docker's SandboxKey), for `nsenter --net=`. */
  readonly netnsPath: string;
  /** IDs of the Weft networks it is attached to on this host. */
  readonly networks: readonly string[];
}

export interface Containers {
  /** The containers on this host attached to Weft networks, whose namespace exists now. */
  list(): Promise<readonly ContainerSandbox[]>;
}

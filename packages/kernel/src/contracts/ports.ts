/**
 * ports — published-port forwarding into a sandbox, provided by the `engine` plugin
 * (@weft/engine, `ports.ts`). The engine's own published ports (`weft run -p`) and the services
 * plugin's routing mesh both go through it.
 *
 * The model: a forwarder runs inside the sandbox's namespace (its `command`, started by whoever
 * owns the sandbox) and accepts on one unix socket per port in `dir`; this host listens on
 * `host:published` in the agent's namespace and relays each TCP connection, or each UDP client's
 * datagrams (framed, one session per client), to that socket. The forwarder reaches `target` on
 * one of the addresses last given to `setTargets` (read per connection or UDP session, round
 * robin). Unix sockets cross network namespaces: no veth, no NAT.
 */

/** One published port. */
export interface PublishedPort {
  /** Port on this host. */
  readonly published: number;
  /** Port inside the sandbox. */
  readonly target: number;
  /** Default `tcp`. */
  readonly protocol?: 'tcp' | 'udp';
  /** Address on this host to listen on; default `0.0.0.0`. */
  readonly host?: string;
}

/** The forwarding of one sandbox's published ports. */
export interface PortForwarding {
  /** The forwarder: a command to run inside the sandbox's namespace (it never exits by itself). */
  readonly command: readonly string[];
  /** Where the forwarder connects: addresses of the sandbox (or of a service's tasks). Atomic. */
  setTargets(ips: readonly string[]): void;
  /** The addresses last set (also after an agent restart: they live in `dir`). */
  targets(): readonly string[];
  /**
   * Listens on `host:published` (default `0.0.0.0`) for each port and relays into the forwarder. A port that cannot be
   * bound is reported to `onError` (per port) and the others still listen.
   */
  listen(onError: (port: PublishedPort, error: Error) => void): void;
  /** Stops listening (the forwarder keeps running until its sandbox goes). */
  close(): void;
  /** Stops listening and removes `dir`. */
  remove(): void;
}

export interface Ports {
  /**
   * Prepares forwarding for `ports` with its sockets and target list in `dir` (made if absent,
   * mode 0700; one per sandbox). Nothing listens until `listen`.
   */
  forward(spec: { readonly dir: string; readonly ports: readonly PublishedPort[] }): PortForwarding;
  /** True when `host:port` can be bound now (checked before a sandbox is made, for a clear error). */
  free(host: string, port: number, protocol?: 'tcp' | 'udp'): Promise<boolean>;
}

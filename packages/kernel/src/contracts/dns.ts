/**
 * `dns`: the embedded resolver of Weft's networks (Docker's 127.0.0.11, reached at the network's
 * resolver address). Provided by @weft/dns; used by the data path (the switch hands it queries
 * sandboxes send to the resolver address) and by the Docker plugin (its in-container bridges).
 *
 * Queries and replies are raw DNS messages (RFC 1035 §4). `answer` is synchronous and never
 * throws, so the switch can reply from the same turn; only forwarding upstream is asynchronous.
 */

/**
 * Who sent a query, as the data path reads it from the frame: the IPv4 source address (or the
 * IPv6 one, as text, for a query over IPv6) and the source MAC, as numbers, so a caller can fill one preallocated object per query and allocate
 * nothing. The resolver reads it during the call only and never keeps it.
 *
 * With a client, the names of every network the client's sandbox is attached to are answered,
 * the query's network first (Docker's embedded DNS answers from all of a container's networks).
 * With a MAC, the endpoint holding the address must have that MAC too, so a sandbox that forges
 * another's address learns nothing more.
 */
export interface DnsClient {
  /** IPv4 source address as an unsigned 32-bit number (10.0.0.5 = 0x0a000005); 0 for a query over IPv6. */
  readonly ipv4: number;
  /** IPv6 source address (text) of a query over IPv6; then `ipv4` is 0. Absent for IPv4 queries. */
  readonly ipv6?: string | undefined;
  /** Source MAC as a 48-bit number (02:42:0a:00:00:05 = 0x02420a000005); absent when unknown. */
  readonly mac?: number;
}

/** A reply to send, `'forward'` (ask upstream, then send its reply) or `'drop'` (send nothing). */
export type DnsAnswerResult = Uint8Array | 'forward' | 'drop';

import type { DnsStats } from './stats.ts';

export interface Dns {
  /**
   * Answers `query[0..len)` (default: all of it) asked on `network` from the network's names.
   * Without `client`, only `network`'s names answer.
   */
  answer(query: Uint8Array, network: string, len?: number, client?: DnsClient): DnsAnswerResult;
  /** Forwards upstream: the reply to send (SERVFAIL when none answered), or undefined. Never rejects. */
  forward(query: Uint8Array, len?: number): Promise<Uint8Array | undefined>;
  /** `answer`, then `forward` when it says so. */
  resolve(query: Uint8Array, network: string, len?: number, client?: DnsClient): Promise<Uint8Array | undefined>;
  /** Optional, read-only: query counters and forward latency (metrics). */
  stats?(): DnsStats;
}

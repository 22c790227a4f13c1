/**
 * The plugin: provides the `dns` service (the resolver the switch hands DNS payloads to) and keeps
 * its names current from the `table` event topic. Uses `tables` when present for the initial
 * sync of a network; needs nothing else.
 */
import { readFile } from 'node:fs/promises';
import * as t from 'io-ts';
import { definePlugin, ENDPOINTS_TABLE, type TableEvent } from '@weft/kernel';
import { createResolver, type AnswerResult, type DnsClient, type DnsCounters, type Resolver } from './resolver.ts';
import type { NameRecord } from './records.ts';
import { parseResolvConf, parseUpstream } from './resolvconf.ts';

const UpstreamString = new t.Type<string, string, unknown>(
  'Upstream',
  (u): u is string => typeof u === 'string' && typeof parseUpstream(u) !== 'string',
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, `expected an IP address such as "10.0.0.53" or "[fd00::53]:5353", got ${JSON.stringify(u)}`);
    const r = parseUpstream(u);
    return typeof r === 'string' ? t.failure(u, c, r) : t.success(u);
  },
  (s) => s,
);

const Seconds = new t.Type<number, number, unknown>(
  'Seconds',
  (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0 && u <= 0x7fffffff,
  (u, c) => (typeof u === 'number' && Number.isInteger(u) && u >= 0 && u <= 0x7fffffff ? t.success(u) : t.failure(u, c, `expected whole seconds 0-2147483647, got ${JSON.stringify(u)}`)),
  (n) => n,
);

const Positive = new t.Type<number, number, unknown>(
  'PositiveInteger',
  (u): u is number => typeof u === 'number' && Number.isInteger(u) && u > 0,
  (u, c) => (typeof u === 'number' && Number.isInteger(u) && u > 0 ? t.success(u) : t.failure(u, c, `expected a positive whole number, got ${JSON.stringify(u)}`)),
  (n) => n,
);

export const DnsConfig = t.partial({
  /** Answer TTL, seconds (default 5). */
  ttl: Seconds,
  /** Upstream resolvers; default: the `nameserver` lines of `resolvConf`. */
  upstreams: t.array(UpstreamString),
  /** Host resolv.conf read when `upstreams` is not given (default `/etc/resolv.conf`). */
  resolvConf: t.string,
  /** Cluster domain (`web.<domain>` resolves like `web`). */
  domain: t.string,
  /** Per-upstream timeout, ms (default 2000). */
  forwardTimeoutMs: Positive,
  /** Forwarded queries in flight at once (default 1024). */
  maxConcurrentForwards: Positive,
  /** Table holding endpoint records (default `endpoints`). */
  table: t.string,
});
export type DnsConfig = t.TypeOf<typeof DnsConfig>;

/**
 * Who sent a DNS payload handed over as a view into the Ethernet frame it arrived in, as the
 * switch does (plugins/datapath/vxlan: `dnsPayload(frame)` is a subarray of the frame, which starts at
 * offset 0 of its buffer): the IPv4 source address and source MAC, once the bytes in front of the
 * payload are checked to be exactly Ethernet (type IPv4) + an IPv4 header (UDP) + a UDP header to
 * port 53 of the payload's length. Anything else (a copied payload, another layout): undefined,
 * and the query is answered from its network alone.
 */
export function frameClient(query: Uint8Array, len: number = query.length): DnsClient | undefined {
  const udp = query.byteOffset - 8;
  if (udp < 14 + 20 || len !== query.length) return undefined;
  const b = new Uint8Array(query.buffer, 0, query.byteOffset);
  const ihl = (b[14]! & 15) * 4;
  if (b[12] !== 0x08 || b[13] !== 0x00 || b[14]! >> 4 !== 4 || 14 + ihl !== udp || b[14 + 9] !== 17) return undefined;
  if (((b[udp + 2]! << 8) | b[udp + 3]!) !== 53 || ((b[udp + 4]! << 8) | b[udp + 5]!) !== 8 + len) return undefined;
  const mac = [...b.subarray(6, 12)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  return { ip: `${b[26]}.${b[27]}.${b[28]}.${b[29]}`, mac };
}

/** The `dns` service. */
export interface DnsService {
  /**
   * Answers from the table: reply bytes, `'forward'` or `'drop'`. Synchronous, never throws.
   * `client` is who asked (address on `network`, MAC); when omitted it is read from the frame the
   * payload is a view of (`frameClient`). With it, names of all the client's networks answer.
   */
  answer(query: Uint8Array, network: string, len?: number, client?: DnsClient): AnswerResult;
  /** Forwards upstream: the reply to send (SERVFAIL if none answered), or undefined. */
  forward(query: Uint8Array, len?: number): Promise<Uint8Array | undefined>;
  /** `answer`, then `forward` when needed. */
  resolve(query: Uint8Array, network: string, len?: number, client?: DnsClient): Promise<Uint8Array | undefined>;
  records(network: string): readonly NameRecord[];
  counters(): Readonly<DnsCounters>;
  /** The resolver underneath (upstreams, tables). */
  readonly resolver: Resolver;
}

declare module '@weft/kernel' {
  interface ServiceMap {
    dns: DnsService;
  }
}

export const dnsService = (resolver: Resolver): DnsService => ({
  answer: (query, network, len = query.length, client = frameClient(query, len)) => resolver.answer(query, len, network, client),
  forward: (query, len) => resolver.forward(query, len),
  resolve: (query, network, len = query.length, client = frameClient(query, len)) => resolver.resolve(query, len, network, client),
  records: (network) => resolver.records(network),
  counters: () => resolver.counters(),
  resolver,
});

const isTableEvent = (e: unknown): e is TableEvent => {
  if (typeof e !== 'object' || e === null) return false;
  const entry = (e as { entry?: unknown }).entry;
  return typeof entry === 'object' && entry !== null && typeof (entry as { network?: unknown }).network === 'string' && (entry as { value?: unknown }).value instanceof Uint8Array;
};

export const dnsPlugin = definePlugin<DnsConfig>({
  manifest: {
    name: 'dns',
    version: '0.1.0',
    kernel: '^0.1.0',
    provides: ['dns'],
    optional: ['tables'],
    description: 'Embedded DNS resolver: names and aliases from the endpoints table, service VIP/dnsrr, tasks.NAME, forwarding upstream',
    config: DnsConfig,
  },
  services: {
    dns: async (ctx) => {
      const cfg = ctx.config ?? {};
      let upstreams = cfg.upstreams;
      if (upstreams === undefined) {
        const path = cfg.resolvConf ?? '/etc/resolv.conf';
        try {
          const rc = parseResolvConf(await readFile(path, 'utf8'));
          upstreams = [...rc.nameservers];
          for (const s of rc.skipped) ctx.log.warn(`Ignoring a line of ${path}`, { line: s });
        } catch (e) {
          upstreams = [];
          ctx.log.warn(`Cannot read ${path}; names outside the networks will get SERVFAIL. Set "upstreams" in the dns plugin config.`, { error: String(e) });
        }
      }
      const tables = ctx.services.has('tables') ? ctx.services.get('tables') : undefined;
      const table = cfg.table ?? ENDPOINTS_TABLE;
      const resolver = createResolver({
        upstreams,
        ...(cfg.ttl !== undefined ? { ttl: cfg.ttl } : {}),
        ...(cfg.domain !== undefined ? { domain: cfg.domain } : {}),
        ...(cfg.forwardTimeoutMs !== undefined ? { forwardTimeoutMs: cfg.forwardTimeoutMs } : {}),
        ...(cfg.maxConcurrentForwards !== undefined ? { maxConcurrentForwards: cfg.maxConcurrentForwards } : {}),
        table,
        ...(tables !== undefined ? { source: (n: string) => tables.entries(n, table) } : {}),
      });
      ctx.log.info('dns resolver ready', { upstreams: upstreams.join(' '), ttl: cfg.ttl ?? 5 });
      return dnsService(resolver);
    },
  },
  events: {
    table: (event, ctx) => {
      if (!isTableEvent(event)) return;
      const svc = ctx.services.get('dns');
      const r = svc.resolver.apply(event);
      if (r.kind === 'invalid') ctx.log.warn('Ignoring an endpoint record that does not decode', { error: r.error });
    },
  },
});

export default dnsPlugin;

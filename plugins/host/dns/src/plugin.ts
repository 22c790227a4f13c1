/**
 * The plugin: provides the `dns` service (the resolver the switch hands DNS payloads to) and keeps
 * its names current from the `table` event topic. Uses `tables` when present for the initial
 * sync of a network; needs nothing else.
 */
import { readFile } from 'node:fs/promises';
import * as t from 'io-ts';
import { definePlugin, ENDPOINTS_TABLE, type Dns, type TableEvent } from '@weft/kernel';
import { createResolver, type DnsCounters, type Resolver } from './resolver.ts';
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
  /** How long a miss waits for the network's other nodes before NXDOMAIN, ms (default 300). */
  missSyncMs: Positive,
});
export type DnsConfig = t.TypeOf<typeof DnsConfig>;

/**
 * The `dns` service: the kernel's `Dns` contract, plus the resolver's tables and counters for
 * diagnostics (reach them with `dnsService(resolver)` or the `resolver` of a kernel's instance in
 * tests; consumers use `ctx.services.get('dns')`, typed `Dns`).
 */
export interface DnsService extends Dns {
  records(network: string): readonly NameRecord[];
  counters(): Readonly<DnsCounters>;
  /** The resolver underneath (upstreams, tables). */
  readonly resolver: Resolver;
}

export const dnsService = (resolver: Resolver): DnsService => ({
  answer: (query, network, len = query.length, client) => resolver.answer(query, len, network, client),
  forward: (query, len) => resolver.forward(query, len),
  resolve: (query, network, len = query.length, client) => resolver.resolve(query, len, network, client),
  records: (network) => resolver.records(network),
  counters: () => resolver.counters(),
  stats: () => ({ counters: { ...resolver.counters() }, forward: resolver.forwardLatency() }),
  resolver,
});

const isTableEvent = (e: unknown): e is TableEvent => {
  if (typeof e !== 'object' || e === null) return false;
  const entry = (e as { entry?: unknown }).entry;
  return typeof entry === 'object' && entry !== null && typeof (entry as { network?: unknown }).network === 'string' && (entry as { value?: unknown }).value instanceof Uint8Array;
};

/** Each kernel's resolver (the plugin is one object shared by every kernel that loads it). */
const resolvers = new WeakMap<object, Resolver>();

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
        // A miss waits (≤ 300 ms) for the network's other nodes to send their names.
        ...(tables?.sync !== undefined ? { sync: (n: string) => tables.sync!(n, cfg.missSyncMs ?? 300) } : {}),
      });
      ctx.log.info('dns resolver ready', { upstreams: upstreams.join(' '), ttl: cfg.ttl ?? 5 });
      resolvers.set(ctx.store, resolver);
      return dnsService(resolver);
    },
  },
  events: {
    table: (event, ctx) => {
      if (!isTableEvent(event)) return;
      const r = resolvers.get(ctx.store)?.apply(event);
      if (r === undefined) return;
      if (r.kind === 'invalid') ctx.log.warn('Ignoring an endpoint record that does not decode', { error: r.error });
    },
  },
});

export default dnsPlugin;

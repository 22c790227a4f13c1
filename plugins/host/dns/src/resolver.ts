/**
 * The embedded resolver. `answer` is synchronous and pure apart from counters and the round-robin
 * cursor: the switch calls it with the UDP payload of a query sent to the network's resolver
 * address and either gets the reply bytes, `'forward'` (not ours: hand it to `forward`), or
 * `'drop'` (a response, or fewer than 12 bytes: nothing to reply to).
 *
 * What is ours (answered from the endpoint table, authoritative, AA set):
 * - a known name (container, alias, task, service, `tasks.SERVICE`), any type: A/AAAA records or,
 *   for a type it has no records of, NOERROR with no answers (NODATA, RFC 2308 §2.2);
 * - an unknown single-label name, `tasks.X`, or any name under the cluster `domain`: NXDOMAIN.
 * Everything else (other names, non-IN classes) is forwarded to the host's resolvers, one at a
 * time with a timeout each, moving on after a timeout, an error, SERVFAIL or REFUSED; SERVFAIL
 * when none answers. Docker answers with a 600 s TTL, which keeps clients on a dead task's
 * address for ten minutes; ours defaults to 5 s.
 */
import {
  DNS_CLASS_IN,
  DNS_RCODE,
  DNS_TYPE,
  buildDnsError,
  buildDnsFormErr,
  buildDnsResponse,
  classifyDnsQuery,
  ipv4,
  ipv6,
  normalizeDnsName,
  parseDnsMessage,
  parseIPv4,
  parseIPv6,
  type DnsAnswer,
  type DnsMessage,
  type IP,
} from '@weft/net';
import { performance } from 'node:perf_hooks';
import { createLatencyHistogram, type DnsAnswerResult, type DnsClient, type LatencyHistogram, type TableEntry, type TableEvent } from '@weft/kernel';
import { NameTables, recordAddress, type ApplyResult, type NameRecord, type NetworkNames } from './records.ts';
import { parseUpstream, type Upstream } from './resolvconf.ts';
import { udpExchange, type Exchange } from './udp.ts';

export const DEFAULT_TTL = 5;
export const DEFAULT_FORWARD_TIMEOUT_MS = 2000;
/** libnetwork's cap on concurrent external queries. */
export const DEFAULT_MAX_CONCURRENT_FORWARDS = 1024;

export interface ResolverOptions {
  /** TTL of the answers from the table, seconds (default 5). */
  readonly ttl?: number;
  /** Upstream resolvers (`ip`, `ip:port`, `[ip6]:port`), tried in order. */
  readonly upstreams?: readonly string[];
  /** Cluster domain (e.g. `weft`): `web.weft` is looked up as `web`, and unknown names under it are NXDOMAIN. */
  readonly domain?: string;
  /** Per-upstream wait, ms (default 2000). */
  readonly forwardTimeoutMs?: number;
  /** Forwarded queries in flight at once; beyond it the reply is SERVFAIL (default 1024). */
  readonly maxConcurrentForwards?: number;
  /** Table whose entries are endpoint records (default `endpoints`). */
  readonly table?: string;
  /** Current entries of a network's table, read once when the network is first seen (initial sync). */
  readonly source?: (network: string) => readonly TableEntry[] | undefined;
  /** The upstream exchange (default: node:dgram). */
  readonly exchange?: Exchange;
  /**
   * Asks the other nodes of a network for its names now (the tables' bulk sync); resolves when
   * one answered or it gave up. With it, a miss for a name that would be NXDOMAIN is answered
   * only after a sync (shared by concurrent misses, skipped for `freshMs` after one): a name that
   * exists elsewhere is never "not found" because this node's tables lag.
   */
  readonly sync?: (network: string) => Promise<unknown>;
  /** After a sync, misses on that network are answered at once for this long (ms, default 1000). */
  readonly freshMs?: number;
  /** Clock (ms), for tests. */
  readonly now?: () => number;
}

/** `'forward'`: not ours, call `forward`. `'drop'`: do not reply. */
export type AnswerResult = DnsAnswerResult;

export interface DnsCounters {
  /** Messages given to `answer`. */
  queries: number;
  /** Answered from the table with at least one record. */
  answers: number;
  /** Misses held for a sync of their network before the answer (see ResolverOptions.sync). */
  missSyncs: number;
  /** Known name, no record of the asked type (NOERROR, empty). */
  nodata: number;
  nxdomain: number;
  /** Queries sent upstream (after the concurrency check). */
  forwarded: number;
  /** Forwarded queries that got an upstream's reply. */
  forwardAnswers: number;
  /** Forwarded queries no upstream answered (SERVFAIL sent). */
  forwardFailures: number;
  /** Refused by the concurrency cap (SERVFAIL sent). */
  forwardRejected: number;
  upstreamTimeouts: number;
  upstreamErrors: number;
  /** Unparseable, or not a single-question standard query (FORMERR/NOTIMP/BADVERS sent, or dropped). */
  malformed: number;
  /** Not replied to (responses, runts). */
  dropped: number;
  /** Table values that did not decode as endpoint records. */
  badRecords: number;
}

export interface Resolver {
  readonly tables: NameTables;
  /**
   * Answers `query[0..len)` for `network` from the table, or says what to do instead. Never throws.
   * With `client` (the querying address on `network`, and its MAC when known; see the kernel's
   * `DnsClient`), the names of every
   * network that client's sandbox is attached to are answered too, `network`'s first (Docker's
   * embedded DNS answers from all of a container's networks).
   */
  answer(query: Uint8Array, len: number, network: string, client?: DnsClient): AnswerResult;
  /** Forwards `query[0..len)` upstream; the reply to send, or undefined to send nothing. Never rejects. */
  forward(query: Uint8Array, len?: number): Promise<Uint8Array | undefined>;
  /** `answer`, then `forward` if needed. */
  resolve(query: Uint8Array, len: number, network: string, client?: DnsClient): Promise<Uint8Array | undefined>;
  /** The networks whose names `client` (on `network`) gets, `network` first. */
  scope(network: string, client?: DnsClient): string[];
  /** Applies a table event (loading the network from `source` first if it is new). */
  apply(event: TableEvent): ApplyResult;
  records(network: string): NameRecord[];
  counters(): Readonly<DnsCounters>;
  /** Time to an upstream's answer (or to giving up) of each forwarded query. */
  forwardLatency(): LatencyHistogram;
  upstreams(): readonly Upstream[];
  /** Replaces the upstream list; returns the entries that were not valid (and were skipped). */
  setUpstreams(list: readonly string[]): string[];
  /** Forwards in flight. */
  inflight(): number;
  /** Drops a network's names (the node left it); the next query re-reads it from `source`. */
  forget(network: string): void;
}

const hasUnescapedDot = (name: string): boolean => {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2e) return true;
  }
  return false;
};

/** A client's IPv6 source address, or undefined when it does not parse (then only the query's network answers). */
const v6Of = (text: string): IP | undefined => {
  const r = parseIPv6(text);
  return r.ok ? ipv6(r.value) : undefined;
};

/** The address of a reverse-lookup name (`4.3.2.10.in-addr.arpa`, 32 nibbles + `ip6.arpa`), normalized input. */
export const parseReverseName = (name: string): IP | undefined => {
  if (name.endsWith('.in-addr.arpa')) {
    const labels = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (labels.length !== 4) return undefined;
    const a = parseIPv4(labels.reverse().join('.'));
    return a.ok ? ipv4(a.value) : undefined;
  }
  if (name.endsWith('.ip6.arpa')) {
    const labels = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (labels.length !== 32 || !labels.every((l) => /^[0-9a-f]$/.test(l))) return undefined;
    return ipv6(BigInt(`0x${labels.reverse().join('')}`));
  }
  return undefined;
};

const rotated = <T>(list: readonly T[], start: number): T[] => {
  const n = list.length;
  if (n < 2) return [...list];
  const s = start % n;
  return [...list.slice(s), ...list.slice(0, s)];
};

export const createResolver = (opts: ResolverOptions = {}): Resolver => {
  const ttl = opts.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) throw new RangeError(`Invalid DNS TTL ${JSON.stringify(ttl)}: expected whole seconds, 0-2147483647`);
  const domain = opts.domain === undefined || opts.domain === '' ? undefined : normalizeDnsName(opts.domain);
  const timeoutMs = opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
  const maxForwards = opts.maxConcurrentForwards ?? DEFAULT_MAX_CONCURRENT_FORWARDS;
  const exchange = opts.exchange ?? udpExchange;
  const tables = new NameTables(opts.table);
  const loaded = new Set<string>();
  let upstreams: Upstream[] = [];
  let inflight = 0;
  const c: DnsCounters = {
    queries: 0, answers: 0, missSyncs: 0, nodata: 0, nxdomain: 0, forwarded: 0, forwardAnswers: 0, forwardFailures: 0,
    forwardRejected: 0, upstreamTimeouts: 0, upstreamErrors: 0, malformed: 0, dropped: 0, badRecords: 0,
  };

  const setUpstreams = (list: readonly string[]): string[] => {
    const bad: string[] = [];
    const next: Upstream[] = [];
    for (const s of list) {
      const u = parseUpstream(s);
      if (typeof u === 'string') bad.push(u);
      else next.push(u);
    }
    upstreams = next;
    return bad;
  };
  setUpstreams(opts.upstreams ?? []);

  const names = (network: string): NetworkNames | undefined => {
    if (!loaded.has(network)) {
      loaded.add(network);
      const entries = opts.source?.(network);
      if (entries !== undefined) {
        for (const r of tables.load(network, entries)) if (r.kind === 'invalid') c.badRecords++;
      }
    }
    return tables.network(network);
  };

  /**
   * The name tables a query from `client` on `network` is answered from: `network`'s, then those
   * of the other networks the client's sandbox (same endpoint name and node) is attached to.
   */
  const scope = (network: string, client: DnsClient | undefined): NetworkNames[] => {
    const first = names(network);
    if (first === undefined) return [];
    const ip = client === undefined ? undefined : client.ipv6 !== undefined ? v6Of(client.ipv6) : ipv4(client.ipv4);
    const sb = ip === undefined ? undefined : first.sandboxAt(ip, client?.mac);
    if (sb === undefined) return [first];
    const out = [first];
    for (const n of tables.networks()) {
      if (n === network) continue;
      const nn = names(n);
      if (nn?.hasSandbox(sb.node, sb.name) === true) out.push(nn);
    }
    return out;
  };

  const respond = (msg: DnsMessage, rcode: number, answers: readonly DnsAnswer[] = []): Uint8Array => {
    const r = buildDnsResponse(msg, { rcode, answers, recursionAvailable: upstreams.length > 0 });
    // Only invalid records make building fail, and ours come from parsed addresses.
    return r.ok ? r.value : buildDnsError(msg, DNS_RCODE.SERVFAIL);
  };

  const now = opts.now ?? Date.now;
  const freshMs = opts.freshMs ?? 1000;
  /** Per network: the sync in flight, and when the last one ended. */
  const syncs = new Map<string, { running: Promise<unknown> | undefined; at: number }>();
  /** Misses handed to `forward` to wait for a sync: query key → where it was asked. */
  const held = new Map<string, { network: string; client: DnsClient | undefined; at: number }>();
  const heldKey = (msg: DnsMessage, q: { name: string; type: number }) => `${msg.id}\0${q.type}\0${q.name.toLowerCase()}`;
  const syncOf = (network: string): Promise<unknown> => {
    let st = syncs.get(network);
    if (st === undefined) syncs.set(network, (st = { running: undefined, at: 0 }));
    const cur = st;
    cur.running ??= Promise.resolve(opts.sync?.(network))
      .catch(() => undefined)
      .finally(() => {
        cur.running = undefined;
        cur.at = now();
      });
    return cur.running;
  };

  const answer = (query: Uint8Array, len: number, network: string, client?: DnsClient, noHold = false): AnswerResult => {
    c.queries++;
    const parsed = parseDnsMessage(query, 0, len);
    if (!parsed.ok) {
      c.malformed++;
      const fe = buildDnsFormErr(query, 0, len);
      if (fe === undefined) c.dropped++;
      return fe ?? 'drop';
    }
    const msg = parsed.value;
    const verdict = classifyDnsQuery(msg);
    if (verdict.action === 'drop') {
      c.dropped++;
      return 'drop';
    }
    if (verdict.action === 'reject') {
      c.malformed++;
      return buildDnsError(msg, verdict.rcode);
    }
    const q = verdict.question;
    if (q.class !== DNS_CLASS_IN) return 'forward';
    let name = normalizeDnsName(q.name);
    if (q.type === DNS_TYPE.PTR) {
      const ip = parseReverseName(name);
      if (ip !== undefined) {
        // Addresses on the network answer with their names; any other address is the host's business.
        let targets: string[] = [];
        for (const nn of scope(network, client)) if ((targets = nn.reverse(ip)).length > 0) break;
        if (targets.length === 0) return 'forward';
        c.answers++;
        return respond(msg, DNS_RCODE.NOERROR, targets.map((t) => ({ type: DNS_TYPE.PTR, ttl, data: domain === undefined ? t : `${t}.${domain}` })));
      }
    }
    let ours = false;
    if (domain !== undefined && name.endsWith(`.${domain}`) && name.length > domain.length + 1) {
      name = name.slice(0, name.length - domain.length - 1);
      ours = true;
    }
    let r: ReturnType<NetworkNames['lookup']>;
    for (const nn of scope(network, client)) if ((r = nn.lookup(name)) !== undefined) break;
    if (r === undefined) {
      if (ours || !hasUnescapedDot(name) || (name.startsWith('tasks.') && !hasUnescapedDot(name.slice(6)))) {
        if (name === '.') return 'forward';
        // Not here (yet): ask the network's other nodes before saying it does not exist.
        const st = syncs.get(network);
        if (!noHold && opts.sync !== undefined && (st === undefined || st.running !== undefined || now() - st.at > freshMs)) {
          const t = now();
          if (held.size >= 1024) for (const [k, h] of held) if (t - h.at > 5000 || held.size >= 1024) held.delete(k);
          held.set(heldKey(msg, q), { network, client, at: t });
          c.queries--; // counted again when answered after the sync
          c.missSyncs++;
          return 'forward';
        }
        c.nxdomain++;
        return respond(msg, DNS_RCODE.NXDOMAIN);
      }
      return 'forward';
    }
    const want4 = q.type === DNS_TYPE.A || q.type === DNS_TYPE.ANY;
    const want6 = q.type === DNS_TYPE.AAAA || q.type === DNS_TYPE.ANY;
    let v4: readonly IP[] = want4 ? r.v4 : [];
    let v6: readonly IP[] = want6 ? r.v6 : [];
    if (r.rotate && v4.length + v6.length > 1) {
      const start = r.rr;
      r.rr = (r.rr + 1) % 0x40000000;
      v4 = rotated(v4, start);
      v6 = rotated(v6, start);
    }
    const answers: DnsAnswer[] = [];
    for (const ip of v4) answers.push({ type: DNS_TYPE.A, ttl, data: ip });
    for (const ip of v6) answers.push({ type: DNS_TYPE.AAAA, ttl, data: ip });
    if (answers.length === 0) c.nodata++;
    else c.answers++;
    return respond(msg, DNS_RCODE.NOERROR, answers);
  };

  const latency = createLatencyHistogram();
  const forward = async (query: Uint8Array, len = query.length): Promise<Uint8Array | undefined> => {
    const parsed = parseDnsMessage(query, 0, len);
    if (!parsed.ok) return buildDnsFormErr(query, 0, len);
    const msg = parsed.value;
    if (msg.qr) return undefined;
    const question = msg.questions[0];
    const h = question === undefined ? undefined : held.get(heldKey(msg, question));
    if (h !== undefined && question !== undefined) {
      held.delete(heldKey(msg, question));
      await syncOf(h.network);
      const r = answer(query, len, h.network, h.client, true);
      if (r === 'drop') return undefined;
      if (r !== 'forward') return r;
    }
    if (upstreams.length === 0) {
      c.forwardFailures++;
      return buildDnsError(msg, DNS_RCODE.SERVFAIL);
    }
    if (inflight >= maxForwards) {
      c.forwardRejected++;
      return buildDnsError(msg, DNS_RCODE.SERVFAIL);
    }
    inflight++;
    c.forwarded++;
    const t0 = performance.now();
    try {
      const bytes = query.slice(0, len);
      const question = msg.questions[0];
      for (const u of upstreams) {
        const reply = await exchange(bytes, u, timeoutMs, question);
        if (reply === 'timeout') {
          c.upstreamTimeouts++;
          continue;
        }
        if (reply === 'error') {
          c.upstreamErrors++;
          continue;
        }
        const rcode = reply[3]! & 15;
        // Another upstream may do better (libnetwork moves on after these two as well).
        if (rcode === DNS_RCODE.SERVFAIL || rcode === DNS_RCODE.REFUSED) {
          c.upstreamErrors++;
          continue;
        }
        c.forwardAnswers++;
        return reply;
      }
      c.forwardFailures++;
      return buildDnsError(msg, DNS_RCODE.SERVFAIL);
    } catch {
      c.forwardFailures++;
      return buildDnsError(msg, DNS_RCODE.SERVFAIL);
    } finally {
      inflight--;
      latency.observe((performance.now() - t0) / 1000);
    }
  };

  return {
    tables,
    answer,
    forward,
    scope: (network, client) => scope(network, client).map((n) => n.network),
    async resolve(query, len, network, client) {
      const r = answer(query, len, network, client);
      if (r === 'drop') return undefined;
      if (r === 'forward') return forward(query, len);
      return r;
    },
    apply(event) {
      names(event.entry.network);
      const r = tables.apply(event);
      if (r.kind === 'invalid') c.badRecords++;
      return r;
    },
    records: (network) => names(network)?.records() ?? [],
    counters: () => ({ ...c }),
    forwardLatency: () => latency.snapshot(),
    upstreams: () => upstreams,
    setUpstreams,
    inflight: () => inflight,
    forget(network) {
      tables.drop(network);
      loaded.delete(network);
    },
  };
};

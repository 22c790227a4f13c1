/**
 * The per-network name table the embedded resolver answers from, built from the replicated
 * `endpoints` table.
 *
 * The table's value format is the kernel's `EndpointRecord` contract (the overlay driver writes
 * it on Join and deletes it on Leave; gossip replicates it); it is re-exported here. This module
 * indexes it by name:
 *
 * - an endpoint's `name` and `aliases` resolve to its own addresses (kind `container`; for a task
 *   only its `name`, kind `task`);
 * - an endpoint with `service` is a task of that service. The service name and the service's
 *   `aliases` (for a task, `aliases` are the service's network aliases, as libnetwork's
 *   EndpointRecord.Aliases) resolve to the VIP when the task carries `serviceVip` and
 *   `endpointMode` is not `dnsrr` (A; on a dual-stack network also `serviceVip6`, AAAA),
 *   otherwise to every task's addresses (dnsrr);
 * - `tasks.SERVICE` and `tasks.ALIAS` always resolve to every task's addresses.
 *
 * Addresses may carry a prefix length (`10.0.0.5/24`, as the overlay driver writes them); an
 * empty or unparseable address is no address. An empty name is not indexed.
 *
 * Entries marked stale (owner unreachable, within the grace period) are kept and answered, after
 * fresh ones: dropping them is what made moby#53141's NXDOMAINs outlive a short partition.
 * Two endpoints claiming one name (a container moving between nodes) are both answered: fresh
 * before stale, newest Lamport time first, then endpoint key.
 */
import { left, right, type Either } from 'fp-ts/lib/Either.js';
import { decode, EndpointRecord, ENDPOINTS_TABLE, type TableEntry, type TableEvent } from '@weft/kernel';
import {
  compareIP,
  formatIP,
  ipv4,
  ipv6,
  normalizeDnsName,
  parseIPv4,
  parseIPv6,
  parseMac,
  validateDnsName,
  type IP,
  type IPv4Address,
  type IPv6Address,
} from '@weft/net';

// ---------------------------------------------------------------------------------------------
// The `endpoints` table value: the kernel's contract

export { EndpointRecord, ENDPOINTS_TABLE, encodeEndpointRecord, decodeEndpointRecord } from '@weft/kernel';

const utf8d = new TextDecoder('utf-8', { fatal: true });

/** Like the kernel's `decodeEndpointRecord`, but the error says which field is wrong and quotes it. */
export const readEndpointRecord = (value: Uint8Array): Either<string, EndpointRecord> => {
  let json: unknown;
  try {
    json = JSON.parse(utf8d.decode(value));
  } catch (e) {
    return left(`Endpoint record is not UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const r = decode(EndpointRecord, json);
  if (r.ok) return right(r.value);
  const f = r.failure;
  return left(`Endpoint record is invalid: ${f.path === '' ? '' : `${f.path}: `}${f.message}`);
};

/** `10.0.0.5`, `10.0.0.5/24`, `fd00::5/64` → the address; anything else → undefined. */
/** True when a record's MAC (text) is `mac`; a record without a valid MAC matches none. */
const sameMac = (text: string, mac: number): boolean => {
  const m = parseMac(text);
  return m.ok && m.value === mac;
};

export const recordAddress = (s: string | undefined): IP | undefined => {
  if (s === undefined || s === '') return undefined;
  const slash = s.indexOf('/');
  const bare = slash < 0 ? s : s.slice(0, slash);
  const a = parseIPv4(bare);
  if (a.ok) return ipv4(a.value);
  const b = parseIPv6(bare);
  return b.ok ? ipv6(b.value) : undefined;
};

/** A name worth indexing: normalized, non-empty, encodable. */
const indexName = (s: string): string | undefined => {
  if (s === '' || s === '.') return undefined;
  const n = normalizeDnsName(s);
  return n !== '.' && validateDnsName(n).ok ? n : undefined;
};

// ---------------------------------------------------------------------------------------------
// Name records (what `records(network)` shows)

export type RecordKind = 'container' | 'service-vip' | 'task';

export interface NameRecord {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Node owning the endpoint (for a VIP, the node of its newest task). */
  readonly node: string;
  readonly stale: boolean;
  readonly kind: RecordKind;
  /** Endpoint key (the table key); absent for a service VIP. */
  readonly endpoint?: string;
  readonly service?: string;
}

/** The addresses a name resolves to. `rotate` marks round-robin sets (dnsrr, `tasks.`). */
export interface Resolution {
  readonly v4: readonly IPv4Address[];
  readonly v6: readonly IPv6Address[];
  readonly rotate: boolean;
  /** Round-robin cursor, advanced by the resolver on each rotated answer. */
  rr: number;
}

interface Endpoint {
  readonly key: string;
  readonly rec: EndpointRecord;
  readonly owner: string;
  readonly lamport: number;
  readonly stale: boolean;
  readonly v4: IPv4Address | undefined;
  readonly v6: IPv6Address | undefined;
  /** The service's VIPs on this network (IPv4 and, on a dual-stack network, IPv6); empty unless a vip-mode task. */
  readonly vips: readonly IP[];
  /** Normalized names resolving to this endpoint's own addresses. */
  readonly names: readonly string[];
  /** Normalized service name and service aliases (empty unless a task). */
  readonly groups: readonly string[];
}

const TASKS = 'tasks.';
const ipKey = (ip: IP): string => `${ip.family}:${ip.value}`;

const addTo = (m: Map<string, Set<string>>, name: string, key: string): void => {
  let s = m.get(name);
  if (s === undefined) m.set(name, (s = new Set()));
  s.add(key);
};
const removeFrom = (m: Map<string, Set<string>>, name: string, key: string): void => {
  const s = m.get(name);
  if (s === undefined) return;
  s.delete(key);
  if (s.size === 0) m.delete(name);
};

/** Fresh before stale, newest first, then key: the order duplicate claims are answered in. */
const claimOrder = (a: Endpoint, b: Endpoint): number =>
  Number(a.stale) - Number(b.stale) || b.lamport - a.lamport || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Appends `ip` unless already there (`seen` holds the values of both families' lists: v4 numbers and v6 bigints never collide). */
const pushUnique = <T extends IP>(out: T[], ip: T, seen: Set<number | bigint>): void => {
  if (seen.has(ip.value)) return;
  seen.add(ip.value);
  out.push(ip);
};

/** The names of one network. Mutated only through `upsert`/`remove`/`apply`. */
export class NetworkNames {
  readonly network: string;
  private readonly eps = new Map<string, Endpoint>();
  private readonly byName = new Map<string, Set<string>>();
  private readonly byGroup = new Map<string, Set<string>>();
  /** Address (`ipKey`) → endpoints holding it, or whose service VIP it is. */
  private readonly byAddr = new Map<string, Set<string>>();
  /** `node\0name` of each endpoint → its keys: which sandboxes are on this network. */
  private readonly bySandbox = new Map<string, Set<string>>();
  private readonly cache = new Map<string, Resolution>();

  constructor(network: string) {
    this.network = network;
  }

  get size(): number {
    return this.eps.size;
  }

  /** Adds or replaces the endpoint under `key`. Ignored if older (Lamport) than what is held. */
  upsert(key: string, rec: EndpointRecord, meta: { owner?: string; lamport?: number; stale?: boolean } = {}): void {
    const lamport = meta.lamport ?? 0;
    const old = this.eps.get(key);
    if (old !== undefined && lamport < old.lamport) return;
    if (old !== undefined) this.unindex(old);
    const service = rec.service === undefined ? undefined : indexName(rec.service);
    const names: string[] = [];
    const groups: string[] = [];
    const own = indexName(rec.name);
    if (own !== undefined) names.push(own);
    for (const a of rec.aliases ?? []) {
      const n = indexName(a);
      if (n !== undefined) (service === undefined ? names : groups).push(n);
    }
    if (service !== undefined) groups.unshift(service);
    const a4 = recordAddress(rec.ipv4);
    const a6 = recordAddress(rec.ipv6);
    const vips = service !== undefined && rec.endpointMode !== 'dnsrr' ? [recordAddress(rec.serviceVip), recordAddress(rec.serviceVip6)].filter((x): x is IP => x !== undefined) : [];
    const ep: Endpoint = {
      key,
      rec,
      owner: meta.owner ?? rec.node,
      lamport,
      stale: meta.stale ?? false,
      v4: a4?.family === 4 ? a4 : undefined,
      v6: a6?.family === 6 ? a6 : undefined,
      vips,
      names: [...new Set(names)],
      groups: [...new Set(groups)],
    };
    this.eps.set(key, ep);
    this.index(ep);
  }

  /** Removes the endpoint under `key`; true if it was there. */
  remove(key: string): boolean {
    const old = this.eps.get(key);
    if (old === undefined) return false;
    this.unindex(old);
    this.eps.delete(key);
    return true;
  }

  /** What the name (normalized: lowercase, no trailing dot) resolves to, or undefined if unknown. */
  lookup(name: string): Resolution | undefined {
    const hit = this.cache.get(name);
    if (hit !== undefined) return hit;
    const v4: IPv4Address[] = [];
    const v6: IPv6Address[] = [];
    const seen = new Set<number | bigint>();
    let rotate = false;
    let found = false;
    const own = this.byName.get(name);
    if (own !== undefined) {
      found = true;
      const eps = this.endpoints(own).sort(claimOrder);
      for (const e of eps) {
        if (e.v4 !== undefined) pushUnique(v4, e.v4, seen);
        if (e.v6 !== undefined) pushUnique(v6, e.v6, seen);
      }
    }
    const group = this.byGroup.get(name);
    if (group !== undefined) {
      found = true;
      const eps = this.endpoints(group);
      const vips = eps.flatMap((e) => e.vips).sort(compareIP);
      if (vips.length > 0) {
        for (const ip of vips) {
          if (ip.family === 4) pushUnique(v4, ip, seen);
          else pushUnique(v6, ip, seen);
        }
      } else {
        rotate = this.addTasks(eps, v4, v6, seen) || rotate;
      }
    }
    if (name.startsWith(TASKS)) {
      const tasks = this.byGroup.get(name.slice(TASKS.length));
      if (tasks !== undefined) {
        found = true;
        rotate = this.addTasks(this.endpoints(tasks), v4, v6, seen) || rotate;
      }
    }
    if (!found) return undefined;
    const r: Resolution = { v4, v6, rotate, rr: 0 };
    this.cache.set(name, r);
    return r;
  }

  /** The table as records: one per endpoint, plus one per service in vip mode. */
  records(): NameRecord[] {
    const out: NameRecord[] = [];
    const vips = new Map<string, Endpoint[]>();
    for (const e of [...this.eps.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      const isTask = e.groups.length > 0;
      out.push({
        name: e.rec.name,
        aliases: isTask ? [] : e.rec.aliases ?? [],
        ...(e.v4 !== undefined ? { ipv4: formatIP(e.v4) } : {}),
        ...(e.v6 !== undefined ? { ipv6: formatIP(e.v6) } : {}),
        node: e.owner,
        stale: e.stale,
        kind: isTask ? 'task' : 'container',
        endpoint: e.key,
        ...(isTask && e.rec.service !== undefined ? { service: e.rec.service } : {}),
      });
      if (e.vips.length > 0 && e.rec.service !== undefined) {
        const k = `${normalizeDnsName(e.rec.service)}\u0000${e.vips.map(formatIP).join(',')}`;
        const l = vips.get(k);
        if (l === undefined) vips.set(k, [e]);
        else l.push(e);
      }
    }
    for (const tasks of vips.values()) {
      const newest = [...tasks].sort(claimOrder)[0]!;
      const aliases = [...new Set(tasks.flatMap((e) => e.rec.aliases ?? []))].sort();
      const v4 = newest.vips.find((ip) => ip.family === 4);
      const v6 = newest.vips.find((ip) => ip.family === 6);
      out.push({
        name: newest.rec.service!,
        aliases,
        ...(v4 !== undefined ? { ipv4: formatIP(v4) } : {}),
        ...(v6 !== undefined ? { ipv6: formatIP(v6) } : {}),
        node: newest.owner,
        stale: tasks.every((e) => e.stale),
        kind: 'service-vip',
        service: newest.rec.service!,
      });
    }
    return out;
  }

  /**
   * Names for a PTR query: the endpoints holding `ip` (their own name, claim order), and the
   * service name when `ip` is a service VIP. Empty if the address is not on this network.
   */
  reverse(ip: IP): string[] {
    const keys = this.byAddr.get(ipKey(ip));
    if (keys === undefined) return [];
    const out: string[] = [];
    for (const e of this.endpoints(keys).sort(claimOrder)) {
      const own = (e.v4 !== undefined && e.v4.value === ip.value) || (e.v6 !== undefined && e.v6.value === ip.value);
      const name = normalizeDnsName(own ? e.rec.name : e.rec.service ?? e.rec.name);
      if (!out.includes(name)) out.push(name);
    }
    return out;
  }

  /**
   * The sandbox holding `ip` on this network (its own address, not a VIP): its name and node, as
   * its endpoint record says. With `mac`, only an endpoint with that MAC counts. Fresh claims win
   * over stale ones.
   */
  sandboxAt(ip: IP, mac?: number): { readonly name: string; readonly node: string } | undefined {
    const keys = this.byAddr.get(ipKey(ip));
    if (keys === undefined) return undefined;
    const own = this.endpoints(keys)
      .filter((e) => (e.v4 !== undefined && e.v4.value === ip.value) || (e.v6 !== undefined && e.v6.value === ip.value))
      .filter((e) => mac === undefined || sameMac(e.rec.mac, mac))
      .sort(claimOrder)[0];
    return own === undefined || own.rec.name === '' ? undefined : { name: own.rec.name, node: own.rec.node };
  }

  /** True when the sandbox `name` of `node` has an endpoint on this network. */
  hasSandbox(node: string, name: string): boolean {
    return this.bySandbox.has(`${node}\u0000${name}`);
  }

  /** Number of distinct names answered (own names, service names, `tasks.` names). */
  nameCount(): number {
    return this.byName.size + 2 * this.byGroup.size;
  }

  private addTasks(eps: Endpoint[], v4: IPv4Address[], v6: IPv6Address[], seen: Set<number | bigint>): boolean {
    const a4 = eps.map((e) => e.v4).filter((x): x is IPv4Address => x !== undefined).sort(compareIP);
    const a6 = eps.map((e) => e.v6).filter((x): x is IPv6Address => x !== undefined).sort(compareIP);
    for (const ip of a4) pushUnique(v4, ip, seen);
    for (const ip of a6) pushUnique(v6, ip, seen);
    return true;
  }

  private endpoints(keys: Set<string>): Endpoint[] {
    const out: Endpoint[] = [];
    for (const k of keys) {
      const e = this.eps.get(k);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  private touch(e: Endpoint): void {
    for (const n of e.names) this.cache.delete(n);
    for (const g of e.groups) {
      this.cache.delete(g);
      this.cache.delete(TASKS + g);
    }
  }

  private index(e: Endpoint): void {
    for (const n of e.names) addTo(this.byName, n, e.key);
    for (const g of e.groups) addTo(this.byGroup, g, e.key);
    for (const ip of [e.v4, e.v6, ...e.vips]) if (ip !== undefined) addTo(this.byAddr, ipKey(ip), e.key);
    if (e.rec.name !== '') addTo(this.bySandbox, `${e.rec.node}\u0000${e.rec.name}`, e.key);
    this.touch(e);
  }

  private unindex(e: Endpoint): void {
    for (const n of e.names) removeFrom(this.byName, n, e.key);
    for (const g of e.groups) removeFrom(this.byGroup, g, e.key);
    for (const ip of [e.v4, e.v6, ...e.vips]) if (ip !== undefined) removeFrom(this.byAddr, ipKey(ip), e.key);
    if (e.rec.name !== '') removeFrom(this.bySandbox, `${e.rec.node}\u0000${e.rec.name}`, e.key);
    this.touch(e);
  }
}

/** Outcome of applying one table event, for counters and logs. */
export type ApplyResult =
  | { readonly kind: 'ignored' }
  | { readonly kind: 'upserted' }
  | { readonly kind: 'removed' }
  | { readonly kind: 'invalid'; readonly error: string };

/** All networks' names, kept current from `TableEvent`s of one table (default `endpoints`). */
export class NameTables {
  readonly table: string;
  private readonly nets = new Map<string, NetworkNames>();

  constructor(table: string = ENDPOINTS_TABLE) {
    this.table = table;
  }

  network(network: string): NetworkNames | undefined {
    return this.nets.get(network);
  }

  /** The network's names, created empty if unknown. */
  ensure(network: string): NetworkNames {
    let n = this.nets.get(network);
    if (n === undefined) this.nets.set(network, (n = new NetworkNames(network)));
    return n;
  }

  networks(): string[] {
    return [...this.nets.keys()].sort();
  }

  drop(network: string): boolean {
    return this.nets.delete(network);
  }

  /** Applies a table entry (live or tombstone). Entries of other tables are ignored. */
  applyEntry(entry: TableEntry, type: TableEvent['type'] = entry.deleted ? 'delete' : 'update'): ApplyResult {
    if (entry.table !== this.table) return { kind: 'ignored' };
    if (type === 'delete' || entry.deleted) {
      return this.nets.get(entry.network)?.remove(entry.key) === true ? { kind: 'removed' } : { kind: 'ignored' };
    }
    const r = readEndpointRecord(entry.value);
    if (r._tag === 'Left') {
      // A record we cannot read must not keep answering with what it used to say.
      this.nets.get(entry.network)?.remove(entry.key);
      return { kind: 'invalid', error: `${r.left} (network "${entry.network}", key "${entry.key}")` };
    }
    this.ensure(entry.network).upsert(entry.key, r.right, { owner: entry.owner, lamport: entry.lamport, stale: entry.stale });
    return { kind: 'upserted' };
  }

  apply(event: TableEvent): ApplyResult {
    return this.applyEntry(event.entry, event.type);
  }

  /** Replaces a network's contents with `entries` (initial sync from `Tables.entries`). */
  load(network: string, entries: readonly TableEntry[]): ApplyResult[] {
    this.nets.set(network, new NetworkNames(network));
    return entries.map((e) => this.applyEntry(e));
  }
}

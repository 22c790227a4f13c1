/**
 * The agent's event log: what `weft system events` and `GET /events` show, as Docker's
 * `docker events` does. It listens on the kernel's event bus (the plugins publish typed topics;
 * nothing here reaches into a plugin), turns each event into Docker's shape (`Type`, `Action`,
 * `Actor`, `time`, `timeNano`), keeps the last `capacity` in memory for `--since`, and hands new
 * ones to live subscribers.
 *
 * | Type | Action | from |
 * |---|---|---|
 * | network | create, destroy | `engine.network`; swarm networks another manager created, from `control.snapshot` |
 * | endpoint | create, update, delete | `table` (the endpoints table: this host's and every other's) |
 * | sandbox | create, attach, detach, destroy | `engine.sandbox`, `engine.attach` |
 * | node | join, ready, suspect, down, leave, remove, leader, leader-lost | `membership`, `control.node.removed`, `control.leader` |
 * | service | create, update, remove | `services.service` (on the manager that made the change) |
 * | key | install, rotate | `control.keyring` (this node applied a newer data-path key ring) |
 */
import { decodeEndpointRecord, ENDPOINTS_TABLE, type Kernel, type MemberEventType } from '@weft/kernel';

export const EVENT_TYPES = ['network', 'endpoint', 'sandbox', 'node', 'service', 'key'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Docker's event message (`docker events --format json`), `timeNano` kept exact as a bigint. */
export interface WeftEvent {
  readonly Type: EventType;
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
  readonly scope: 'local' | 'swarm';
  readonly time: number;
  readonly timeNano: bigint;
}

/** The event as JSON text: `timeNano` written exactly (it exceeds 2^53). */
export function eventJson(e: WeftEvent): string {
  return JSON.stringify({ ...e, timeNano: '\u0000' }).replace('"\\u0000"', e.timeNano.toString());
}

/** Docker's filters: every key given must match (values of one key: any of them). */
export type EventFilters = Readonly<Partial<Record<FilterKey, readonly string[]>>>;
export const FILTER_KEYS = ['type', 'event', 'scope', 'network', 'sandbox', 'node', 'service'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

export function matches(e: WeftEvent, f: EventFilters): boolean {
  const any = (k: FilterKey, ...candidates: (string | undefined)[]) => {
    const want = f[k];
    return want === undefined || want.length === 0 || want.some((w) => candidates.includes(w));
  };
  const a = e.Actor.Attributes;
  const id = e.Actor.ID;
  return (
    any('type', e.Type) &&
    any('event', e.Action) &&
    any('scope', e.scope) &&
    (f.network === undefined || any('network', a.network, a.networkID, ...(e.Type === 'network' ? [id, a.name] : []))) &&
    (f.sandbox === undefined || any('sandbox', a.sandbox, ...(e.Type === 'sandbox' ? [id, a.name] : []))) &&
    (f.node === undefined || any('node', a.node, ...(e.Type === 'node' ? [id, a.name] : []))) &&
    (f.service === undefined || any('service', ...(e.Type === 'service' ? [id, a.name] : [])))
  );
}

export interface EventLog {
  /** Recorded events with `since` ≤ timeNano ≤ `until` that match, oldest first. */
  history(since: bigint | undefined, until: bigint | undefined, f: EventFilters): WeftEvent[];
  /** Calls `fn` with every new event; returns the unsubscribe function. */
  subscribe(fn: (e: WeftEvent) => void): () => void;
  /** Subscribers are told to end (`onClose`), the kernel's topics released. */
  close(): void;
  onClose(fn: () => void): () => void;
  /** For tests and sources outside the bus. */
  record(type: EventType, action: string, id: string, attributes: Readonly<Record<string, string>>, scope?: 'local' | 'swarm'): WeftEvent;
}

const NODE_ACTIONS: Partial<Record<MemberEventType, string>> = { join: 'join', alive: 'ready', suspect: 'suspect', dead: 'down', left: 'leave', update: 'update' };

export function createEventLog(kernel: Kernel, opts: { capacity?: number; now?: () => number } = {}): EventLog {
  const capacity = opts.capacity ?? 1024;
  const now = opts.now ?? Date.now;
  const ring: WeftEvent[] = [];
  const subs = new Set<(e: WeftEvent) => void>();
  const closers = new Set<() => void>();
  let last = 0n;
  const str = (v: unknown) => String(v);

  function record(type: EventType, action: string, id: string, attributes: Readonly<Record<string, string>>, scope: 'local' | 'swarm' = 'local'): WeftEvent {
    // Strictly increasing, so events sort and `--since` a printed time never repeats one.
    const ms = now();
    let nano = BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.floor((ms % 1) * 1e6));
    if (nano <= last) nano = last + 1n;
    last = nano;
    const e: WeftEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope, time: Number(nano / 1_000_000_000n), timeNano: nano };
    ring.push(e);
    if (ring.length > capacity) ring.splice(0, ring.length - capacity);
    for (const s of [...subs]) {
      try {
        s(e);
      } catch {
        /* a subscriber's failure is its own */
      }
    }
    return e;
  }

  const b = kernel.events;
  const rec = (...a: Parameters<typeof record>): void => void record(...a);
  /** Swarm networks known from the control plane's snapshots (the first one is the baseline). */
  let swarmNets: Set<string> | undefined;
  const offs = [
    b.subscribe('engine.network', (e) => {
      if (e.scope === 'swarm') swarmNets?.[e.action === 'create' ? 'add' : 'delete'](e.id);
      rec('network', e.action, e.id, { name: e.name, type: e.driver }, e.scope);
    }),
    b.subscribe('control.snapshot', (e) => {
      const next = new Set(e.networks);
      if (swarmNets !== undefined) {
        for (const id of next) if (!swarmNets.has(id)) rec('network', 'create', id, { name: kernel.service('control')?.findNetwork(id)?.Name ?? '', type: kernel.service('control')?.findNetwork(id)?.Driver ?? '' }, 'swarm');
        for (const id of swarmNets) if (!next.has(id)) rec('network', 'destroy', id, {}, 'swarm');
      }
      swarmNets = next;
    }),
    b.subscribe('engine.sandbox', (e) => rec('sandbox', e.action, e.id, { name: e.name })),
    b.subscribe('engine.attach', (e) =>
      rec('sandbox', e.action, e.sandbox, { name: e.sandbox, network: e.networkName, networkID: e.network, endpoint: e.endpoint, address: e.address, durationMs: e.durationMs.toFixed(1) }),
    ),
    b.subscribe('table', (e) => {
      if (e.entry.table !== ENDPOINTS_TABLE) return;
      const r = e.entry.deleted ? undefined : decodeEndpointRecord(e.entry.value);
      const name = kernel.service('control')?.findNetwork(e.entry.network)?.Name;
      rec('endpoint', e.type, e.entry.key, {
        networkID: e.entry.network,
        ...(name !== undefined ? { network: name } : {}),
        node: r?.node ?? e.entry.owner,
        ...(r !== undefined ? { name: r.name, address: r.ipv4, mac: r.mac, vtep: r.vtep } : {}),
      });
    }),
    b.subscribe('membership', (e) => {
      const action = NODE_ACTIONS[e.type];
      if (action !== undefined) rec('node', action, e.member.name, { name: e.member.name, addr: `${e.member.addr}:${e.member.port}`, weft: e.member.meta.weft === '1' ? 'true' : 'false' });
    }),
    b.subscribe('control.node.removed', (e) => rec('node', 'remove', e.ID, { name: e.Name }, 'swarm')),
    b.subscribe('control.leader', (e) => {
      const name = kernel.service('membership')?.self().name ?? '';
      rec('node', e.leader ? 'leader' : 'leader-lost', e.nodeId !== '' ? e.nodeId : name, { name }, 'swarm');
    }),
    b.subscribe('control.keyring', (e) =>
      rec('key', e.rotation === 0 ? 'install' : 'rotate', `rotation-${e.rotation}`, { rotation: str(e.rotation), epochs: e.epochs.join(','), primary: str(e.epochs[e.epochs.length >= 2 ? e.epochs.length - 2 : 0] ?? '') }, 'swarm'),
    ),
    b.subscribe('services.service', (e) => rec('service', e.action, e.id, { name: e.name, replicas: str(e.replicas) }, 'swarm')),
  ];

  return {
    history(since, until, f) {
      return ring.filter((e) => (since === undefined || e.timeNano >= since) && (until === undefined || e.timeNano <= until) && matches(e, f));
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
    onClose(fn) {
      closers.add(fn);
      return () => closers.delete(fn);
    },
    close() {
      for (const o of offs) o();
      for (const c of [...closers]) c();
      closers.clear();
      subs.clear();
    },
    record,
  };
}

// ---------------------------------------------------------------------------------------------
// GET /events?since=&until=&filters=

export interface EventQuery {
  readonly since?: bigint;
  readonly until?: bigint;
  readonly filters: EventFilters;
}

/** Docker's timestamps: seconds since the epoch, with an optional fraction (`1700000000.5`). */
export function parseTimestamp(name: string, v: string): bigint | string {
  const m = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(v);
  if (m === null) return `invalid ${name} ${JSON.stringify(v.slice(0, 40))}: expected seconds since the epoch, e.g. 1700000000 or 1700000000.250`;
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The query of `GET /events`, or a message saying what is wrong. */
export function parseEventQuery(q: URLSearchParams): EventQuery | string {
  let since: bigint | undefined;
  let until: bigint | undefined;
  for (const [k, v] of q) {
    if (k === 'since' || k === 'until') {
      const t = parseTimestamp(k, v);
      if (typeof t === 'string') return t;
      if (k === 'since') since = t;
      else until = t;
    } else if (k !== 'filters') return `unknown query parameter ${JSON.stringify(k.slice(0, 40))}: expected since, until or filters`;
  }
  const raw = q.get('filters');
  const filters: Partial<Record<FilterKey, string[]>> = {};
  if (raw !== null && raw !== '') {
    let u: unknown;
    try {
      u = JSON.parse(raw);
    } catch {
      return `filters is not JSON: ${JSON.stringify(raw.slice(0, 60))}; expected e.g. {"type":["network"]}`;
    }
    if (typeof u !== 'object' || u === null || Array.isArray(u)) return 'filters must be a JSON object of lists, e.g. {"type":["network"],"event":["create"]}';
    for (const [k, v] of Object.entries(u as Record<string, unknown>)) {
      if (!(FILTER_KEYS as readonly string[]).includes(k)) return `invalid filter ${JSON.stringify(k)}: expected one of ${FILTER_KEYS.join(', ')}`;
      // Docker sends {"type":{"network":true}} as well as {"type":["network"]}.
      const vals = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? Object.keys(v) : undefined;
      if (vals === undefined || !vals.every((x) => typeof x === 'string')) return `filter ${JSON.stringify(k)} must be a list of strings`;
      if (k === 'type') {
        const bad = vals.find((x) => !(EVENT_TYPES as readonly string[]).includes(x));
        if (bad !== undefined) return `invalid filter type=${JSON.stringify(bad)}: expected one of ${EVENT_TYPES.join(', ')}`;
      }
      filters[k as FilterKey] = vals as string[];
    }
  }
  if (since !== undefined && until !== undefined && until < since) return 'until is before since: nothing to show';
  return { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), filters };
}

/** Where a stream writes; `end` finishes the response. */
export interface EventSink {
  write(text: string): void;
  end(): void;
  onClose(fn: () => void): void;
}

/**
 * Docker's semantics: the recorded events from `since` first; then, unless `until` has passed,
 * new events as they happen, until `until` (or until the client or the agent goes away).
 */
export function streamEvents(log: EventLog, q: EventQuery, sink: EventSink, now: () => number = Date.now): void {
  const nowNano = () => BigInt(Math.floor(now())) * 1_000_000n;
  if (q.since !== undefined || q.until !== undefined) for (const e of log.history(q.since, q.until, q.filters)) sink.write(`${eventJson(e)}\n`);
  if (q.until !== undefined && q.until <= nowNano()) {
    sink.end();
    return;
  }
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    off();
    offClose();
    if (timer !== undefined) clearTimeout(timer);
    sink.end();
  };
  const off = log.subscribe((e) => {
    if (q.until !== undefined && e.timeNano > q.until) return finish();
    if (matches(e, q.filters)) sink.write(`${eventJson(e)}\n`);
  });
  const offClose = log.onClose(finish);
  const timer = q.until === undefined ? undefined : setTimeout(finish, Math.min(2 ** 31 - 1, Number((q.until - nowNano()) / 1_000_000n) + 1));
  sink.onClose(() => {
    done = true;
    off();
    offClose();
    if (timer !== undefined) clearTimeout(timer);
  });
}

/**
 * `--metrics-addr HOST:PORT`: Prometheus metrics of this agent at `/metrics` (Docker's
 * `metrics-addr`, off by default), in the text format through prom-client.
 *
 * Everything is read when scraped, from what the services expose read-only (`stats()` of the
 * data path, membership, tables, DNS and control; `info()` of control; the engine's listings):
 * the data path's counters are the shared memory its threads count into, so a scrape sends them
 * no message and costs them nothing. Only the attach latency is observed as it happens (from the
 * engine's `engine.attach` events).
 *
 * Names follow Prometheus' conventions: `weft_<subsystem>_<what>_<unit>`, counters end in
 * `_total`, durations in seconds, and a `network` label (the network's name) where a value
 * belongs to one network.
 */
import * as http from 'node:http';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DataPathStats, Kernel, LatencyHistogram, Logger, MembershipStats, NetDef, TablesStats, DnsStats, ControlStats, SwarmInfo, GossipEncryption } from '@weft/kernel';
import { LATENCY_BOUNDS } from '@weft/kernel';

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [Labels, number];

/** What one scrape reads, once, before the families are rendered from it. */
interface Snapshot {
  readonly dp: DataPathStats | undefined;
  readonly names: ReadonlyMap<string, string>;
  readonly members: readonly { readonly state: string }[];
  readonly gossip: MembershipStats | undefined;
  readonly gossipEncryption: GossipEncryption | undefined;
  readonly tables: TablesStats | undefined;
  readonly dns: DnsStats | undefined;
  readonly control: { readonly info: SwarmInfo | undefined; readonly leader: boolean; readonly stats: ControlStats | undefined; readonly role: string };
  readonly pools: readonly { readonly network: string; readonly subnet: string; readonly used: number; readonly total: number }[];
  readonly sandboxes: number;
  readonly endpoints: number;
}

/** Data-path drop fields and the reason label they are exported under. */
const DROPS: readonly (readonly [string, string])[] = [
  ['drop_unknown_unicast', 'no_route'], ['drop_not_routed', 'not_routed'], ['drop_broadcast', 'broadcast'], ['drop_io', 'io'], ['drop_malformed', 'malformed'],
  ['drop_unknown_vni', 'unknown_vni'], ['drop_too_big', 'mtu'], ['drop_plaintext', 'plaintext'], ['drop_auth', 'auth'], ['drop_replay', 'replay'],
  ['drop_unknown_spi', 'unknown_key'], ['drop_old_key', 'old_key'], ['drop_crypto', 'crypto'], ['drop_reassembly', 'reassembly'], ['dns_drops', 'dns'],
];

export interface MetricsServer {
  readonly address: string;
  /** The registry (for tests: render without HTTP). */
  readonly registry: Registry;
  close(): Promise<void>;
}

export class MetricsAddrError extends Error {}

/**
 * Binds `addr` (`IP:PORT`) before anything else starts, so a port in use is a clear error at
 * start; serves `GET /metrics` only (other paths 404, other methods 405).
 */
/** The local state store's counters (@weft/store's `stats()`), when the agent has one. */
export interface StateStoreCounters {
  readonly writes: number;
  readonly bytes: number;
  readonly commits: number;
  readonly compactions: number;
}

export async function startMetrics(addr: { host: string; port: number }, kernel: Kernel, log: Logger, about: { version: string; node: string }, state?: () => StateStoreCounters): Promise<MetricsServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which `promtool check metrics` rejects: the same figures remain
  // in nodejs_active_handles / nodejs_active_requests.
  for (const n of ['nodejs_active_requests_total', 'nodejs_active_resources_total', 'nodejs_active_handles_total']) registry.removeSingleMetric(n);
  let snap: Snapshot | undefined;

  const family = (name: string, help: string, type: 'counter' | 'gauge', read: (s: Snapshot) => readonly Sample[]) => {
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: snap === undefined ? [] : read(snap).map(([labels, value]) => ({ labels: { ...labels }, value })) }),
      reset: () => {},
    } as never);
  };
  const histogramFamily = (name: string, help: string, read: (s: Snapshot) => readonly (readonly [Labels, LatencyHistogram])[]) => {
    registry.registerMetric({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const [labels, h] of snap === undefined ? [] : read(snap)) {
          let cum = 0;
          h.bounds.forEach((b, i) => {
            cum += h.counts[i] ?? 0;
            values.push({ labels: { ...labels, le: b }, value: cum, metricName: `${name}_bucket` });
          });
          values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
          values.push({ labels: { ...labels }, value: h.sum, metricName: `${name}_sum` });
          values.push({ labels: { ...labels }, value: h.count, metricName: `${name}_count` });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
      reset: () => {},
    } as never);
  };

  // ---- the local state store (the state dir's journal)
  if (state !== undefined) {
    family('weft_state_writes_total', 'Puts and deletes acknowledged by the local state store', 'counter', () => [[{}, state().writes]]);
    family('weft_state_journal_bytes_total', 'Bytes appended to the local state journal', 'counter', () => [[{}, state().bytes]]);
    family('weft_state_flushes_total', 'Flushes (fdatasync) of the local state journal; concurrent writes share one', 'counter', () => [[{}, state().commits]]);
    family('weft_state_compactions_total', 'Snapshots of the local state written (each retires the journals before it)', 'counter', () => [[{}, state().compactions]]);
  }

  // ---- data path
  const netName = (s: Snapshot, id: string) => s.names.get(id) ?? id;
  const perNet = (field: string) => (s: Snapshot): Sample[] =>
    (s.dp?.networks ?? []).flatMap((n) => [[{ network: netName(s, n.id), side: 'local' }, n.ports[field] ?? 0], [{ network: netName(s, n.id), side: 'remote' }, n.peers[field] ?? 0]] as const);
  family('weft_datapath_rx_packets_total', 'Frames the switch received: from local sandboxes (side="local") or remote VTEPs (side="remote").', 'counter', perNet('rx_packets'));
  family('weft_datapath_tx_packets_total', 'Frames the switch sent: to local sandboxes (side="local") or remote VTEPs (side="remote").', 'counter', perNet('tx_packets'));
  family('weft_datapath_rx_bytes_total', 'Bytes of the frames the switch received (inner Ethernet frames).', 'counter', perNet('rx_bytes'));
  family('weft_datapath_tx_bytes_total', 'Bytes of the frames the switch sent (inner Ethernet frames).', 'counter', perNet('tx_bytes'));
  family('weft_datapath_drops_total', "Frames of a network dropped by the switch, by reason (no_route: no endpoint has the destination MAC; mtu: larger than the network's MTU; ...).", 'counter', (s) =>
    (s.dp?.networks ?? []).flatMap((n) => DROPS.map(([f, reason]) => [{ network: netName(s, n.id), reason }, (n.ports[f] ?? 0) + (n.peers[f] ?? 0)] as const)));
  family('weft_datapath_receive_drops_total', 'Datagrams dropped on receive before their network was known, by reason (auth, replay, unknown_vni, plaintext, reassembly, ...).', 'counter', (s) =>
    s.dp === undefined ? [] : DROPS.map(([f, reason]) => [{ reason }, s.dp!.host[f] ?? 0] as const));
  family('weft_datapath_encrypt_failures_total', 'Frames of an encrypted network that could not be sealed.', 'counter', (s) =>
    (s.dp?.networks ?? []).map((n) => [{ network: netName(s, n.id) }, (n.ports['drop_crypto'] ?? 0) + (n.peers['drop_crypto'] ?? 0)] as const));
  family('weft_datapath_decrypt_failures_total', 'Envelopes that did not open, by reason (auth: tag mismatch; unknown_key; old_key: a retired epoch; other).', 'counter', (s) =>
    s.dp === undefined ? [] : ([['drop_auth', 'auth'], ['drop_unknown_spi', 'unknown_key'], ['drop_old_key', 'old_key'], ['drop_crypto', 'other']] as const).map(([f, reason]) => [{ reason }, s.dp!.host[f] ?? 0] as const));
  family('weft_datapath_replay_drops_total', 'Envelopes dropped by the anti-replay window (already seen, or too old).', 'counter', (s) => (s.dp === undefined ? [] : [[{}, s.dp.host['drop_replay'] ?? 0]]));
  family('weft_datapath_sealed_total', 'Datagrams sealed toward remote VTEPs.', 'counter', (s) => (s.dp?.networks ?? []).map((n) => [{ network: netName(s, n.id) }, n.peers['tx_sealed'] ?? 0] as const));
  family('weft_datapath_opened_total', 'Envelopes opened (all encrypted networks).', 'counter', (s) => (s.dp === undefined ? [] : [[{}, s.dp.host['rx_opened'] ?? 0]]));
  family('weft_datapath_wakeups_total', 'Wake-ups of the data-path threads with work to do.', 'counter', (s) => (s.dp === undefined ? [] : [[{}, s.dp.host['wakeups'] ?? 0]]));
  family('weft_datapath_peers', 'Remote endpoints the data path forwards to, per network.', 'gauge', (s) => (s.dp?.networks ?? []).map((n) => [{ network: netName(s, n.id) }, n.peerList.length] as const));
  family('weft_datapath_sa_epoch', 'Key epoch of the SA sealing toward each remote VTEP.', 'gauge', (s) => (s.dp?.vteps ?? []).filter((v) => v.txEpoch >= 0).map((v) => [{ vtep: v.vtep }, v.txEpoch] as const));
  family('weft_datapath_sa_age_seconds', 'Age of the SA sealing toward each remote VTEP.', 'gauge', (s) => (s.dp?.vteps ?? []).filter((v) => v.txEpoch >= 0).map((v) => [{ vtep: v.vtep }, v.saAgeMs / 1000] as const));

  // ---- gossip
  family('weft_gossip_members', 'Gossip members this node knows, by state.', 'gauge', (s) => {
    const by = new Map<string, number>([['alive', 0], ['suspect', 0], ['dead', 0], ['left', 0]]);
    for (const m of s.members) by.set(m.state, (by.get(m.state) ?? 0) + 1);
    return [...by].map(([state, n]) => [{ state }, n] as const);
  });
  const g = (f: (x: MembershipStats) => number) => (s: Snapshot): Sample[] => (s.gossip === undefined ? [] : [[{}, f(s.gossip)]]);
  family('weft_gossip_probes_total', 'Failure-detector probes this node started.', 'counter', g((x) => x.probes));
  family('weft_gossip_probe_failures_total', 'Probes that got no ack in time.', 'counter', g((x) => x.probeFailures));
  family('weft_gossip_suspicions_total', 'Members this node marked suspect.', 'counter', g((x) => x.suspicions));
  family('weft_gossip_push_pulls_total', 'Full-state push/pull exchanges this node started.', 'counter', g((x) => x.pushPulls));
  family('weft_gossip_push_pull_failures_total', 'Push/pull exchanges that failed.', 'counter', g((x) => x.pushPullFailures));
  family('weft_gossip_packets_total', 'Gossip UDP packets, by direction.', 'counter', (s) => (s.gossip === undefined ? [] : [[{ direction: 'in' }, s.gossip.packetsIn], [{ direction: 'out' }, s.gossip.packetsOut]]));
  family('weft_gossip_bytes_total', 'Gossip bytes (UDP and TCP streams), by direction.', 'counter', (s) => (s.gossip === undefined ? [] : [[{ direction: 'in' }, s.gossip.bytesIn], [{ direction: 'out' }, s.gossip.bytesOut]]));
  family('weft_gossip_encrypted', 'Whether gossip is encrypted (1) or plaintext (0).', 'gauge', (s) => (s.gossipEncryption === undefined ? [] : [[{}, s.gossipEncryption.encrypted ? 1 : 0]]));
  family('weft_gossip_key_epoch', 'Key epoch of the primary gossip key (swarm key ring).', 'gauge', (s) => (s.gossipEncryption?.keyEpoch === undefined ? [] : [[{}, s.gossipEncryption.keyEpoch]]));
  family('weft_gossip_refused_total', 'Inbound gossip refused for lacking a valid key, by kind (packet, stream).', 'counter', (s) =>
    s.gossipEncryption === undefined ? [] : [[{ kind: 'packet' }, s.gossipEncryption.refused.packets], [{ kind: 'stream' }, s.gossipEncryption.refused.streams]]);
  family('weft_gossip_messages_received_total', 'Gossip messages received, by kind.', 'counter', (s) => Object.entries(s.gossip?.received ?? {}).map(([kind, n]) => [{ kind }, n] as const));

  // ---- tables
  family('weft_tables_entries', 'Live entries of the replicated tables, per network and table.', 'gauge', (s) => (s.tables?.entries ?? []).map((e) => [{ network: netName(s, e.network), table: e.table }, e.count] as const));
  family('weft_tables_events_total', 'Table events gossiped (sent), received and applied.', 'counter', (s) =>
    s.tables === undefined ? [] : [[{ kind: 'sent' }, s.tables.eventsSent], [{ kind: 'received' }, s.tables.eventsReceived], [{ kind: 'applied' }, s.tables.eventsApplied]]);
  family('weft_tables_bulk_syncs_total', 'Bulk table syncs with other nodes.', 'counter', (s) => (s.tables === undefined ? [] : [[{}, s.tables.bulkSyncs]]));
  family('weft_tables_malformed_total', 'Table messages dropped as malformed.', 'counter', (s) => (s.tables === undefined ? [] : [[{}, s.tables.malformed]]));

  // ---- dns
  family('weft_dns_queries_total', 'Queries to the embedded DNS, by result (answered, nodata, nxdomain, forwarded, forward_failed, rejected, malformed, dropped).', 'counter', (s) => {
    const c = s.dns?.counters;
    if (c === undefined) return [];
    const r = (k: string) => c[k] ?? 0;
    return [
      [{ result: 'answered' }, r('answers')], [{ result: 'nodata' }, r('nodata')], [{ result: 'nxdomain' }, r('nxdomain')], [{ result: 'forwarded' }, r('forwardAnswers')],
      [{ result: 'forward_failed' }, r('forwardFailures')], [{ result: 'rejected' }, r('forwardRejected')], [{ result: 'malformed' }, r('malformed')], [{ result: 'dropped' }, r('dropped')],
    ];
  });
  histogramFamily('weft_dns_forward_duration_seconds', 'Time to an upstream answer (or to giving up) of forwarded queries.', (s) => (s.dns === undefined ? [] : [[{}, s.dns.forward]]));

  // ---- control plane
  const info = (s: Snapshot) => s.control.info;
  family('weft_control_manager_reachable', 'Whether this node reaches a manager now (1) or not (0); absent outside a swarm.', 'gauge', (s) => (info(s) === undefined ? [] : [[{}, info(s)!.ManagerReachable ? 1 : 0]]));
  family('weft_control_leader', 'Whether this node is the swarm leader (1) or not (0).', 'gauge', (s) => (info(s) === undefined ? [] : [[{}, s.control.leader ? 1 : 0]]));
  family('weft_control_role', "This node's swarm role (1 for the role it has).", 'gauge', (s) => (info(s) === undefined ? [] : [[{ role: s.control.role }, 1]]));
  family('weft_control_key_epoch', 'Epoch of the primary data-path key this node holds.', 'gauge', (s) => (info(s)?.KeyRing === undefined ? [] : [[{}, info(s)!.KeyRing!.PrimaryEpoch]]));
  family('weft_control_key_rotations_total', 'Key rotations of the swarm this node has applied.', 'counter', (s) => (info(s)?.KeyRing === undefined ? [] : [[{}, info(s)!.KeyRing!.Rotation]]));
  family('weft_control_rpc_errors_total', 'Calls to the manager that failed.', 'counter', (s) => (s.control.stats === undefined ? [] : [[{}, s.control.stats.rpcErrors]]));
  histogramFamily('weft_control_rpc_duration_seconds', 'Round trip of calls to the manager.', (s) => (s.control.stats === undefined ? [] : [[{}, s.control.stats.rpc]]));

  // ---- IPAM and the engine
  family('weft_ipam_pool_addresses', 'Addresses of each subnet of the networks instantiated here (gateway and reserved excluded).', 'gauge', (s) => s.pools.map((p) => [{ network: p.network, subnet: p.subnet }, p.total] as const));
  family('weft_ipam_pool_addresses_used', 'Addresses in use per subnet.', 'gauge', (s) => s.pools.map((p) => [{ network: p.network, subnet: p.subnet }, p.used] as const));
  family('weft_agent_sandboxes', 'Sandboxes on this host.', 'gauge', (s) => [[{}, s.sandboxes]]);
  family('weft_agent_endpoints', 'Endpoints of this host (sandbox attachments to networks).', 'gauge', (s) => [[{}, s.endpoints]]);
  const attach = new Histogram({ name: 'weft_agent_attach_duration_seconds', help: 'Time to attach a sandbox to a network (IPAM, driver, data path), by network.', labelNames: ['network'], buckets: [...LATENCY_BOUNDS], registers: [registry] });
  const off = kernel.events.subscribe('engine.attach', (e) => {
    if (e.action === 'attach') attach.observe({ network: e.networkName }, e.durationMs / 1000);
  });
  new Gauge({ name: 'weft_agent_info', help: 'Constant 1, with the agent version and node name as labels.', labelNames: ['version', 'node'], registers: [registry] }).set({ ...about }, 1);

  async function gather(): Promise<Snapshot> {
    const engine = kernel.service('engine');
    const control = kernel.service('control');
    const names = new Map<string, string>();
    const pools: { network: string; subnet: string; used: number; total: number }[] = [];
    let sandboxes = 0;
    let endpoints = 0;
    if (engine !== undefined) {
      let defs: NetDef[] = [];
      try {
        defs = await engine.listDefs();
      } catch {
        /* no control plane answer: names stay IDs */
      }
      for (const d of defs) names.set(d.Id, d.Name);
      for (const d of defs) {
        if (!(await engine.instantiated(d.Id).catch(() => false))) continue;
        const v = await engine.networkView(d).catch(() => undefined);
        for (const u of v?.Utilisation ?? []) pools.push({ network: d.Name, subnet: u.Subnet, used: u.Used, total: u.Total });
      }
      const sbs = await engine.sandboxes().catch(() => []);
      sandboxes = sbs.length;
      endpoints = sbs.reduce((n, s) => n + Object.keys(s.Networks).length, 0);
    }
    let cinfo: SwarmInfo | undefined;
    try {
      cinfo = control !== undefined && control.role !== undefined ? control.info() : undefined;
    } catch {
      cinfo = undefined;
    }
    const membership = kernel.service('membership');
    return {
      dp: kernel.service('datapath')?.stats?.(),
      names,
      members: membership?.members() ?? [],
      gossip: membership?.stats?.(),
      gossipEncryption: membership?.encryption?.(),
      tables: kernel.service('tables')?.stats?.(),
      dns: kernel.service('dns')?.stats?.(),
      control: { info: cinfo, leader: control?.isLeader() ?? false, stats: control?.stats?.(), role: control?.role ?? 'none' },
      pools,
      sandboxes,
      endpoints,
    };
  }

  const server = http.createServer((req, res) => {
    const fail = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(`${text}\n`);
    };
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://weft').pathname;
    } catch {
      return fail(400, 'bad request');
    }
    req.resume();
    if (pathname !== '/metrics') return fail(404, '404 page not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, `method ${req.method} not allowed on /metrics`, { Allow: 'GET, HEAD' });
    void (async () => {
      snap = await gather();
      const text = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    })().catch((e: unknown) => {
      log.error('metrics scrape failed', { error: e instanceof Error ? e.message : String(e) });
      if (!res.headersSent) fail(500, 'scrape failed; see the agent log');
      else res.destroy();
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const where = `${addr.host}:${addr.port}`;
      const why =
        e.code === 'EADDRINUSE' ? 'the address is already in use; choose another port (Docker uses 9323) or stop what listens there'
        : e.code === 'EADDRNOTAVAIL' ? `${addr.host} is not an address of this host`
        : e.code === 'EACCES' ? 'permission denied (ports below 1024 need root)'
        : e.message;
      reject(new MetricsAddrError(`cannot serve metrics on --metrics-addr ${where}: ${why}`));
    });
    server.listen(addr.port, addr.host, () => resolve());
  });
  server.on('error', (e) => log.error('metrics server failed', { error: String(e) }));
  log.info('serving Prometheus metrics', { url: `http://${addr.host}:${addr.port}/metrics` });
  const bound = server.address();
  return {
    address: `${addr.host}:${typeof bound === 'object' && bound !== null ? bound.port : addr.port}`,
    registry,
    async close() {
      off();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

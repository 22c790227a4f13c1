/**
 * The `services` plugin: replicated services (Docker swarm mode's services and tasks) on top of
 * the engine's sandboxes.
 *
 * - On the swarm leader, the manager side keeps service records (spec + task history) in its
 *   durable store, reconciles them every tick (placement.ts) against the ready nodes and what the
 *   nodes report, and publishes the desired tasks in the cluster table (`_cluster`/`tasks`).
 * - On every node, the node side watches the tasks assigned to it and makes them so through the
 *   `engine` service: creates the task's sandbox (attached to the service's networks even when
 *   they are not attachable, with the service fields in its endpoint records), removes tasks no
 *   longer wanted, and reports each task's state (`_cluster`/`task-status`). A task whose process
 *   exits or is killed is reported failed and removed; the manager then starts a replacement.
 * - Node death: the manager sees the node leave the ready set (gossip state) and reschedules.
 */
import { randomBytes } from 'node:crypto';
import * as t from 'io-ts';
import { definePlugin, errors, getJson, putJson, raise, WeftException, type Context, type NetDef, type PluginDefinition, type Service, type ServicesApi, type ServiceSpec, type TableEvent, type Task } from '@weft/kernel';
import { attachedNetworks, CLUSTER_NETWORK, decodeJson, encodeJson, publishedPorts, Retained, STATUS_TABLE, TASKS_TABLE, TaskAssignment, TaskStatus, VipEntry, VIPS_TABLE, type ServiceRecord } from './records.ts';
import { plan, specKey } from './placement.ts';
import { createIngress, INGRESS_TABLE, IngressEntry, type Ingress } from './ingress.ts';
import { controlVipSource, createVipAllocator, type VipSource } from './vips.ts';
import { createBalancer, linuxNetfilter, type Netfilter } from './balancer.ts';
import * as os from 'node:os';
import * as path from 'node:path';

export const ServicesConfig = t.partial({
  /** Reconciliation period (ms); table events also trigger a pass. */
  intervalMs: t.number,
  /** Where the routing mesh keeps its unix sockets (default: a directory under the OS temp dir named after the node). */
  runDir: t.string,
  /**
   * How long a node keeps running a task whose assignment vanished without the manager deleting
   * it (the leader's table entries are forgotten while it restarts; default ORPHAN_GRACE_MS).
   */
  orphanGraceMs: t.number,
  /** Address the routing mesh listens on for published ports (default `0.0.0.0`; tests use a loopback address). */
  publishHost: t.string,
});
export type ServicesConfig = t.TypeOf<typeof ServicesConfig>;

export interface ServicesOptions {
  /** Whether this node runs the manager side now. Default: the swarm leader (control plugin). */
  readonly isManager?: (ctx: Context<ServicesConfig>) => Promise<boolean>;
  /** Names of the nodes that may receive tasks now. Default: swarm nodes that are active and alive in gossip. */
  readonly readyNodes?: (ctx: Context<ServicesConfig>) => Promise<string[]>;
  /** This node's name. Default: the membership's own name. */
  readonly nodeName?: (ctx: Context<ServicesConfig>) => string;
  readonly newId?: () => string;
  /** Where the leader takes virtual IPs from. Default: the control plane (Network.List, Blocks.Request). */
  readonly vipSource?: (ctx: Context<ServicesConfig>) => VipSource;
  /** How VIP load balancing is programmed in sandboxes. Default: iptables-restore through nsenter. */
  readonly netfilter?: Netfilter;
  /** Told when the routing mesh cannot listen on a published port (besides the log; tests fail on it). */
  readonly onPublishError?: (e: { service: string; port: string; error: Error }) => void;
}

/** Name of the ingress network the leader creates when a service first publishes a port (as Docker's `swarm init` does). */
export const INGRESS_NETWORK = 'ingress';

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;
const PLUGIN = 'services';
const svcKey = (id: string) => `manager/services/${id}`;
const LOCAL_KEY = 'node/tasks';

export function servicesPlugin(opts: ServicesOptions = {}): PluginDefinition<ServicesConfig> {
  let api: ServicesApi | undefined;
  let stopTicker: (() => void) | undefined;
  let kick: (() => void) | undefined;
  let closeIngress: (() => Promise<void>) | undefined;
  let unregister: (() => void) | undefined;
  return definePlugin<ServicesConfig>({
    manifest: {
      name: PLUGIN,
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['services'],
      requires: ['tables', 'engine', 'ports'],
      optional: ['control', 'membership'],
      config: ServicesConfig,
      description: 'replicated services: placement and rescheduling on the manager, task reconciliation on every node',
    },
    services: {
      services: (ctx) => {
        const made = createServices(ctx, opts);
        closeIngress = made.closeIngress;
        return (api = made.api);
      },
    },
    start: async (ctx) => {
      await ctx.services.get('tables').joinNetwork(CLUSTER_NETWORK);
      const a = api!;
      unregister = ctx.services.get('engine').addRemoveCheck(a.checkNetworkRemoval);
      let running = false;
      let again = false;
      const pass = async () => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        try {
          do {
            again = false;
            await a.reconcile().catch((e) => ctx.log.warn('services: reconciliation failed', { error: String((e as Error)?.message ?? e) }));
          } while (again);
        } finally {
          running = false;
        }
      };
      let debounce: ReturnType<typeof setTimeout> | undefined;
      kick = () => {
        if (debounce !== undefined) return;
        debounce = setTimeout(() => {
          debounce = undefined;
          void pass();
        }, 50);
      };
      const timer = setInterval(() => void pass(), ctx.config.intervalMs ?? 1000);
      stopTicker = () => {
        clearInterval(timer);
        if (debounce !== undefined) clearTimeout(debounce);
      };
    },
    stop: async () => {
      unregister?.();
      unregister = undefined;
      await closeIngress?.();
      stopTicker?.();
      stopTicker = undefined;
      kick = undefined;
    },
    events: {
      table: (e: TableEvent) => {
        // Cluster tables, and endpoint changes (routing mesh targets).
        if (e.entry.network === CLUSTER_NETWORK || e.entry.table === 'endpoints') kick?.();
      },
      membership: () => kick?.(),
    },
  });
}

/** How long after a manager starts nodes that hold tasks keep them while their status is rebuilt. */
export const STARTUP_GRACE_MS = 15_000;
/**
 * A task whose entry is gone from the tasks table without a tombstone (the manager did not delete
 * it: its entries were forgotten because the leader left gossip, e.g. a graceful restart, or this
 * agent's tables are still syncing after its own restart) keeps running this long before the
 * node removes it. A deleted entry (scale down, rm, rescheduled) removes the task at once.
 */
export const ORPHAN_GRACE_MS = 60_000;

function createServices(ctx: Context<ServicesConfig>, opts: ServicesOptions): { api: ServicesApi; closeIngress: () => Promise<void> } {
  const engine = () => ctx.services.get('engine');
  const ports = () => ctx.services.get('ports');
  const tables = () => ctx.services.get('tables');
  const newId = opts.newId ?? (() => randomBytes(5).toString('hex'));
  const nodeName = (): string => opts.nodeName?.(ctx) ?? (ctx.services.has('membership') ? ctx.services.get('membership').self().name : 'local');
  const now = () => new Date(ctx.now()).toISOString();
  /** When this manager's services started (see STARTUP_GRACE_MS). */
  const startedAt = ctx.now();
  let ingress: Ingress | undefined;
  const vipAlloc = createVipAllocator(ctx as Context<unknown>, opts.vipSource?.(ctx) ?? controlVipSource(ctx as Context<unknown>));
  const balancer = createBalancer(tables, opts.netfilter ?? linuxNetfilter(), ctx.log, () => ctx.now());
  /** VIP warnings already logged (said once each). */
  const vipWarned = new Set<string>();
  const mesh = (): Ingress =>
    (ingress ??= createIngress(ctx as Context<unknown>, engine, ports, tables, ctx.config.runDir ?? path.join(os.tmpdir(), `weft-mesh-${nodeName()}`), newId, ctx.config.publishHost ?? '0.0.0.0', opts.onPublishError));

  // Manager operations read-modify-write the records: one at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function controlCall<T>(method: string): Promise<T | undefined> {
    if (!ctx.services.has('control')) return undefined;
    const r = await ctx.invoke('control', method, {});
    return r._tag === 'Left' ? undefined : (r.right as T);
  }
  interface NodeView { ID: string; Spec: { Availability: string }; Description: { Hostname: string }; Status: { State: string }; ManagerStatus?: { Leader: boolean } }

  async function isManager(): Promise<boolean> {
    if (opts.isManager !== undefined) return opts.isManager(ctx);
    const sw = await controlCall<{ Role: string }>('Swarm.Inspect');
    if (sw?.Role !== 'manager') return false;
    const views = (await controlCall<NodeView[]>('Node.List')) ?? [];
    const leader = views.find((v) => v.ManagerStatus?.Leader === true);
    return leader === undefined || leader.Description.Hostname === nodeName();
  }

  async function requireManager(): Promise<void> {
    if (!(await isManager())) {
      raise(errors.forbidden(PLUGIN, 'This node is not a swarm manager (leader). Services are managed on the leader: run the command there.', { hint: 'Find it with "weft node ls" (MANAGER STATUS Leader).' }));
    }
  }

  async function readyNodes(): Promise<string[]> {
    if (opts.readyNodes !== undefined) return opts.readyNodes(ctx);
    const views = (await controlCall<NodeView[]>('Node.List')) ?? [];
    const members = ctx.services.has('membership') ? ctx.services.get('membership').members() : [];
    const self = nodeName();
    // Gossip overrules the control plane only when it positively knows a node is gone: a node this
    // manager has not heard of yet (e.g. right after the manager restarted) is not a dead node.
    const gone = new Set(members.filter((m) => m.state === 'dead' || m.state === 'left').map((m) => m.name));
    return views
      .filter((v) => v.Spec.Availability === 'active' && v.Status.State !== 'left' && v.Status.State !== 'down')
      .map((v) => v.Description.Hostname)
      .filter((n) => n === self || !gone.has(n));
  }

  async function records(): Promise<ServiceRecord[]> {
    const out: ServiceRecord[] = [];
    for (const k of await ctx.store.keys('manager/services/')) {
      const r = await getJson<ServiceRecord>(ctx.store, k);
      if (r !== undefined) out.push(r);
    }
    return out.sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
  }

  async function find(ref: string): Promise<ServiceRecord> {
    const all = await records();
    const hit = all.find((s) => s.ID === ref) ?? all.find((s) => s.Spec.Name === ref) ?? (ref.length >= 3 ? all.filter((s) => s.ID.startsWith(ref)) : []).at(0);
    if (hit === undefined) raise(errors.notFound(PLUGIN, `service ${ref} not found`, { value: ref, hint: 'List services with "weft service ls".' }));
    return hit;
  }

  async function resolveNetworks(spec: ServiceSpec): Promise<ServiceRecord['Networks']> {
    const out: ServiceRecord['Networks'] = [];
    for (const n of spec.TaskTemplate.Networks ?? []) {
      let def: NetDef;
      try {
        def = await engine().resolve(n.Target);
      } catch (e) {
        if (e instanceof WeftException) raise(errors.notFound(PLUGIN, `network ${n.Target} not found: a service's networks must exist (create them with "weft network create -d overlay")`, { value: n.Target }));
        throw e;
      }
      if (def.Ingress === true) {
        raise(errors.badRequest(PLUGIN, `Service cannot be explicitly attached to the ingress network "${def.Name}": a service that publishes ports (--publish) is attached to it by the swarm`, { value: n.Target, hint: 'Remove it from --network; publish the port instead.' }));
      }
      if (def.Scope !== 'swarm') raise(errors.badRequest(PLUGIN, `network ${def.Name} is local-scope (driver ${def.Driver}): services can attach only to swarm-scope networks (-d overlay)`, { value: n.Target }));
      if (out.some((x) => x.Id === def.Id)) raise(errors.badRequest(PLUGIN, `network ${def.Name} is listed twice`, { value: n.Target }));
      out.push({ Id: def.Id, Name: def.Name, Aliases: [...(n.Aliases ?? [])] });
    }
    return out;
  }

  function validate(spec: ServiceSpec): void {
    if (!SERVICE_NAME.test(spec.Name) || spec.Name.length > 28) {
      raise(errors.badRequest(PLUGIN, `invalid service name ${JSON.stringify(spec.Name)}: use up to 28 letters, digits, "_" or "-", starting with a letter or digit`, { path: 'Name', value: spec.Name }));
    }
    const n = spec.Mode.Replicated.Replicas;
    if (!Number.isInteger(n) || n < 0 || n > 1000) raise(errors.badRequest(PLUGIN, `invalid replica count ${n}: use a whole number from 0 to 1000`, { path: 'Mode.Replicated.Replicas', value: n }));
    if (spec.TaskTemplate.ContainerSpec.Command.length === 0) {
      raise(errors.badRequest(PLUGIN, `service ${spec.Name} has no command: Weft runs a command in each task's sandbox (give it after "--")`, { path: 'TaskTemplate.ContainerSpec.Command' }));
    }
    for (const p of spec.EndpointSpec?.Ports ?? []) {
      const where = `${p.PublishedPort ?? '?'}:${p.TargetPort}/${p.Protocol} (${p.PublishMode})`;
      if (!Number.isInteger(p.TargetPort) || p.TargetPort < 1 || p.TargetPort > 65535 || (p.PublishedPort !== undefined && (!Number.isInteger(p.PublishedPort) || p.PublishedPort < 1 || p.PublishedPort > 65535))) {
        raise(errors.badRequest(PLUGIN, `published port ${where}: ports are whole numbers from 1 to 65535`, { path: 'EndpointSpec.Ports', value: p }));
      }
      if (p.PublishedPort === undefined) raise(errors.badRequest(PLUGIN, `published port ${where}: give the published port (published=P,target=T); Weft does not pick one`, { path: 'EndpointSpec.Ports' }));
      if (p.PublishMode === 'ingress' && (spec.TaskTemplate.Networks ?? []).length === 0) {
        raise(errors.badRequest(PLUGIN, `service ${spec.Name} publishes port ${p.PublishedPort} but is on no network: Weft's tasks need a network of their own besides the ingress network (which carries only the routing mesh); add --network`, { path: 'TaskTemplate.Networks' }));
      }
    }
  }

  /**
   * A port published in mode ingress is taken on every node, so it clashes with any other
   * service publishing it (either mode). Two services may publish the same port in mode host:
   * placement keeps their tasks on different nodes.
   */
  function portConflicts(all: readonly ServiceRecord[], self: string | undefined, spec: ServiceSpec): void {
    const key = (p: { published: number; protocol: string }) => `${p.published}/${p.protocol}`;
    const ingressMine = publishedPorts(spec, 'ingress').map(key);
    const hostMine = publishedPorts(spec, 'host').map(key);
    const every = [...ingressMine, ...hostMine];
    const twice = every.find((p, i) => every.indexOf(p) !== i);
    if (twice !== undefined) raise(errors.badRequest(PLUGIN, `service ${spec.Name} publishes port ${twice} twice: give each published port (per protocol) once`, { path: 'EndpointSpec.Ports', value: twice }));
    for (const s of all) {
      if (s.ID === self) continue;
      const theirIngress = publishedPorts(s.Spec, 'ingress').map(key);
      const theirHost = publishedPorts(s.Spec, 'host').map(key);
      const clash = ingressMine.find((p) => theirIngress.includes(p) || theirHost.includes(p)) ?? hostMine.find((p) => theirIngress.includes(p));
      if (clash !== undefined) raise(errors.conflict(PLUGIN, `port ${clash} is already published by service ${s.Spec.Name}`, { value: Number(clash.split('/')[0]), hint: 'Choose another published port, or remove that service first.' }));
    }
  }

  function view(s: ServiceRecord): Service {
    const running = s.Tasks.filter((x) => x.DesiredState === 'running' && x.State === 'running').length;
    return {
      ID: s.ID,
      Version: s.Version,
      CreatedAt: s.CreatedAt,
      UpdatedAt: s.UpdatedAt,
      Spec: s.Spec,
      Endpoint: { Ports: s.Spec.EndpointSpec?.Ports ?? [], VirtualIPs: attachedNetworks(s).filter((n) => s.Vips?.[n.Id] !== undefined).map((n) => ({ NetworkID: n.Id, Addr: s.Vips![n.Id]! })) },
      ServiceStatus: { RunningTasks: running, DesiredTasks: s.Spec.Mode.Replicated.Replicas },
    };
  }

  function taskView(s: ServiceRecord, x: ServiceRecord['Tasks'][number]): Task {
    return {
      ID: x.ID,
      Name: x.Name,
      ServiceID: s.ID,
      Slot: x.Slot,
      NodeID: x.Node,
      DesiredState: x.DesiredState,
      Status: { State: x.State, Timestamp: x.Timestamp, ...(x.Err !== undefined ? { Err: x.Err } : {}) },
      Labels: s.Spec.Labels ?? {},
      NetworksAttachments: Object.entries(x.Addresses ?? {}).map(([n, a]) => ({ Network: n, Addresses: [a] })),
    };
  }

  // -------------------------------------------------------------------------------------------
  // manager pass

  /** One manager pass; returns the VIP warnings of this pass (e.g. a network's subnet is full). */
  async function managerPass(): Promise<string[]> {
    if (!(await isManager())) return [];
    let vipWarnings: string[] = [];
    await serial(async () => {
      const tb = tables();
      const status = new Map<string, TaskStatus>();
      for (const e of tb.entries(CLUSTER_NETWORK, STATUS_TABLE)) {
        const st = decodeJson(TaskStatus, e.value);
        if (st !== undefined) status.set(e.key, st);
      }
      const all = await records();
      const before = all.map((s) => JSON.stringify(s));
      const ingressWarnings = await ensureIngress(all);
      vipWarnings = [...ingressWarnings, ...(await vipAlloc.assign(all))];
      for (const w of vipWarnings) if (!vipWarned.has(w)) ctx.log.warn(`services: ${w}`);
      vipWarned.clear();
      for (const w of vipWarnings) vipWarned.add(w);
      let ready = await readyNodes();
      // Right after this manager started, heartbeats and gossip are still being rebuilt: a node that
      // already holds tasks is not declared lost before STARTUP_GRACE_MS (no needless restarts).
      // An injected readiness source (opts.readyNodes) is authoritative and gets no grace.
      if (opts.readyNodes === undefined && ctx.now() - startedAt < STARTUP_GRACE_MS) {
        const holding = all.flatMap((s) => s.Tasks.filter((t) => t.DesiredState === 'running').map((t) => t.Node));
        ready = [...new Set([...ready, ...holding])];
      }
      plan({ services: all, readyNodes: ready, status, now: now(), newId });
      for (let i = 0; i < all.length; i++) if (JSON.stringify(all[i]) !== before[i]) await putJson(ctx.store, svcKey(all[i]!.ID), all[i]);
      publish(all);
    });
    return vipWarnings;
  }

  /**
   * The ingress network, as Docker's: services that publish ports in mode ingress are attached to
   * it (`ServiceRecord.Ingress`), others are not. The leader creates it (through the engine and
   * the control plane, like any swarm network: overlay, a free subnet of the default pool, not
   * attachable, `Ingress: true`) when a service first publishes a port; it is kept when none does
   * any more (Docker keeps it too). Returns per-service warnings when it cannot be had; a
   * service's attachment is never dropped because the networks could not be read.
   */
  async function ensureIngress(all: ServiceRecord[]): Promise<string[]> {
    const publishing = all.filter((s) => publishedPorts(s.Spec, 'ingress').length > 0);
    for (const s of all) if (!publishing.includes(s)) delete s.Ingress;
    if (publishing.length === 0) return [];
    let def: NetDef | undefined;
    let why = '';
    try {
      const defs = await engine().listDefs();
      def = defs.find((d) => d.Ingress === true);
      const clash = defs.find((d) => d.Name === INGRESS_NETWORK);
      if (def === undefined && clash !== undefined) {
        why = `network "${INGRESS_NETWORK}" (${clash.Id.slice(0, 12)}) exists but is not an ingress network; remove it, or create an ingress network ("weft network create -d overlay --ingress NAME")`;
      } else if (def === undefined) {
        const r = await engine().createNetwork({ Name: INGRESS_NETWORK, Driver: 'overlay', Ingress: true });
        ctx.log.info('services: created the ingress network (routing mesh)', { id: r.Id });
        def = (await engine().listDefs()).find((d) => d.Id === r.Id);
        if (def === undefined) why = 'the ingress network was created but is not listed yet';
      }
    } catch (e) {
      why = `cannot create the ingress network: ${e instanceof WeftException ? e.error.message : String((e as Error)?.message ?? e)}`;
    }
    if (def === undefined) return publishing.filter((s) => s.Ingress === undefined).map((s) => `service ${s.Spec.Name}: its published ports are not served yet: ${why}`);
    for (const s of publishing) if (s.Ingress?.Id !== def.Id || s.Ingress.Name !== def.Name) s.Ingress = { Id: def.Id, Name: def.Name };
    return [];
  }

  /** Makes the tasks table hold exactly the desired tasks of `all`. */
  function publish(all: readonly ServiceRecord[]): void {
    const tb = tables();
    const want = new Map<string, Uint8Array>();
    for (const s of all) {
      const hostPorts = publishedPorts(s.Spec, 'host');
      for (const x of s.Tasks) {
        if (x.DesiredState !== 'running') continue;
        const a: TaskAssignment = {
          id: x.ID,
          serviceId: s.ID,
          service: s.Spec.Name,
          slot: x.Slot,
          node: x.Node,
          name: x.Name,
          cmd: [...s.Spec.TaskTemplate.ContainerSpec.Command],
          // The ingress network last: the first network stays the task's resolver (primary) network.
          networks: attachedNetworks(s).map((n) => ({ id: n.Id, aliases: n.Aliases })),
          endpointMode: s.Spec.EndpointSpec?.Mode ?? 'vip',
          ...(s.Vips !== undefined ? { vips: Object.fromEntries(Object.entries(s.Vips).map(([n, a]) => [n, a.split('/')[0]!])) } : {}),
          ...(hostPorts.length > 0 ? { ports: hostPorts } : {}),
        };
        want.set(x.ID, encodeJson(a));
      }
    }
    const dec = new TextDecoder();
    for (const [k, v] of want) {
      const cur = tb.get(CLUSTER_NETWORK, TASKS_TABLE, k);
      if (cur === undefined || cur.deleted || dec.decode(cur.value) !== dec.decode(v)) tb.put(CLUSTER_NETWORK, TASKS_TABLE, k, v);
    }
    for (const e of tb.entries(CLUSTER_NETWORK, TASKS_TABLE)) if (!want.has(e.key)) tb.delete(CLUSTER_NETWORK, TASKS_TABLE, e.key);
    const mesh = new Map<string, Uint8Array>();
    for (const s of all) {
      const ports = publishedPorts(s.Spec, 'ingress');
      // TCP entries keep their old shape (no protocol field), so an upgraded leader restarts no helper.
      const entries = ports.map((p) => (p.protocol === 'udp' ? p : { published: p.published, target: p.target }));
      // The mesh reaches the tasks over the ingress network (no entry until it exists: warned).
      if (ports.length > 0 && s.Ingress !== undefined) mesh.set(s.ID, encodeJson({ service: s.Spec.Name, network: s.Ingress.Id, ports: entries } satisfies IngressEntry));
    }
    for (const [k, v] of mesh) {
      const cur = tb.get(CLUSTER_NETWORK, INGRESS_TABLE, k);
      if (cur === undefined || cur.deleted || dec.decode(cur.value) !== dec.decode(v)) tb.put(CLUSTER_NETWORK, INGRESS_TABLE, k, v);
    }
    for (const e of tb.entries(CLUSTER_NETWORK, INGRESS_TABLE)) if (!mesh.has(e.key)) tb.delete(CLUSTER_NETWORK, INGRESS_TABLE, e.key);
    const vips = new Map<string, Uint8Array>();
    for (const s of all) if (s.Vips !== undefined) vips.set(s.ID, encodeJson({ service: s.Spec.Name, vips: s.Vips } satisfies VipEntry));
    for (const [k, v] of vips) {
      const cur = tb.get(CLUSTER_NETWORK, VIPS_TABLE, k);
      if (cur === undefined || cur.deleted || dec.decode(cur.value) !== dec.decode(v)) tb.put(CLUSTER_NETWORK, VIPS_TABLE, k, v);
    }
    for (const e of tb.entries(CLUSTER_NETWORK, VIPS_TABLE)) if (!vips.has(e.key)) tb.delete(CLUSTER_NETWORK, VIPS_TABLE, e.key);
  }

  // -------------------------------------------------------------------------------------------
  // node pass

  let nodeBusy: Promise<void> = Promise.resolve();
  /** Task ID → since when its assignment has been missing without a tombstone (see ORPHAN_GRACE_MS). */
  const missingSince = new Map<string, number>();
  const meshEntries = new Retained(INGRESS_TABLE, IngressEntry);
  const vipEntries = new Retained(VIPS_TABLE, VipEntry);
  function nodePass(): Promise<void> {
    const run = nodeBusy.then(nodePassOnce, nodePassOnce);
    nodeBusy = run.catch(() => undefined);
    return run;
  }

  async function nodePassOnce(): Promise<void> {
    const tb = tables();
    const self = nodeName();
    const desired = new Map<string, TaskAssignment>();
    for (const e of tb.entries(CLUSTER_NETWORK, TASKS_TABLE)) {
      const a = decodeJson(TaskAssignment, e.value);
      if (a !== undefined && a.node === self && a.id === e.key) desired.set(a.id, a);
    }
    const local = (await getJson<Record<string, string>>(ctx.store, LOCAL_KEY)) ?? {};
    const grace = ctx.config.orphanGraceMs ?? ORPHAN_GRACE_MS;
    const published = meshEntries.view(tb, ctx.now(), grace);
    const vips = vipEntries.view(tb, ctx.now(), grace);
    // Nothing assigned, nothing running, nothing published: skip reading every sandbox each second.
    if (desired.size === 0 && Object.keys(local).length === 0 && published.size === 0 && ingress === undefined && balancer.idle(vips)) {
      for (const e of tb.entries(CLUSTER_NETWORK, STATUS_TABLE)) if (e.owner === self) tb.delete(CLUSTER_NETWORK, STATUS_TABLE, e.key);
      return;
    }
    const sandboxes = new Map((await engine().sandboxes()).map((s) => [s.Name, s]));
    const report = (id: string, st: Omit<TaskStatus, 'node' | 'ts'>) => {
      const v: TaskStatus = { ...st, node: self, ts: now() };
      const cur = tb.get(CLUSTER_NETWORK, STATUS_TABLE, id);
      const old = cur === undefined || cur.deleted ? undefined : decodeJson(TaskStatus, cur.value);
      if (old?.state === v.state && old.err === v.err && JSON.stringify(old.addresses ?? {}) === JSON.stringify(v.addresses ?? {})) return;
      tb.put(CLUSTER_NETWORK, STATUS_TABLE, id, encodeJson(v));
    };
    const save = () => putJson(ctx.store, LOCAL_KEY, local);
    const removeSandbox = async (name: string) => {
      try {
        await engine().removeSandbox(name, true);
      } catch (e) {
        if (!(e instanceof WeftException && e.error.category === 'NotFound')) throw e;
      }
    };

    for (const id of [...missingSince.keys()]) if (local[id] === undefined || desired.has(id)) missingSince.delete(id);
    for (const [id, name] of Object.entries(local)) {
      const a = desired.get(id);
      const sb = sandboxes.get(name);
      if (a === undefined) {
        // Deleted by the manager (a tombstone) or assigned elsewhere: remove now. Merely absent
        // (the leader's entries forgotten while it restarts, or our tables still syncing): keep
        // the task running for a while, so a leader restart restarts no task.
        if (tb.get(CLUSTER_NETWORK, TASKS_TABLE, id) === undefined) {
          const since = missingSince.get(id) ?? ctx.now();
          missingSince.set(id, since);
          if (ctx.now() - since < (ctx.config.orphanGraceMs ?? ORPHAN_GRACE_MS)) continue;
          ctx.log.info('services: removing a task no manager has assigned for a while', { task: name });
        }
        missingSince.delete(id);
        await removeSandbox(name);
        delete local[id];
        await save();
        continue;
      }
      if (sb === undefined || sb.State !== 'running') {
        report(id, { state: 'failed', err: sb === undefined ? 'task sandbox disappeared' : 'task exited' });
        ctx.log.info('services: task failed; the manager will replace it', { task: name });
        await removeSandbox(name);
        delete local[id];
        await save();
      }
    }
    for (const a of desired.values()) {
      if (local[a.id] !== undefined) continue;
      const cur = tb.get(CLUSTER_NETWORK, STATUS_TABLE, a.id);
      const st = cur === undefined || cur.deleted ? undefined : decodeJson(TaskStatus, cur.value);
      if (st?.state === 'failed' || st?.state === 'rejected') continue; // reported; waiting for the manager
      if (sandboxes.has(a.name)) await removeSandbox(a.name); // left over from an interrupted start
      try {
        const sb = await engine().createSandbox(
          {
            Name: a.name,
            Networks: a.networks.map((n) => ({ Name: n.id, Aliases: n.aliases })),
            Cmd: a.cmd,
            Hostname: a.name,
            ...(a.ports !== undefined ? { Ports: a.ports.map((p) => ({ HostIP: ctx.config.publishHost ?? '0.0.0.0', HostPort: p.published, ContainerPort: p.target, Protocol: p.protocol })) } : {}),
          },
          { service: a.service, slot: a.slot, endpointMode: a.endpointMode, ...(a.vips !== undefined ? { vips: a.vips } : {}) },
        );
        local[a.id] = a.name;
        await save();
        const addresses: Record<string, string> = {};
        for (const [n, x] of Object.entries(sb.Networks)) addresses[n] = x.IPAddress;
        report(a.id, { state: sb.State === 'running' ? 'running' : 'failed', addresses });
      } catch (e) {
        const msg = e instanceof WeftException ? e.error.message : String((e as Error)?.message ?? e);
        ctx.log.warn('services: could not start task', { task: a.name, error: msg });
        report(a.id, { state: 'rejected', err: msg });
      }
    }
    for (const e of tb.entries(CLUSTER_NETWORK, STATUS_TABLE)) if (e.owner === self && !desired.has(e.key) && local[e.key] === undefined) tb.delete(CLUSTER_NETWORK, STATUS_TABLE, e.key);
    if (published.size > 0 || ingress !== undefined) await mesh().reconcile(published);
    // VIP load balancing in every local sandbox (tasks, mesh helpers, weft run), from fresh state.
    if (!balancer.idle(vips)) await balancer.reconcile(await engine().sandboxes(), vips);
  }

  // -------------------------------------------------------------------------------------------
  // the API

  const closeIngress = async () => {
    await ingress?.close();
  };
  const api: ServicesApi = {
    engine,
    checkNetworkRemoval(def) {
      if (def.Ingress !== true) return;
      // The published ports are in the cluster table on every node, so any node can tell.
      const users = new Set<string>();
      for (const e of tables().entries(CLUSTER_NETWORK, INGRESS_TABLE)) {
        const v = decodeJson(IngressEntry, e.value);
        if (v !== undefined) users.add(v.service);
      }
      if (users.size > 0) {
        const names = [...users].sort();
        raise(errors.conflict(PLUGIN, `ingress network cannot be removed because service ${names.join(', ')} depend${names.length === 1 ? 's' : ''} on it`, {
          value: def.Name,
          hint: `Remove the service${names.length === 1 ? '' : 's'} ("weft service rm ${names.join(' ')}") or stop publishing their ports first.`,
        }));
      }
    },
    async waitTasksGone(ids, ms) {
      const t0 = Date.now();
      const want = new Set(ids);
      while (tables().entries(CLUSTER_NETWORK, STATUS_TABLE).some((e) => want.has(e.key))) {
        if (Date.now() - t0 > ms) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
      return true;
    },
    async reconcile() {
      await managerPass();
      await nodePass();
    },
    async create(spec) {
      await requireManager();
      validate(spec);
      const nets = await resolveNetworks(spec);
      const id = await serial(async () => {
        if ((await records()).some((s) => s.Spec.Name === spec.Name)) raise(errors.conflict(PLUGIN, `service ${spec.Name} already exists`, { value: spec.Name }));
        portConflicts(await records(), undefined, spec);
        const rec: ServiceRecord = { ID: randomBytes(12).toString('hex'), Version: { Index: 1 }, CreatedAt: now(), UpdatedAt: now(), Spec: spec, Networks: nets, Tasks: [] };
        await putJson(ctx.store, svcKey(rec.ID), rec);
        return rec.ID;
      });
      const mine = `service ${spec.Name}:`;
      return { ID: id, Warnings: (await managerPass()).filter((w) => w.startsWith(mine)) };
    },
    async list() {
      await requireManager();
      return (await records()).map(view);
    },
    async get(ref) {
      await requireManager();
      return view(await find(ref));
    },
    async update(ref, version, spec) {
      await requireManager();
      validate(spec);
      const nets = await resolveNetworks(spec);
      await serial(async () => {
        const s = await find(ref);
        if (version !== undefined && version !== s.Version.Index) {
          raise(errors.conflict(PLUGIN, `update out of sequence: service ${s.Spec.Name} is at version ${s.Version.Index}, the update was made from version ${version}`, { hint: 'Read the service again and retry.' }));
        }
        if (spec.Name !== s.Spec.Name) raise(errors.badRequest(PLUGIN, `renaming service ${s.Spec.Name} to ${spec.Name} is not supported`, { path: 'Name', value: spec.Name }));
        portConflicts(await records(), s.ID, spec);
        s.Spec = spec;
        s.Networks = nets;
        s.Version = { Index: s.Version.Index + 1 };
        s.UpdatedAt = now();
        await putJson(ctx.store, svcKey(s.ID), s);
      });
      const mine = `service ${spec.Name}:`;
      return { Warnings: (await managerPass()).filter((w) => w.startsWith(mine)) };
    },
    async remove(ref) {
      await requireManager();
      await serial(async () => {
        const s = await find(ref);
        await ctx.store.delete(svcKey(s.ID));
      });
      await managerPass();
    },
    async tasks(filters) {
      await requireManager();
      const all = await records();
      const svc = filters.service ?? [];
      const labels = filters.label ?? [];
      const nodes = filters.node ?? [];
      const desired = filters['desired-state'] ?? [];
      const out: Task[] = [];
      for (const s of all) {
        if (svc.length > 0 && !svc.some((r) => r === s.ID || r === s.Spec.Name || (r.length >= 3 && s.ID.startsWith(r)))) continue;
        if (
          !labels.every((l) => {
            const i = l.indexOf('=');
            const k = i < 0 ? l : l.slice(0, i);
            const v = (s.Spec.Labels ?? {})[k];
            return v !== undefined && (i < 0 || v === l.slice(i + 1));
          })
        ) continue;
        for (const x of s.Tasks) {
          if (nodes.length > 0 && !nodes.includes(x.Node)) continue;
          if (desired.length > 0 && !desired.includes(x.DesiredState)) continue;
          out.push(taskView(s, x));
        }
      }
      return out;
    },
  };
  return { api, closeIngress };
}

export { specKey };

/**
 * The manager side (swarm leader): reconciles the service records against the ready nodes and
 * what the nodes report (placement.ts), keeps the ingress network and VIPs, and publishes the
 * desired tasks, the routing mesh's ports and the VIPs in the cluster tables.
 */
import { WeftException, type Context, type NetDef } from '@weft/kernel';
import { attachedNetworks, CLUSTER_NETWORK, decodeJson, encodeJson, publishedPorts, STATUS_TABLE, TASKS_TABLE, TaskAssignment, TaskStatus, VipEntry, VIPS_TABLE, type ServiceRecord } from './records.ts';
import { plan } from './placement.ts';
import { INGRESS_TABLE, type IngressEntry } from './ingress.ts';
import { controlVipSource, createVipAllocator } from './vips.ts';
import { INGRESS_NETWORK, STARTUP_GRACE_MS } from './config.ts';
import { type NodeView, type Shared } from './common.ts';

export interface Manager {
  /** One manager pass (nothing unless this node is the manager); returns its warnings (e.g. a network's subnet is full). */
  pass(): Promise<string[]>;
}

export function createManager(s: Shared): Manager {
  const { ctx, opts, engine, tables, newId, nodeName, now, serial, nodeViews, isManager, records } = s;
  const recordStore = s.store;
  /** When this manager's services started (see STARTUP_GRACE_MS). */
  const startedAt = ctx.now();
  const vipAlloc = createVipAllocator(recordStore, opts.vipSource?.(ctx) ?? controlVipSource(ctx as Context<unknown>), ctx.log);
  /** VIP warnings already logged (said once each). */
  const vipWarned = new Set<string>();

  async function readyNodes(): Promise<string[]> {
    if (opts.readyNodes !== undefined) return opts.readyNodes(ctx);
    const views = (await nodeViews()) ?? [];
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
      // Each changed record is written only if nobody (another manager's `service update`) wrote
      // it since this pass read it; otherwise the pass publishes nothing and the next one (a second later) replans
      // from what is stored, so the tasks table never shows a plan that was not kept.
      let lost = 0;
      for (let i = 0; i < all.length; i++) if (JSON.stringify(all[i]) !== before[i] && !(await s.writeRecord(all[i]!))) lost++;
      if (lost > 0) {
        ctx.log.info('services: a record changed during the reconciler pass; replanning', { records: lost });
        return;
      }
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
          ...(s.Vips6 !== undefined ? { vips6: Object.fromEntries(Object.entries(s.Vips6).map(([n, a]) => [n, a.split('/')[0]!])) } : {}),
          ...(hostPorts.length > 0 ? { ports: hostPorts } : {}),
          ...(s.Spec.TaskTemplate.ContainerSpec.Image !== undefined ? { image: s.Spec.TaskTemplate.ContainerSpec.Image } : {}),
        };
        want.set(x.ID, encodeJson(a));
      }
    }
    const dec = new TextDecoder();
    for (const [k, v] of want) {
      const cur = tb.get(CLUSTER_NETWORK, TASKS_TABLE, k);
      if (cur === undefined || cur.deleted || dec.decode(cur.value) !== dec.decode(v)) tb.put(CLUSTER_NETWORK, TASKS_TABLE, k, v);
    }
    const withdrawn = tb.entries(CLUSTER_NETWORK, TASKS_TABLE).filter((e) => !want.has(e.key));
    for (const e of withdrawn) tb.delete(CLUSTER_NETWORK, TASKS_TABLE, e.key);
    if (withdrawn.length > 0) ctx.log.info('services: task assignments withdrawn', { tasks: withdrawn.map((e) => e.key), services: all.length });
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
    // `vips6` only when there are any, so the entries of v4-only services keep their old bytes.
    for (const s of all) if (s.Vips !== undefined || s.Vips6 !== undefined) vips.set(s.ID, encodeJson({ service: s.Spec.Name, vips: s.Vips ?? {}, ...(s.Vips6 !== undefined ? { vips6: s.Vips6 } : {}) } satisfies VipEntry));
    for (const [k, v] of vips) {
      const cur = tb.get(CLUSTER_NETWORK, VIPS_TABLE, k);
      if (cur === undefined || cur.deleted || dec.decode(cur.value) !== dec.decode(v)) tb.put(CLUSTER_NETWORK, VIPS_TABLE, k, v);
    }
    for (const e of tb.entries(CLUSTER_NETWORK, VIPS_TABLE)) if (!vips.has(e.key)) tb.delete(CLUSTER_NETWORK, VIPS_TABLE, e.key);
  }

  return { pass: managerPass };
}

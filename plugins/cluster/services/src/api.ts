/**
 * The `services` service (kernel contract `ServicesApi`): create, update, remove and list
 * services and tasks on the manager, with Docker's validation and wording.
 */
import { randomBytes } from 'node:crypto';
import { errors, imageDefault, raise, WeftException, type NetDef, type Service, type ServicesApi, type ServiceSpec, type Task } from '@weft/kernel';
import { attachedNetworks, CLUSTER_NETWORK, decodeJson, publishedPorts, STATUS_TABLE, type ServiceRecord } from './records.ts';
import { INGRESS_TABLE, IngressEntry } from './ingress.ts';
import { PLUGIN, type Shared } from './common.ts';
import type { Manager } from './manager.ts';
import type { NodeSide } from './node.ts';

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;

export function createServicesApi(s: Shared, manager: Manager, node: NodeSide): ServicesApi {
  const { ctx, engine, tables, now, serial, requireManager, requireReader, records, writeRecord, deleteRecord } = s;

  /**
   * Runs a read-modify-write of the records until its write lands: another manager (or the
   * leader's reconciler) that wrote the same record in between makes it read again.
   */
  async function retrying<T>(what: string, fn: () => Promise<{ ok: boolean; value: T }>): Promise<T> {
    for (let i = 0; i < 8; i++) {
      const r = await fn();
      if (r.ok) return r.value;
      await new Promise((res) => setTimeout(res, 20 + Math.random() * 40 * (i + 1)));
    }
    raise(errors.unavailable(PLUGIN, `${what}: the service record kept changing under this write (8 tries)`, { hint: 'Retry the command.' }));
  }
  const managerPass = () => manager.pass();
  const nodePass = () => node.pass();

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
    const cs = spec.TaskTemplate.ContainerSpec;
    if (cs.Command.length === 0 && (cs.Image === undefined || imageDefault(cs.Image) === undefined)) {
      raise(errors.badRequest(PLUGIN, cs.Image === undefined
        ? `service ${spec.Name} has no command: Weft runs a command in each task's sandbox (give it after the image, or after "--")`
        : `service ${spec.Name}: image "${cs.Image}" has no command Weft knows (Weft runs no images): give the command after the image`, { path: 'TaskTemplate.ContainerSpec.Command', hint: 'Without a command, alpine, busybox, ubuntu and debian run /bin/sh, nginx and httpd an HTTP server on port 80.' }));
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

  /** Docker's `Endpoint.VirtualIPs`: one entry per VIP, the IPv4 one then the IPv6 one of each network. */
  function virtualIPs(s: ServiceRecord): { NetworkID: string; Addr: string }[] {
    return attachedNetworks(s).flatMap((n) => [s.Vips?.[n.Id], s.Vips6?.[n.Id]].filter((a): a is string => a !== undefined).map((Addr) => ({ NetworkID: n.Id, Addr })));
  }

  function view(s: ServiceRecord): Service {
    const running = s.Tasks.filter((x) => x.DesiredState === 'running' && x.State === 'running').length;
    return {
      ID: s.ID,
      Version: s.Version,
      CreatedAt: s.CreatedAt,
      UpdatedAt: s.UpdatedAt,
      Spec: s.Spec,
      Endpoint: { Ports: s.Spec.EndpointSpec?.Ports ?? [], VirtualIPs: virtualIPs(s) },
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
        const all = await records();
        if (all.some((s) => s.Spec.Name === spec.Name)) raise(errors.conflict(PLUGIN, `service ${spec.Name} already exists`, { value: spec.Name }));
        portConflicts(all, undefined, spec);
        const rec: ServiceRecord = { ID: randomBytes(12).toString('hex'), Version: { Index: 1 }, CreatedAt: now(), UpdatedAt: now(), Spec: spec, Networks: nets, Tasks: [] };
        // The name is taken in the same transaction: of two managers creating it, one wins.
        if (!(await writeRecord(rec, true))) raise(errors.conflict(PLUGIN, `service ${spec.Name} already exists`, { value: spec.Name }));
        return rec.ID;
      });
      ctx.events.publish('services.service', { action: 'create', id, name: spec.Name, replicas: spec.Mode.Replicated.Replicas });
      const mine = `service ${spec.Name}:`;
      return { ID: id, Warnings: (await managerPass()).filter((w) => w.startsWith(mine)) };
    },
    async list() {
      await requireReader();
      return (await records()).map(view);
    },
    async get(ref) {
      await requireReader();
      return view(await find(ref));
    },
    async update(ref, version, spec) {
      await requireManager();
      validate(spec);
      const nets = await resolveNetworks(spec);
      const id = await serial(() => retrying(`update service ${ref}`, async () => {
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
        return { ok: await writeRecord(s), value: s.ID };
      }));
      ctx.events.publish('services.service', { action: 'update', id, name: spec.Name, replicas: spec.Mode.Replicated.Replicas });
      const mine = `service ${spec.Name}:`;
      return { Warnings: (await managerPass()).filter((w) => w.startsWith(mine)) };
    },
    async remove(ref) {
      await requireManager();
      const gone = await serial(() => retrying(`remove service ${ref}`, async () => {
        const s = await find(ref);
        return { ok: await deleteRecord(s), value: s };
      }));
      ctx.events.publish('services.service', { action: 'remove', id: gone.ID, name: gone.Spec.Name, replicas: gone.Spec.Mode.Replicated.Replicas });
      await managerPass();
    },
    async tasks(filters) {
      await requireReader();
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
  return api;
}

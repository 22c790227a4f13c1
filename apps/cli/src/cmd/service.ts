/** `weft service ...`: Docker-shaped requests to the agent's /services and /tasks endpoints (types in @weft/api). */
import type { Node } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { UsageError, UserError } from '../spec.ts';
import type { PortConfig, Service, ServiceSpec, Task } from '@weft/api';
import { call, client, feature } from '../agent.ts';
import { args, arg, bool, int, publishes, str, strs } from '../flags.ts';
import { ago, capital, progress, shortId } from '../format.ts';
import { labelMatch, printInspect, printList, type ListSpec } from '../listing.ts';
import { compact, eachName } from '../util.ts';

const seg = encodeURIComponent;
/** Service and task calls; a 404 from an agent that has no /services at all says so. */
export const services = <T>(p: Parsed, io: Io, work: () => Promise<T>) => feature(p, io, 'Services', '/services', work);

export function serviceSpec(p: Parsed): ServiceSpec {
  const nets = strs(p, 'network');
  const ports: PortConfig[] = publishes(p, 'publish').map((x) => compact<PortConfig>({ Protocol: x.protocol, TargetPort: x.target, PublishedPort: x.published, PublishMode: x.mode }));
  const mode = str(p, 'endpoint-mode') as 'vip' | 'dnsrr' | undefined;
  if (mode === 'dnsrr' && ports.some((x) => x.PublishMode === 'ingress')) {
    throw new UsageError('--endpoint-mode dnsrr has no virtual IP to publish ingress ports on: use mode=host in --publish', p.cmd.path);
  }
  const image = arg(p, 'IMAGE');
  if (image === '' && p.rest.length === 0) throw new UsageError('"weft service create" needs an image or a command: weft service create [OPTIONS] IMAGE [CMD...] or ... -- CMD [ARG...]', p.cmd.path);
  return compact<ServiceSpec>({
    Name: str(p, 'name') ?? '',
    TaskTemplate: compact({ ContainerSpec: image === '' ? { Command: [...p.rest] } : { Command: [...p.rest], Image: image }, Networks: nets.length === 0 ? undefined : nets.map((n) => ({ Target: n })) }),
    Mode: { Replicated: { Replicas: int(p, 'replicas') ?? 1 } },
    EndpointSpec: mode === undefined && ports.length === 0 ? undefined : compact({ Mode: mode, Ports: ports.length === 0 ? undefined : ports }),
  });
}

export async function create(p: Parsed, io: Io): Promise<number> {
  const spec = serviceSpec(p);
  const r = await services(p, io, () => progress(io, `Creating service "${spec.Name}"`, call<{ ID: string; Warnings?: string[] | null }>(p, io, 'POST', '/services/create', spec)));
  for (const w of r.Warnings ?? []) io.err(`Warning: ${w}\n`);
  io.out(`${r.ID}\n`);
  return 0;
}

const portsText = (ports: readonly PortConfig[] | undefined) =>
  (ports ?? []).map((x) => `${x.PublishMode === 'host' ? 'host' : '*'}:${x.PublishedPort ?? '?'}->${x.TargetPort}/${x.Protocol}`).join(', ');

/** `weft service ls`: Docker's service context (ID, Name, Mode, Replicas, Image, Ports), plus EndpointMode. */
export const serviceSpecList: ListSpec<Service> = {
  columns: [
    { field: 'ID', header: 'ID', get: (s, t) => (t ? shortId(s.ID) : s.ID) },
    { field: 'Name', header: 'NAME', get: (s) => s.Spec.Name },
    { field: 'Mode', header: 'MODE', get: () => 'replicated' },
    {
      field: 'Replicas',
      header: 'REPLICAS',
      get: (s) => (s.ServiceStatus === undefined ? `?/${s.Spec.Mode.Replicated.Replicas}` : `${s.ServiceStatus.RunningTasks}/${s.ServiceStatus.DesiredTasks}`),
    },
    { field: 'Image', header: 'IMAGE', get: (s) => s.Spec.TaskTemplate.ContainerSpec.Image ?? '' },
    { field: 'EndpointMode', header: 'ENDPOINT MODE', get: (s) => s.Spec.EndpointSpec?.Mode ?? 'vip' },
    { field: 'Ports', header: 'PORTS', get: (s) => portsText(s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports) },
    { field: 'Labels', header: 'LABELS', get: (s) => Object.entries(s.Spec.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') },
    { field: 'Label', header: 'LABEL', get: (s) => (k: unknown) => s.Spec.Labels?.[String(k)] ?? '', method: true },
  ],
  table: 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.EndpointMode}}\t{{.Ports}}',
  quiet: (s, t) => (t ? shortId(s.ID) : s.ID),
  filters: {
    id: (s, v) => s.ID.startsWith(v),
    name: (s, v) => s.Spec.Name.startsWith(v),
    label: (s, v) => labelMatch(s.Spec.Labels, v),
    mode: (_s, v) => {
      if (v !== 'replicated' && v !== 'global') throw new UserError(`invalid filter 'mode=${v}': use replicated or global`);
      return v === 'replicated';
    },
  },
  order: (a, b) => a.Spec.Name.localeCompare(b.Spec.Name),
};

export async function ls(p: Parsed, io: Io): Promise<number> {
  const list = await services(p, io, () => call<Service[]>(p, io, 'GET', '/services?status=true'));
  return printList(p, io, serviceSpecList, list);
}

/** `weft service ps` / `stack ps`: Docker's task context (ID, Name, Image, Node, DesiredState, CurrentState, Error, Ports). */
export function taskSpec(nodeNames: ReadonlyMap<string, string>, serviceNames: ReadonlyMap<string, string>, images: ReadonlyMap<string, string>, now: number = Date.now()): ListSpec<Task> {
  const name = (t: Task) => t.Name ?? `${serviceNames.get(t.ServiceID) ?? shortId(t.ServiceID)}.${t.Slot ?? '?'}`;
  const node = (t: Task) => nodeNames.get(t.NodeID) ?? t.NodeID;
  return {
    columns: [
      { field: 'ID', header: 'ID', get: (t, tr) => (tr ? shortId(t.ID) : t.ID) },
      { field: 'Name', header: 'NAME', get: (t) => name(t) },
      { field: 'Image', header: 'IMAGE', get: (t) => images.get(t.ServiceID) ?? '' },
      { field: 'Node', header: 'NODE', get: (t) => node(t) },
      { field: 'DesiredState', header: 'DESIRED STATE', get: (t) => capital(t.DesiredState) },
      { field: 'CurrentState', header: 'CURRENT STATE', get: (t) => `${capital(t.Status.State)}${t.Status.Timestamp === undefined ? '' : ` ${ago(t.Status.Timestamp, now).toLowerCase()}`}` },
      { field: 'Error', header: 'ERROR', get: (t, tr) => (t.Status.Err === undefined || t.Status.Err === '' ? '' : tr ? JSON.stringify(t.Status.Err) : t.Status.Err) },
      { field: 'Ports', header: 'PORTS', get: () => '' },
    ],
    table: 'table {{.ID}}\t{{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}',
    quiet: (t, tr) => (tr ? shortId(t.ID) : t.ID),
    filters: {
      id: (t, v) => t.ID.startsWith(v),
      name: (t, v) => name(t).startsWith(v),
      node: (t, v) => node(t) === v || t.NodeID === v,
      'desired-state': (t, v) => {
        if (!['running', 'shutdown', 'accepted'].includes(v)) throw new UserError(`invalid filter 'desired-state=${v}': use running, shutdown or accepted`);
        return t.DesiredState === v;
      },
      label: (t, v) => labelMatch(t.Labels, v),
    },
    order: (a, b) => name(a).localeCompare(name(b), undefined, { numeric: true }),
  };
}

/** Prints tasks matching `filters` (Docker's /tasks filter syntax). */
export async function printTasks(p: Parsed, io: Io, filters: Record<string, string[]>, what: (p: Parsed, io: Io, work: () => Promise<Task[]>) => Promise<Task[]>): Promise<number> {
  const tasks = await what(p, io, () => call<Task[]>(p, io, 'GET', `/tasks?filters=${seg(JSON.stringify(filters))}`));
  // Names for the NODE and NAME columns; the IDs are shown if these listings fail.
  const c = await client(p, io);
  const [nodes, svcs] = await Promise.all([c.nodes().catch((): Node[] => []), call<Service[]>(p, io, 'GET', '/services').catch((): Service[] => [])]);
  const spec = taskSpec(new Map(nodes.map((n) => [n.ID, n.Name])), new Map(svcs.map((s) => [s.ID, s.Spec.Name])), new Map(svcs.map((s) => [s.ID, s.Spec.TaskTemplate.ContainerSpec.Image ?? ''])));
  return printList(p, io, spec, tasks);
}

export async function ps(p: Parsed, io: Io): Promise<number> {
  const s = arg(p, 'SERVICE');
  // A missing service is an error, not an empty list.
  await services(p, io, () => call<Service>(p, io, 'GET', `/services/${seg(s)}`));
  return printTasks(p, io, { service: [s] }, services);
}

export async function inspect(p: Parsed, io: Io): Promise<number> {
  const found: Service[] = [];
  const rc = await eachName(args(p, 'SERVICE'), io.err, async (s) => {
    found.push(await services(p, io, () => call<Service>(p, io, 'GET', `/services/${seg(s)}`)));
  });
  if (bool(p, 'pretty')) {
    for (const svc of found) io.out(prettyService(svc));
    return rc;
  }
  return printInspect(p, io, found, rc);
}

/** `service inspect --pretty`: Docker's human-readable summary (ports and endpoints included). */
export function prettyService(s: Service): string {
  const spec = s.Spec;
  const lines = [
    `ID:\t\t${s.ID}`,
    `Name:\t\t${spec.Name}`,
    ...(spec.Labels !== undefined && Object.keys(spec.Labels).length > 0 ? ['Labels:', ...Object.entries(spec.Labels).map(([k, v]) => ` ${k}=${v}`)] : []),
    'Service Mode:\tReplicated',
    ` Replicas:\t${spec.Mode.Replicated.Replicas}`,
    'ContainerSpec:',
    ...(spec.TaskTemplate.ContainerSpec.Image !== undefined ? [` Image:\t\t${spec.TaskTemplate.ContainerSpec.Image}`] : []),
    ...(spec.TaskTemplate.ContainerSpec.Command.length > 0 ? [` Args:\t\t${spec.TaskTemplate.ContainerSpec.Command.join(' ')}`] : []),
    ...((spec.TaskTemplate.Networks ?? []).length > 0 ? [`Networks:\t${(spec.TaskTemplate.Networks ?? []).map((n) => n.Target).join(' ')}`] : []),
    `Endpoint Mode:\t${spec.EndpointSpec?.Mode ?? 'vip'}`,
    ...((s.Endpoint?.Ports ?? []).length > 0
      ? ['Ports:', ...(s.Endpoint?.Ports ?? []).map((x) => ` PublishedPort = ${x.PublishedPort ?? ''}\n  Protocol = ${x.Protocol}\n  TargetPort = ${x.TargetPort}\n  PublishMode = ${x.PublishMode}`)]
      : []),
    ...((s.Endpoint?.VirtualIPs ?? []).length > 0 ? ['Virtual IPs:', ...(s.Endpoint?.VirtualIPs ?? []).map((v) => ` ${v.Addr} (network ${shortId(v.NetworkID)})`)] : []),
  ];
  return `${lines.join('\n')}\n\n`;
}

/** Docker's read-modify-write: fetch the service, change its spec, send it back with the version read. */
async function updateSpec(p: Parsed, io: Io, name: string, change: (s: ServiceSpec) => ServiceSpec): Promise<void> {
  await services(p, io, async () => {
    const svc = await call<Service>(p, io, 'GET', `/services/${seg(name)}`);
    await call(p, io, 'POST', `/services/${seg(svc.ID)}/update?version=${svc.Version.Index}`, change(svc.Spec));
  });
}

const withReplicas = (s: ServiceSpec, n: number): ServiceSpec => ({ ...s, Mode: { Replicated: { Replicas: n } } });

export async function scale(p: Parsed, io: Io): Promise<number> {
  const pairs = args(p, 'SERVICE=REPLICAS').map((a) => {
    const m = /^([^=]+)=([0-9]+)$/.exec(a);
    if (m === null) throw new UsageError(`invalid scale ${JSON.stringify(a)}: use SERVICE=REPLICAS, such as api=3`, p.cmd.path);
    return [m[1] ?? '', Number(m[2])] as const;
  });
  const byName = new Map(pairs);
  return eachName([...byName.keys()], io.err, async (s) => {
    const n = byName.get(s) ?? 0;
    await progress(io, `Scaling "${s}"`, updateSpec(p, io, s, (spec) => withReplicas(spec, n)));
    io.out(`${s} scaled to ${n}\n`);
  });
}

export async function update(p: Parsed, io: Io): Promise<number> {
  const s = arg(p, 'SERVICE');
  const add = strs(p, 'network-add');
  const rmv = new Set(strs(p, 'network-rm'));
  const replicas = int(p, 'replicas');
  if (add.length === 0 && rmv.size === 0 && replicas === undefined) throw new UsageError('nothing to update: give --network-add, --network-rm or --replicas', p.cmd.path);
  await progress(
    io,
    `Updating "${s}"`,
    updateSpec(p, io, s, (spec) => {
      const nets = (spec.TaskTemplate.Networks ?? []).filter((n) => !rmv.has(n.Target));
      for (const n of add) if (!nets.some((x) => x.Target === n)) nets.push({ Target: n });
      const next: ServiceSpec = { ...spec, TaskTemplate: { ...spec.TaskTemplate, Networks: nets } };
      return replicas === undefined ? next : withReplicas(next, replicas);
    }),
  );
  io.out(`${s}\n`);
  return 0;
}

export async function rm(p: Parsed, io: Io): Promise<number> {
  return eachName(args(p, 'SERVICE'), io.err, async (s) => {
    await services(p, io, () => call(p, io, 'DELETE', `/services/${seg(s)}`));
    io.out(`${s}\n`);
  });
}

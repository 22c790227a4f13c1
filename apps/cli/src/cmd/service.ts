/** `weft service ...`: Docker-shaped requests to the agent's /services and /tasks endpoints (types in @weft/api). */
import type { Node } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { UsageError } from '../spec.ts';
import type { PortConfig, Service, ServiceSpec, Task } from '@weft/api';
import { call, client, feature } from '../agent.ts';
import { args, arg, bool, format, int, publishes, str, strs } from '../flags.ts';
import { ago, capital, inspectJson, json, progress, shortId, table } from '../format.ts';
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
  return compact<ServiceSpec>({
    Name: str(p, 'name') ?? '',
    TaskTemplate: compact({ ContainerSpec: { Command: [...p.rest] }, Networks: nets.length === 0 ? undefined : nets.map((n) => ({ Target: n })) }),
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

export function serviceTable(list: readonly Service[]): string {
  const sorted = [...list].sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
  return table(
    ['ID', 'NAME', 'MODE', 'REPLICAS', 'ENDPOINT MODE', 'PORTS'],
    sorted.map((s) => {
      const want = s.Spec.Mode.Replicated.Replicas;
      const replicas = s.ServiceStatus === undefined ? `?/${want}` : `${s.ServiceStatus.RunningTasks}/${s.ServiceStatus.DesiredTasks}`;
      return [shortId(s.ID), s.Spec.Name, 'replicated', replicas, s.Spec.EndpointSpec?.Mode ?? 'vip', portsText(s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports)];
    }),
  );
}

export async function ls(p: Parsed, io: Io): Promise<number> {
  const list = await services(p, io, () => call<Service[]>(p, io, 'GET', '/services?status=true'));
  if (bool(p, 'quiet')) io.out(list.map((s) => `${shortId(s.ID)}\n`).join(''));
  else if (format(p) === 'json') io.out(json(list));
  else io.out(serviceTable(list));
  return 0;
}

export function taskTable(tasks: readonly Task[], nodeNames: ReadonlyMap<string, string>, serviceNames: ReadonlyMap<string, string>, now: number = Date.now()): string {
  const name = (t: Task) => t.Name ?? `${serviceNames.get(t.ServiceID) ?? shortId(t.ServiceID)}.${t.Slot ?? '?'}`;
  const sorted = [...tasks].sort((a, b) => name(a).localeCompare(name(b), undefined, { numeric: true }));
  return table(
    ['ID', 'NAME', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR'],
    sorted.map((t) => [
      shortId(t.ID),
      name(t),
      nodeNames.get(t.NodeID) ?? t.NodeID,
      capital(t.DesiredState),
      `${capital(t.Status.State)}${t.Status.Timestamp === undefined ? '' : ` ${ago(t.Status.Timestamp, now).toLowerCase()}`}`,
      t.Status.Err === undefined || t.Status.Err === '' ? '' : JSON.stringify(t.Status.Err),
    ]),
  );
}

/** Prints tasks matching `filters` (Docker's /tasks filter syntax). */
export async function printTasks(p: Parsed, io: Io, filters: Record<string, string[]>, what: (p: Parsed, io: Io, work: () => Promise<Task[]>) => Promise<Task[]>): Promise<number> {
  const tasks = await what(p, io, () => call<Task[]>(p, io, 'GET', `/tasks?filters=${seg(JSON.stringify(filters))}`));
  if (bool(p, 'quiet')) {
    io.out(tasks.map((t) => `${shortId(t.ID)}\n`).join(''));
    return 0;
  }
  if (format(p) === 'json') {
    io.out(json(tasks));
    return 0;
  }
  // Names for the NODE and NAME columns; the IDs are shown if these listings fail.
  const c = await client(p, io);
  const [nodes, svcs] = await Promise.all([c.nodes().catch((): Node[] => []), call<Service[]>(p, io, 'GET', '/services').catch((): Service[] => [])]);
  io.out(taskTable(tasks, new Map(nodes.map((n) => [n.ID, n.Name])), new Map(svcs.map((s) => [s.ID, s.Spec.Name]))));
  return 0;
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
  if (found.length > 0 || rc === 0) io.out(inspectJson(found));
  return rc;
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

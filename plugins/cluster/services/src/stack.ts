/**
 * Stacks: a Compose file turned into networks and services named `STACK_NAME`, labelled
 * `com.docker.stack.namespace=STACK` (as `docker stack deploy` does). Fields Weft cannot honour
 * are reported as warnings, never dropped silently; fields it cannot run without are errors.
 */
import { errors, imageDefault, raise } from '@weft/kernel';
import { readCompose } from './compose.ts';
import type { NetworkCreateRequest, ServiceSpec, StackDeployResponse, StackSummary } from '@weft/api';
import type { ServicesApi } from '@weft/kernel';

export const STACK_LABEL = 'com.docker.stack.namespace';
const PLUGIN = 'services';
const STACK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,30}$/;

type Obj = Record<string, unknown>;
const isObj = (u: unknown): u is Obj => typeof u === 'object' && u !== null && !Array.isArray(u);

export interface ComposeNetwork {
  readonly key: string;
  readonly name: string;
  readonly external: boolean;
  readonly create?: NetworkCreateRequest;
}

export interface ComposePlan {
  readonly networks: ComposeNetwork[];
  readonly services: ServiceSpec[];
  readonly warnings: string[];
}

function kv(u: unknown, where: string): Record<string, string> {
  if (u === undefined || u === null) return {};
  if (Array.isArray(u)) {
    const out: Record<string, string> = {};
    for (const x of u) {
      const s = String(x);
      const i = s.indexOf('=');
      out[i < 0 ? s : s.slice(0, i)] = i < 0 ? '' : s.slice(i + 1);
    }
    return out;
  }
  if (isObj(u)) return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
  raise(errors.badRequest(PLUGIN, `${where}: expected a map or a list of KEY=VALUE, got ${JSON.stringify(u)}`, { path: where }));
}

/** Splits a shell-form command the way Compose does for a string `command` (quotes honoured, no expansion). */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | undefined;
  let any = false;
  for (const c of s) {
    if (q !== undefined) {
      if (c === q) q = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur !== '') out.push(cur);
      cur = '';
      any = false;
    } else cur += c;
  }
  if (q !== undefined) raise(errors.badRequest(PLUGIN, `command ${JSON.stringify(s)} has an unterminated quote`, { value: s }));
  if (any || cur !== '') out.push(cur);
  return out;
}

const KNOWN_SERVICE = new Set(['command', 'deploy', 'networks', 'ports', 'image', 'labels']);
const KNOWN_NETWORK = new Set(['driver', 'driver_opts', 'attachable', 'internal', 'ipam', 'labels', 'external', 'name', 'enable_ipv6']);

export function planStack(stack: string, files: readonly string[], env: Readonly<Record<string, string>> = {}): ComposePlan {
  if (!STACK_NAME.test(stack)) raise(errors.badRequest(PLUGIN, `invalid stack name ${JSON.stringify(stack)}: use up to 31 letters, digits, "_" or "-"`, { value: stack }));
  // YAML with merge keys, x-* dropped, interpolated, decoded (errors name the field's path).
  const read = readCompose(files, env);
  const top = read.doc;
  const warnings: string[] = [...read.warnings];
  for (const k of Object.keys(top)) if (!['version', 'services', 'networks', 'name'].includes(k)) warnings.push(`top-level "${k}" is not supported by Weft and was not applied`);
  const nets: ComposeNetwork[] = [];
  const labels = { [STACK_LABEL]: stack };
  const rawNets = top.networks ?? {};
  if (!isObj(rawNets)) raise(errors.badRequest(PLUGIN, 'networks: expected a map', { path: 'networks' }));
  for (const [key, v0] of Object.entries(rawNets)) {
    const v = (v0 ?? {}) as Obj;
    if (!isObj(v)) raise(errors.badRequest(PLUGIN, `networks.${key}: expected a map`, { path: `networks.${key}` }));
    for (const k of Object.keys(v)) if (!KNOWN_NETWORK.has(k)) warnings.push(`networks.${key}.${k} is not supported by Weft and was not applied`);
    const ext = v.external === true || isObj(v.external);
    if (ext) {
      const name = typeof v.name === 'string' ? v.name : isObj(v.external) && typeof v.external.name === 'string' ? v.external.name : key;
      nets.push({ key, name, external: true });
      continue;
    }
    const name = typeof v.name === 'string' ? v.name : `${stack}_${key}`;
    const driver = typeof v.driver === 'string' ? v.driver : 'overlay';
    if (driver !== 'overlay') raise(errors.badRequest(PLUGIN, `networks.${key}: driver "${driver}" cannot carry a stack's services across nodes; use driver: overlay (as docker stack deploy requires)`, { path: `networks.${key}.driver`, value: driver }));
    const opts = kv(v.driver_opts, `networks.${key}.driver_opts`);
    const ipam = isObj(v.ipam) ? v.ipam : {};
    const config = Array.isArray(ipam.config) ? ipam.config : [];
    if (ipam.driver !== undefined && ipam.driver !== 'default') warnings.push(`networks.${key}.ipam.driver "${String(ipam.driver)}" is not supported; Weft's IPAM is used`);
    const create: NetworkCreateRequest = {
      Name: name,
      Driver: driver,
      Attachable: v.attachable === true,
      Internal: v.internal === true,
      EnableIPv6: v.enable_ipv6 === true,
      Options: opts,
      Labels: { ...kv(v.labels, `networks.${key}.labels`), ...labels },
      IPAM: {
        Config: config.map((c: unknown, i: number) => {
          if (!isObj(c)) raise(errors.badRequest(PLUGIN, `networks.${key}.ipam.config[${i}]: expected a map`));
          return {
            ...(typeof c.subnet === 'string' ? { Subnet: c.subnet } : {}),
            ...(typeof c.gateway === 'string' ? { Gateway: c.gateway } : {}),
            ...(typeof c.ip_range === 'string' ? { IPRange: c.ip_range } : {}),
            ...(isObj(c.aux_addresses) ? { AuxAddresses: kv(c.aux_addresses, `networks.${key}.ipam.config[${i}].aux_addresses`) } : {}),
          };
        }),
      },
    };
    nets.push({ key, name, external: false, create });
  }
  const rawSvcs = top.services;
  if (!isObj(rawSvcs) || Object.keys(rawSvcs).length === 0) raise(errors.badRequest(PLUGIN, 'the compose file defines no services', { path: 'services' }));
  const services: ServiceSpec[] = [];
  let needDefault = false;
  for (const [key, v0] of Object.entries(rawSvcs)) {
    const v = (v0 ?? {}) as Obj;
    if (!isObj(v)) raise(errors.badRequest(PLUGIN, `services.${key}: expected a map`));
    for (const k of Object.keys(v)) if (!KNOWN_SERVICE.has(k)) warnings.push(`services.${key}.${k} is not supported by Weft and was not applied`);
    const cmd = typeof v.command === 'string' ? splitCommand(v.command) : Array.isArray(v.command) ? v.command.map(String) : [];
    const image = typeof v.image === 'string' ? v.image : undefined;
    if (image !== undefined && cmd.length > 0) {
      warnings.push(`services.${key}.image "${image}" is not run: Weft tasks are network sandboxes running "command" on the host, not containers`);
    }
    if (cmd.length === 0 && (image === undefined || imageDefault(image) === undefined)) {
      raise(errors.badRequest(PLUGIN, image === undefined
        ? `services.${key} has no command: Weft runs "command" in each task's sandbox`
        : `services.${key} has no command, and Weft knows no command for image "${image}" (Weft runs no images): give "command"`, { path: `services.${key}.command`, hint: 'Without a command, alpine, busybox, ubuntu and debian run /bin/sh, nginx and httpd an HTTP server on port 80.' }));
    }
    const deploy = isObj(v.deploy) ? v.deploy : {};
    for (const k of Object.keys(deploy)) if (!['replicas', 'endpoint_mode', 'mode', 'labels'].includes(k)) warnings.push(`services.${key}.deploy.${k} is not supported by Weft and was not applied`);
    if (deploy.mode !== undefined && deploy.mode !== 'replicated') raise(errors.badRequest(PLUGIN, `services.${key}.deploy.mode "${String(deploy.mode)}" is not supported: only replicated services`));
    const replicas = deploy.replicas === undefined ? 1 : Number(deploy.replicas);
    const mode = deploy.endpoint_mode === undefined ? undefined : String(deploy.endpoint_mode);
    if (mode !== undefined && mode !== 'vip' && mode !== 'dnsrr') raise(errors.badRequest(PLUGIN, `services.${key}.deploy.endpoint_mode must be vip or dnsrr, got ${JSON.stringify(mode)}`));
    const attach: { Target: string; Aliases?: string[] }[] = [];
    const sn = v.networks;
    const entries: [string, unknown][] = sn === undefined ? [] : Array.isArray(sn) ? sn.map((n) => [String(n), undefined]) : isObj(sn) ? Object.entries(sn) : [];
    if (sn === undefined) {
      needDefault = true;
      attach.push({ Target: `${stack}_default`, Aliases: [key] });
    }
    for (const [nk, nv] of entries) {
      const net = nets.find((n) => n.key === nk);
      if (net === undefined) {
        if (nk !== 'default') raise(errors.badRequest(PLUGIN, `services.${key}.networks: network "${nk}" is not declared under the top-level networks`, { value: nk }));
        needDefault = true;
      }
      const aliases = isObj(nv) && Array.isArray(nv.aliases) ? nv.aliases.map(String) : [];
      if (isObj(nv)) for (const k of Object.keys(nv)) if (k !== 'aliases') warnings.push(`services.${key}.networks.${nk}.${k} is not supported by Weft and was not applied`);
      // As docker stack deploy: the service's short name is an alias on each of its networks.
      attach.push({ Target: net?.name ?? `${stack}_default`, Aliases: [key, ...aliases.filter((a) => a !== key)] });
    }
    const ports = (Array.isArray(v.ports) ? v.ports : []).map((p: unknown) => parsePort(p, `services.${key}.ports`));
    services.push({
      Name: `${stack}_${key}`,
      Labels: { ...kv(v.labels, `services.${key}.labels`), ...kv(deploy.labels, `services.${key}.deploy.labels`), ...labels },
      TaskTemplate: { ContainerSpec: image === undefined ? { Command: cmd } : { Command: cmd, Image: image }, Networks: attach },
      Mode: { Replicated: { Replicas: replicas } },
      ...(mode !== undefined || ports.length > 0 ? { EndpointSpec: { ...(mode !== undefined ? { Mode: mode as 'vip' | 'dnsrr' } : {}), ...(ports.length > 0 ? { Ports: ports } : {}) } } : {}),
    });
  }
  if (needDefault && !nets.some((n) => n.key === 'default')) {
    nets.push({ key: 'default', name: `${stack}_default`, external: false, create: { Name: `${stack}_default`, Driver: 'overlay', Labels: labels } });
  }
  return { networks: nets, services, warnings };
}

function parsePort(p: unknown, where: string): { Protocol: 'tcp' | 'udp'; TargetPort: number; PublishedPort?: number; PublishMode: 'ingress' | 'host' } {
  if (typeof p === 'number') return { Protocol: 'tcp', TargetPort: p, PublishMode: 'ingress' };
  if (typeof p === 'string') {
    const m = /^(?:(?:[0-9.]+:)?([0-9]+):)?([0-9]+)(?:\/(tcp|udp))?$/.exec(p);
    if (m === null) raise(errors.badRequest(PLUGIN, `${where}: cannot read port ${JSON.stringify(p)} (use [HOST_IP:]PUBLISHED:TARGET[/tcp|udp])`, { value: p }));
    return { Protocol: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp', TargetPort: Number(m[2]), ...(m[1] !== undefined ? { PublishedPort: Number(m[1]) } : {}), PublishMode: 'ingress' };
  }
  if (isObj(p) && p.target !== undefined) {
    return {
      Protocol: p.protocol === 'udp' ? 'udp' : 'tcp',
      TargetPort: Number(p.target),
      ...(p.published !== undefined ? { PublishedPort: Number(p.published) } : {}),
      PublishMode: p.mode === 'host' ? 'host' : 'ingress',
    };
  }
  raise(errors.badRequest(PLUGIN, `${where}: cannot read port ${JSON.stringify(p)}`, { value: p }));
}

/** Deploys (or updates) a stack through the services API: networks first, then services. */
export async function deployStack(api: ServicesApi, stack: string, files: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<StackDeployResponse> {
  const p = planStack(stack, files, env);
  const warnings = [...p.warnings];
  const created: string[] = [];
  const defs = await api.engine().listDefs();
  for (const n of p.networks) {
    const have = defs.find((d) => d.Name === n.name);
    if (n.external) {
      if (have === undefined) raise(errors.notFound(PLUGIN, `network "${n.name}" is declared as external, but could not be found; create it first ("weft network create -d overlay ${n.name}")`, { value: n.name }));
      continue;
    }
    if (have !== undefined) continue;
    await api.engine().createNetwork(n.create!);
    created.push(n.name);
  }
  const names: string[] = [];
  for (const s of p.services) {
    let existing;
    try {
      existing = await api.get(s.Name);
    } catch {
      existing = undefined;
    }
    const r = existing === undefined ? await api.create(s) : await api.update(existing.ID, existing.Version.Index, s);
    warnings.push(...r.Warnings);
    names.push(s.Name);
  }
  // Services of this stack no longer in the file are removed (docker stack deploy --prune keeps them; we prune as the default is surprising).
  for (const s of await api.list()) {
    if (s.Spec.Labels?.[STACK_LABEL] === stack && !names.includes(s.Spec.Name)) await api.remove(s.ID);
  }
  return { Services: names, Networks: created, Warnings: [...new Set(warnings)] };
}

export async function listStacks(api: ServicesApi): Promise<StackSummary[]> {
  const byStack = new Map<string, number>();
  for (const s of await api.list()) {
    const st = s.Spec.Labels?.[STACK_LABEL];
    if (st !== undefined) byStack.set(st, (byStack.get(st) ?? 0) + 1);
  }
  const nets = await api.engine().listDefs();
  return [...byStack].map(([Name, Services]) => ({ Name, Services, Networks: nets.filter((d) => d.Labels[STACK_LABEL] === Name).length }));
}

/**
 * Removes a stack: its services, then (once their tasks are gone everywhere) its networks.
 * `waitMs` bounds the wait for tasks on other nodes to leave the networks.
 */
export async function removeStack(api: ServicesApi, stack: string, waitMs = 20_000): Promise<void> {
  const svcs = (await api.list()).filter((s) => s.Spec.Labels?.[STACK_LABEL] === stack);
  const nets = (await api.engine().listDefs()).filter((d) => d.Labels[STACK_LABEL] === stack);
  if (svcs.length === 0 && nets.length === 0) raise(errors.notFound(PLUGIN, `nothing found in stack: ${stack}`, { value: stack }));
  const t0 = Date.now();
  const ids = (await api.tasks({ label: [`${STACK_LABEL}=${stack}`] })).map((x) => x.ID);
  for (const s of svcs) await api.remove(s.ID);
  await api.waitTasksGone(ids, waitMs);
  const left: string[] = [];
  for (const d of nets) {
    for (;;) {
      try {
        await api.engine().removeNetwork(d.Id);
        break;
      } catch (e) {
        if (Date.now() - t0 > waitMs) {
          left.push(`${d.Name} (${(e as Error).message})`);
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  if (left.length > 0) raise(errors.conflict(PLUGIN, `stack ${stack}: services removed, but these networks could not be removed: ${left.join('; ')}`));
}

/**
 * The engine: what Docker's libnetwork controller does on one host. It owns sandboxes (network
 * namespaces) and their attachments, and turns a network definition into calls on the IPAM and
 * the network driver — always through the kernel, so guards apply and errors stay coded.
 *
 * Network definitions come from two places: swarm-scope networks from the control plane
 * (`control` plugin, `Network.*` methods), local-scope networks from this engine's own store.
 * A swarm network is instantiated on this host when its first local sandbox attaches and torn
 * down when the last one leaves (Docker's behaviour). Addresses of a swarm network come from
 * blocks the manager grants this node (`Blocks.Request`), so no two hosts ever hand out the
 * same address even while the manager is unreachable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isLeft } from 'fp-ts/lib/Either.js';
import { DATAPLANE_CHOICES, listJson, createKeyedRwLock, createKeyedSerial, imageDefault, WeftJoinOptions, WeftOptions, errors, getJson, putJson, raise, type Context } from '@weft/kernel';
import type { Engine as EngineService, NetDef, Network, NetworkCreateRequest, Ports, RemoveCheck, Sandbox, SandboxCreateRequest, TaskOptions } from '@weft/kernel';
import { HostNetwork, checkSubnets, poolFamily, type Instance } from '@weft/hostnet';
import { evalCommand } from '@weft/sys';
import type { SandboxHost } from './host.ts';
import { attempt, call, taskJoinOptions } from './calls.ts';
import { bareNsName, hex, NAME, sandboxRecord, sandboxRecords, type EngineConfig, type SandboxRecord } from './records.ts';
import { PublishedPorts } from './published.ts';
import { networkView, sandboxView } from './views.ts';

export { bareNsName, type EngineConfig } from './records.ts';

/**
 * The HTTP server that stands in for nginx/httpd (`node -e HTTP_STAND_IN PORT`, or its Deno/Bun equivalent: evalCommand): answers every
 * request with 200 and a page naming the sandbox (its /etc/hostname, which `ip netns exec` binds),
 * so a client sees which task of a service answered.
 */
export const HTTP_STAND_IN = `
const http = require('http'), fs = require('fs');
let me = 'weft'; try { me = fs.readFileSync('/etc/hostname', 'utf8').trim(); } catch {}
http.createServer((q, r) => { r.setHeader('Content-Type', 'text/html'); r.end('<!DOCTYPE html><title>Welcome to Weft</title><h1>Welcome to Weft</h1><p>Served by ' + me + ' (Weft runs no images: this stands in for nginx).</p>\\n'); }).listen(Number(process.argv[1] || 80));
`;

/** The addresses asked for on one network: IPv4 (`--ip`) and IPv6 (`--ip6`); absent: allocated. */
type Wanted = { IPAddress?: string; IPv6Address?: string };
const wanted = (n: { readonly IPAddress?: string | undefined; readonly IPv6Address?: string | undefined }): Wanted => ({
  ...(n.IPAddress !== undefined && n.IPAddress !== '' ? { IPAddress: n.IPAddress } : {}),
  ...(n.IPv6Address !== undefined && n.IPv6Address !== '' ? { IPv6Address: n.IPv6Address } : {}),
});

export class Engine implements EngineService {
  private readonly ctx: Context<EngineConfig>;
  private readonly host: SandboxHost;
  private readonly ports: Ports;
  private readonly hostnet: HostNetwork;
  /** Published ports (`-p`): forwarders and listeners. */
  private readonly published: PublishedPorts;
  private readonly removeChecks: RemoveCheck[] = [];

  constructor(ctx: Context<EngineConfig>, host: SandboxHost, ports: Ports) {
    this.ctx = ctx;
    this.host = host;
    this.ports = ports;
    this.hostnet = new HostNetwork(ctx, { ipam: ctx.config.ipam });
    this.published = new PublishedPorts(() => this.cfg, host, ports, ctx.log, (name) => this.nsName(name));
  }

  /**
   * Concurrency. Network create and remove hold `gate` exclusively; sandbox operations hold it
   * shared and run one at a time per sandbox name (`bySandbox`), so attaches of different
   * sandboxes run at once and their store writes share journal flushes. Per network, an attach
   * holds `netUse` shared while it uses this host's instance, and taking the instance down holds it
   * exclusively (after checking that no sandbox uses it); `byNet` orders changes to the instance
   * itself (instantiating it, adding an address block).
   */
  private readonly gate = createKeyedRwLock();
  private readonly bySandbox = createKeyedSerial();
  private readonly netUse = createKeyedRwLock();
  private readonly byNet = createKeyedSerial();
  /** This host's instance of each network in use: one object shared by concurrent attaches (the store holds its copy). */
  private readonly instances = new Map<string, Instance>();

  private sandboxOp<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.gate.shared('', () => this.bySandbox(name, fn));
  }
  private networkOp<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.exclusive('', fn);
  }

  private get cfg(): EngineConfig {
    return this.ctx.config;
  }
  /** The namespace a sandbox's interfaces live in: its own, or the shared one of bare endpoints. */
  private nsOf(s: { Name: string; Bare?: boolean }): string {
    return s.Bare === true ? this.nsName(bareNsName(this.cfg.node, this.cfg.logDir)) : this.nsName(s.Name);
  }
  private nsName(name: string): string {
    return `${this.cfg.nsPrefix ?? ''}${name}`;
  }
  private hasControl(): boolean {
    return this.ctx.services.has('control');
  }

  // ------------------------------------------------------------------------------------------
  // networks

  async listDefs(): Promise<NetDef[]> {
    const local: NetDef[] = [];
    for (const [, d] of await listJson<NetDef>(this.ctx.store, 'networks/')) {
      if (d !== undefined) local.push(d);
    }
    let swarm: NetDef[] = [];
    if (this.hasControl()) {
      const r = await this.ctx.invoke('control', 'Network.List', {});
      if (!isLeft(r)) swarm = (r.right as NetDef[]).map((d) => ({ ...d, Scope: 'swarm' as const }));
    }
    return [...local, ...swarm];
  }

  /** True when `netId` is programmed on this host (a local sandbox uses it). */
  async instantiated(netId: string): Promise<boolean> {
    return (await this.ctx.store.get(`instances/${netId}`)) !== undefined;
  }

  async resolve(ref: string): Promise<NetDef> {
    const all = await this.listDefs();
    const exact = all.find((d) => d.Id === ref) ?? all.find((d) => d.Name === ref);
    if (exact !== undefined) return exact;
    const prefixed = all.filter((d) => d.Id.startsWith(ref));
    if (prefixed.length === 1) return prefixed[0]!;
    if (prefixed.length > 1) raise(errors.badRequest('engine', `network "${ref}" is ambiguous (${prefixed.length} matches found based on ID prefix)`, { value: ref }));
    if (this.hasControl()) {
      // A swarm network created a moment ago may not have reached this node yet: ask (the control
      // plane asks its manager).
      const r = await this.ctx.invoke('control', 'Network.Inspect', { Network: ref });
      if (!isLeft(r)) return { ...(r.right as NetDef), Scope: 'swarm' as const };
    }
    raise(errors.notFound('engine', `network "${ref}" not found`, { value: ref, hint: 'List networks with "weft network ls".' }));
  }

  createNetwork(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    return this.networkOp(async () => {
      if (!NAME.test(req.Name)) raise(errors.badRequest('engine', `invalid network name ${JSON.stringify(req.Name)}: use letters, digits, "_", "." or "-"`, { path: 'Name', value: req.Name }));
      const driverName = req.Driver ?? 'bridge';
      const plugin = this.cfg.drivers[driverName];
      if (plugin === undefined) {
        raise(errors.notFound('engine', `plugin "${driverName}" not found: no network driver of that name is loaded (available: ${Object.keys(this.cfg.drivers).join(', ')})`, { path: 'Driver', value: driverName }));
      }
      checkDataPlane(req);
      // Before anything is created here or on the manager: a network whose subnets can never be used is refused now.
      checkSubnets('engine', req.Name, req.EnableIPv6 ?? false, req.IPAM?.Config ?? [], req.EnableIPv4 ?? true);
      const all = await this.listDefs();
      if (all.some((d) => d.Name === req.Name)) raise(errors.conflict('engine', `network with name ${req.Name} already exists`, { value: req.Name }));
      const caps = await call<{ ConnectivityScope?: string }>(this.ctx, plugin, 'NetworkDriver.GetCapabilities', {});
      if (req.Ingress === true && caps.ConnectivityScope !== 'global') {
        raise(errors.badRequest('engine', `Cannot create network "${req.Name}": an ingress network must be a swarm overlay network (-d overlay), not driver "${driverName}"`, { path: 'Driver', value: driverName }));
      }
      if (caps.ConnectivityScope === 'global') {
        if (!this.hasControl()) {
          raise(errors.forbidden('engine', 'This node is not a swarm manager. Use "weft swarm init" or "weft swarm join" to connect this node to swarm and try again.'));
        }
        const r = await call<{ Id: string }>(this.ctx, 'control', 'Network.Create', req);
        this.ctx.events.publish('engine.network', { action: 'create', id: r.Id, name: req.Name, driver: driverName, scope: 'swarm' });
        return { Id: r.Id, Warning: '' };
      }
      // local scope: allocate and create now
      const def: NetDef = {
        Id: hex(32),
        Name: req.Name,
        Driver: driverName,
        Scope: 'local',
        Options: req.Options ?? {},
        Labels: req.Labels ?? {},
        Attachable: true,
        Internal: req.Internal ?? false,
        Encrypted: false,
        EnableIPv6: req.EnableIPv6 ?? false,
        ...(req.EnableIPv4 === false ? { EnableIPv4: false } : {}),
        Subnets: (req.IPAM?.Config ?? []).map((c) => ({ Subnet: c.Subnet ?? '', Gateway: c.Gateway ?? '', ...(c.IPRange !== undefined ? { IPRange: c.IPRange } : {}), ...(c.AuxAddresses !== undefined ? { AuxiliaryAddresses: c.AuxAddresses } : {}) })),
        VNIs: [],
        Created: new Date(this.ctx.now()).toISOString(),
      };
      const inst = await this.instantiate(def);
      // record the subnets IPAM chose
      const chosen: NetDef = { ...def, Subnets: inst.pools.map((p) => ({ Subnet: p.subnet, Gateway: p.gatewayCidr.split('/')[0]! })) };
      await putJson(this.ctx.store, `networks/${def.Id}`, chosen);
      this.ctx.events.publish('engine.network', { action: 'create', id: def.Id, name: def.Name, driver: driverName, scope: 'local' });
      return { Id: def.Id, Warning: '' };
    });
  }

  /** Registers a check run before any network is removed (see RemoveCheck); returns its removal. */
  addRemoveCheck(check: RemoveCheck): () => void {
    this.removeChecks.push(check);
    return () => {
      const i = this.removeChecks.indexOf(check);
      if (i >= 0) this.removeChecks.splice(i, 1);
    };
  }

  removeNetwork(ref: string): Promise<void> {
    return this.networkOp(async () => {
      const def = await this.resolve(ref);
      for (const check of this.removeChecks) await check(def);
      const users = (await this.sandboxRecords()).filter((s) => s.Networks[def.Name] !== undefined).map((s) => s.Name);
      if (users.length > 0) raise(errors.conflict('engine', `error while removing network: network ${def.Name} id ${def.Id} has active endpoints (${users.join(', ')})`, { hint: 'Disconnect or remove those sandboxes first.' }));
      if (def.Scope === 'swarm') {
        await call(this.ctx, 'control', 'Network.Remove', { Network: def.Id });
        await this.teardown(def.Id);
      } else {
        await this.teardown(def.Id);
        await this.ctx.store.delete(`networks/${def.Id}`);
      }
      this.ctx.events.publish('engine.network', { action: 'destroy', id: def.Id, name: def.Name, driver: def.Driver, scope: def.Scope });
    });
  }

  /** Programs `def` on this host (@weft/hostnet: IPAM pools, gateways, the driver's CreateNetwork). */
  private instantiate(def: NetDef): Promise<Instance> {
    return this.byNet(def.Id, async () => {
      const existing = await this.instance(def.Id);
      if (existing !== undefined) return existing;
      const plugin = this.cfg.drivers[def.Driver];
      if (plugin === undefined) raise(errors.unavailable('engine', `network ${def.Name} uses driver "${def.Driver}", which is not loaded on this node`));
      const inst = await this.hostnet.instantiate(def, plugin);
      await putJson(this.ctx.store, `instances/${def.Id}`, inst);
      this.instances.set(def.Id, inst);
      return inst;
    });
  }

  /** This host's instance of a network, if it has one. */
  private async instance(netId: string): Promise<Instance | undefined> {
    const cached = this.instances.get(netId);
    if (cached !== undefined) return cached;
    const stored = await getJson<Instance>(this.ctx.store, `instances/${netId}`);
    // Another caller may have loaded it meanwhile: one object per network.
    if (stored !== undefined && !this.instances.has(netId)) this.instances.set(netId, stored);
    return this.instances.get(netId);
  }

  /** Removes this host's instance of a network (the driver's network, pools, blocks). */
  private async teardown(netId: string): Promise<void> {
    const inst = await this.instance(netId);
    if (inst === undefined) return;
    await this.hostnet.teardown(inst, { releaseBlocks: this.hasControl() });
    await this.ctx.store.delete(`instances/${netId}`);
    this.instances.delete(netId);
  }

  /**
   * Takes this host's instance of a swarm network down when no sandbox here uses it: exclusive on
   * the network, so no attach is using the instance meanwhile, and checked again under the lock.
   */
  private teardownIfUnused(netId: string, netName: string): Promise<void> {
    return this.netUse.exclusive(netId, async () => {
      const used = (await this.sandboxRecords()).some((s) => s.Networks[netName] !== undefined);
      if (!used) await this.teardown(netId);
    });
  }

  /** An address for a new endpoint: a specific one, or one from this node's blocks (swarm) or the pool (local). */
  private allocate(def: NetDef, inst: Instance, ip: string | undefined, family: 4 | 6 = 4): Promise<{ address: string; poolId: string }> {
    return this.hostnet.allocate(def, inst, ip, {
      blocks: def.Scope === 'swarm' && this.hasControl(),
      save: () => putJson(this.ctx.store, `instances/${def.Id}`, inst),
      family,
      grow: (fn) => this.byNet(def.Id, fn),
    });
  }

  /** Gives an address back to IPAM (and tells allocation its block has room again). */
  private release(netId: string, poolId: string, address: string): Promise<void> {
    const inst = this.instances.get(netId);
    if (inst !== undefined) this.hostnet.released(inst, poolId);
    return attempt(this.ctx, this.cfg.ipam, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: address.split('/')[0] });
  }

  // ------------------------------------------------------------------------------------------
  // sandboxes

  private sandboxRecords(): Promise<SandboxRecord[]> {
    return sandboxRecords(this.ctx.store);
  }

  private record(name: string): Promise<SandboxRecord> {
    return sandboxRecord(this.ctx.store, name);
  }

  private view(s: SandboxRecord): Sandbox {
    return sandboxView(s, this.host, this.host.netnsPath(this.nsOf(s)));
  }

  async sandboxes(): Promise<Sandbox[]> {
    return (await this.sandboxRecords()).map((s) => this.view(s));
  }

  async sandbox(name: string): Promise<Sandbox> {
    return this.view(await this.record(name));
  }

  /** `task` marks the sandbox as a service task (see TaskOptions). */
  createSandbox(req: SandboxCreateRequest, task?: TaskOptions): Promise<Sandbox> {
    return this.sandboxOp(req.Name, async () => {
      if (!NAME.test(req.Name) || req.Name.length > 40) {
        raise(errors.badRequest('engine', `Invalid sandbox name ${JSON.stringify(req.Name)}: use up to 40 letters, digits, "_", "." or "-"`, { path: 'Name', value: req.Name }));
      }
      if ((await getJson(this.ctx.store, `sandboxes/${req.Name}`)) !== undefined) {
        raise(errors.conflict('engine', `The sandbox name "${req.Name}" is already in use. Remove it first ("weft rm -f ${req.Name}") or choose another name.`, { value: req.Name }));
      }
      const seenPorts = new Set<string>();
      for (const p of req.Ports ?? []) {
        const proto = p.Protocol ?? 'tcp';
        const where = `${p.HostIP ?? '0.0.0.0'}:${p.HostPort}/${proto}`;
        if (seenPorts.has(where)) raise(errors.badRequest('engine', `port ${where} is published twice: give each host port (per protocol) once`, { value: p }));
        seenPorts.add(where);
        if (!Number.isInteger(p.HostPort) || p.HostPort < 1 || p.HostPort > 65535 || !Number.isInteger(p.ContainerPort) || p.ContainerPort < 1 || p.ContainerPort > 65535) {
          raise(errors.badRequest('engine', `invalid port mapping ${p.HostPort}:${p.ContainerPort}: ports are 1 to 65535`, { value: p }));
        }
        if (!(await this.ports.free(p.HostIP ?? '0.0.0.0', p.HostPort, proto))) {
          raise(errors.conflict('engine', `port ${where} is already in use on this host`, { value: p, hint: 'Choose another host port.' }));
        }
      }
      const bare = req.Bare === true;
      if (bare && ((req.Cmd ?? []).length > 0 || (req.Ports ?? []).length > 0 || req.Image !== undefined || req.Attached === true)) {
        raise(errors.badRequest('engine', `"${req.Name}" is a bare endpoint: it has no namespace of its own, so it cannot run a command or publish ports`, { path: 'Bare', value: req.Name, hint: 'Create a sandbox (without Bare) to run a command in it.' }));
      }
      const cmd = this.commandFor(req);
      if (bare && (req.Networks ?? []).length === 0) {
        raise(errors.badRequest('engine', `bare endpoint "${req.Name}" needs a network: it is only an address and a name on one`, { path: 'Networks', value: req.Name }));
      }
      const defs: { def: NetDef; ip: Wanted; aliases: string[] }[] = [];
      for (const n of req.Networks ?? []) defs.push({ def: await this.resolve(n.Name), ip: wanted(n), aliases: n.Aliases ?? [] });
      const ns = this.nsOf({ Name: req.Name, Bare: bare });
      if (!bare && this.host.netnsExists(ns)) raise(errors.conflict('engine', `A network namespace named "${ns}" already exists on this host; choose another sandbox name`, { value: ns }));
      const rec: SandboxRecord = {
        Name: req.Name,
        Id: hex(32),
        Hostname: req.Hostname ?? req.Name,
        Cmd: [],
        Pid: 0,
        Created: new Date(this.ctx.now()).toISOString(),
        Networks: {},
        Ports: [],
        ResolvConf: '',
        Resolver: '',
        ...(task !== undefined ? { Task: task } : {}),
        ...(bare ? { Bare: true } : {}),
        ...(req.Image !== undefined && req.Image !== '' ? { Image: req.Image } : {}),
        ...(req.OpenStdin === true ? { OpenStdin: true } : {}),
        ...(req.Attached === true ? { Attached: true } : {}),
        Wanted: (req.Networks ?? []).map((n) => ({ Name: n.Name, ...wanted(n), Aliases: n.Aliases ?? [] })),
      };
      if (!bare) this.host.createNetns(ns);
      else {
        await this.byNet(`netns:${ns}`, async () => {
          if (this.host.netnsExists(ns)) return;
          this.host.createNetns(ns);
          this.host.prepareBareNetns?.(ns);
        });
      }
      try {
        await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
        this.ctx.events.publish('engine.sandbox', { action: 'create', id: rec.Id, name: rec.Name });
        // Each attach records the sandbox with its new network before it lets go of the network.
        for (const d of defs) await this.attach(rec, d.def, d.ip, d.aliases);
        if (rec.Bare !== true) {
          this.writeFiles(rec);
          await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
        }
        if ((req.Ports ?? []).length > 0) {
          rec.Ports = [...(req.Ports ?? [])];
          this.startPorts(rec);
          await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
        }
        if (cmd.length > 0) {
          rec.Cmd = cmd;
          if (rec.Attached === true) rec.StartedAt = new Date(this.ctx.now()).toISOString();
          else this.startCommand(rec, ns);
          await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
        }
      } catch (e) {
        await this.destroy(rec);
        throw e;
      }
      return this.view(rec);
    });
  }

  removeSandbox(name: string, force: boolean): Promise<void> {
    return this.sandboxOp(name, async () => {
      const rec = await this.record(name);
      if ((rec.Pid > 0 && this.host.alive(rec.Pid)) || (rec.Attached === true && rec.Stopped !== true)) {
        if (!force) raise(errors.conflict('engine', `You cannot remove a running sandbox ${name}. Stop it first or use "weft rm -f ${name}".`, { value: name }));
      }
      await this.destroy(rec);
    });
  }

  /** The command a sandbox runs: the one given, else its image's default (Weft runs no images). */
  private commandFor(req: SandboxCreateRequest): string[] {
    if ((req.Cmd ?? []).length > 0) return [...(req.Cmd ?? [])];
    if (req.Image === undefined || req.Image === '') return [];
    const d = imageDefault(req.Image);
    if (d === undefined) {
      raise(errors.badRequest('engine', `image "${req.Image}" has no command Weft knows: Weft runs no images, only a command on the host in the sandbox`, {
        path: 'Image',
        value: req.Image,
        hint: `Give the command after the image ("weft run ... ${req.Image} CMD [ARG...]"); without one, alpine, busybox, ubuntu and debian run /bin/sh, nginx and httpd an HTTP server on port 80.`,
      }));
    }
    return d.kind === 'shell' ? ['/bin/sh'] : evalCommand(HTTP_STAND_IN, [String(d.port)]);
  }

  /** Starts a sandbox's command (detached); its exit is recorded while this agent runs. */
  private startCommand(rec: SandboxRecord, ns: string): void {
    const fifo = rec.OpenStdin === true ? path.join(this.cfg.logDir, `${rec.Name}.stdin`) : undefined;
    const started = new Date(this.ctx.now()).toISOString();
    rec.Pid = this.host.spawn(ns, rec.Cmd, path.join(this.cfg.logDir, `${rec.Name}.log`), {
      ...(fifo !== undefined ? { stdinFifo: fifo } : {}),
      onExit: (code) => void this.exited(rec.Name, rec.Id, started, code),
    });
    rec.StartedAt = started;
    delete rec.ExitCode;
    delete rec.FinishedAt;
  }

  /** Records the exit status of a command this agent started (unless the sandbox moved on since). */
  private exited(name: string, id: string, started: string, code: number): Promise<void> {
    return this.sandboxOp(name, async () => {
      const rec = await getJson<SandboxRecord>(this.ctx.store, `sandboxes/${name}`);
      if (rec === undefined || rec.Id !== id || rec.StartedAt !== started) return;
      rec.ExitCode = code;
      rec.FinishedAt = new Date(this.ctx.now()).toISOString();
      await putJson(this.ctx.store, `sandboxes/${name}`, rec);
    }).catch((e) => this.ctx.log.warn('engine: could not record an exit status', { sandbox: name, error: String((e as Error)?.message ?? e) }));
  }

  stopSandbox(name: string, opts: { readonly exitCode?: number; readonly timeoutMs?: number } = {}): Promise<void> {
    return this.sandboxOp(name, async () => {
      const rec = await this.record(name);
      if (rec.Bare === true) raise(errors.badRequest('engine', `"${name}" is a bare endpoint: it has no command to stop; remove it with "weft rm ${name}"`, { value: name }));
      if (rec.Stopped === true) return;
      await this.halt(rec, opts.timeoutMs ?? 10_000);
      for (const n of Object.keys(rec.Networks)) await this.detach(rec, n, true);
      rec.Stopped = true;
      if (opts.exitCode !== undefined) rec.ExitCode = opts.exitCode;
      else if (rec.ExitCode === undefined && rec.Cmd.length > 0) rec.ExitCode = 137;
      rec.FinishedAt = new Date(this.ctx.now()).toISOString();
      rec.Pid = 0;
      await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
    });
  }

  startSandbox(name: string): Promise<Sandbox> {
    return this.sandboxOp(name, async () => {
      const rec = await this.record(name);
      if (rec.Stopped !== true) {
        if (rec.Pid > 0 && this.host.alive(rec.Pid)) return this.view(rec);
        if (rec.Cmd.length === 0 || rec.Attached === true) return this.view(rec);
      }
      const ns = this.nsOf(rec);
      try {
        for (const w of rec.Wanted ?? []) {
          if (rec.Networks[w.Name] !== undefined) continue;
          const def = await this.resolve(w.Name);
          if (rec.Networks[def.Name] === undefined) await this.attach(rec, def, wanted(w), [...w.Aliases]);
        }
        this.writeFiles(rec);
        delete rec.Stopped;
        if (rec.Ports.length > 0) this.startPorts(rec);
        // An attached command belonged to its terminal: started again, the agent runs it (Docker's `start` of an -it container, detached).
        if (rec.Cmd.length > 0) {
          delete rec.Attached;
          if (rec.Cmd.length === 1 && rec.Cmd[0] === '/bin/sh') rec.OpenStdin = true;
          this.startCommand(rec, ns);
        }
        await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
      } catch (e) {
        for (const n of Object.keys(rec.Networks)) await this.detach(rec, n, true);
        rec.Stopped = true;
        await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
        throw e;
      }
      return this.view(rec);
    });
  }

  /** Ends a sandbox's command (SIGTERM, SIGKILL after `timeoutMs`) and its published ports. */
  private async halt(rec: SandboxRecord, timeoutMs: number): Promise<void> {
    if (rec.Ports.length > 0 || rec.PortsPid !== undefined) this.published.stop(rec);
    if (rec.Pid > 0 && this.host.alive(rec.Pid)) {
      this.host.kill(rec.Pid, 'SIGTERM');
      for (let i = 0; i < timeoutMs / 50 && this.host.alive(rec.Pid); i++) await new Promise((r) => setTimeout(r, 50));
      if (this.host.alive(rec.Pid)) this.host.kill(rec.Pid, 'SIGKILL');
    }
  }

  private startPorts(rec: SandboxRecord): void {
    this.published.start(rec);
  }

  /** After an agent restart: listen again for the published ports of the sandboxes kept. */
  async restorePorts(): Promise<void> {
    this.published.restore(await this.sandboxRecords());
  }

  /** Closes this host's listeners (the agent stops; sandboxes and forwarders stay). */
  closePorts(): void {
    this.published.close();
  }

  private async destroy(rec: SandboxRecord): Promise<void> {
    await this.halt(rec, 1000);
    for (const name of Object.keys(rec.Networks)) await this.detach(rec, name, true);
    if (rec.OpenStdin === true) fs.rmSync(path.join(this.cfg.logDir, `${rec.Name}.stdin`), { force: true });
    if (rec.Bare !== true) {
      this.host.removeFiles(this.nsName(rec.Name));
      this.host.deleteNetns(this.nsName(rec.Name));
    }
    await this.ctx.store.delete(`sandboxes/${rec.Name}`);
    this.ctx.events.publish('engine.sandbox', { action: 'destroy', id: rec.Id, name: rec.Name });
  }

  /** `ip`: the IPv4 address asked for (`--ip`); `ip6`: the IPv6 one (`--ip6`). */
  connect(ref: string, sandbox: string, ip: string | undefined, aliases: readonly string[], ip6?: string): Promise<void> {
    return this.sandboxOp(sandbox, async () => {
      const rec = await this.record(sandbox);
      const def = await this.resolve(ref);
      if (rec.Stopped === true) raise(errors.conflict('engine', `sandbox "${sandbox}" is stopped: start it first ("weft start ${sandbox}")`, { value: sandbox }));
      const want = wanted({ IPAddress: ip, IPv6Address: ip6 });
      await this.attach(rec, def, want, [...aliases]);
      rec.Wanted = [...(rec.Wanted ?? []).filter((w) => w.Name !== def.Name && w.Name !== def.Id), { Name: def.Name, ...want, Aliases: [...aliases] }];
      this.writeFiles(rec);
      await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
    });
  }

  disconnect(ref: string, sandbox: string, force: boolean): Promise<void> {
    return this.sandboxOp(sandbox, async () => {
      const rec = await this.record(sandbox);
      const def = await this.resolve(ref);
      if (rec.Networks[def.Name] === undefined) raise(errors.notFound('engine', `sandbox "${sandbox}" is not connected to network "${def.Name}"`));
      await this.detach(rec, def.Name, force);
      rec.Wanted = (rec.Wanted ?? []).filter((w) => w.Name !== def.Name && w.Name !== def.Id);
      this.writeFiles(rec);
      await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
    });
  }

  private async attach(rec: SandboxRecord, def: NetDef, ip: Wanted, aliases: string[]): Promise<void> {
    const t0 = performance.now();
    if (rec.Networks[def.Name] !== undefined) raise(errors.conflict('engine', `endpoint with name ${rec.Name} already exists in network ${def.Name}`));
    if (def.Ingress === true && rec.Task === undefined) {
      // Docker: the ingress network is never manually attachable; service tasks with published ports join it.
      raise(errors.forbidden('engine', `Could not attach to network ${def.Name}: network ${def.Name} is the swarm's ingress network (routing mesh) and is not manually attachable; only tasks of services with published ports join it`, {
        value: def.Name,
        hint: 'Publish the port on a service instead ("weft service create --publish published=P,target=T"), or use another network.',
      }));
    }
    if (def.Scope === 'swarm') {
      if (!def.Attachable && rec.Task === undefined) raise(errors.forbidden('engine', `Could not attach to network ${def.Name}: network ${def.Name} is not manually attachable`, { hint: 'Create it with --attachable.' }));
      await call(this.ctx, 'control', 'Network.Attach', { Network: def.Id, Sandbox: rec.Name });
    }
    const undo: (() => Promise<unknown>)[] = [];
    if (def.Scope === 'swarm') undo.push(() => attempt(this.ctx, 'control', 'Network.Detach', { Network: def.Id, Sandbox: rec.Name }));
    try {
      await this.netUse.shared(def.Id, async () => {
        try {
          const inst = await this.instantiate(def);
          const has = (f: 4 | 6) => inst.pools.some((p) => poolFamily(p) === f);
          // Docker: a static address needs a subnet of its family on the network.
          if (ip.IPAddress !== undefined && !has(4)) {
            raise(errors.badRequest('engine', `network ${def.Name} is IPv6-only: it has no IPv4 subnet for address ${ip.IPAddress} (--ip)`, { path: 'IPAddress', value: ip.IPAddress, hint: `Give an IPv6 address with --ip6, in ${inst.pools.map((p) => p.subnet).join(', ')}.` }));
          }
          if (ip.IPv6Address !== undefined && !has(6)) {
            raise(errors.badRequest('engine', `network ${def.Name} has no IPv6 subnet for address ${ip.IPv6Address} (--ip6)`, { path: 'IPv6Address', value: ip.IPv6Address, hint: 'Use a network created with --ipv6, or drop --ip6.' }));
          }
          // An IPv4 address unless the network is IPv6-only, and with IPv6 an IPv6 one too, each
          // from this node's blocks of the network's subnet of that family.
          const v4 = has(4) ? await this.allocate(def, inst, ip.IPAddress, 4) : undefined;
          if (v4 !== undefined) undo.push(() => this.release(def.Id, v4.poolId, v4.address));
          const v6 = has(6) ? await this.allocate(def, inst, ip.IPv6Address, 6) : undefined;
          if (v6 !== undefined) undo.push(() => this.release(def.Id, v6.poolId, v6.address));
          const address = v4?.address ?? '';
          const eid = hex(32);
          const ce = await call<{ Interface?: { MacAddress?: string } }>(this.ctx, inst.driver, 'NetworkDriver.CreateEndpoint', {
            NetworkID: def.Id,
            EndpointID: eid,
            Interface: { Address: address, AddressIPv6: v6?.address ?? '', MacAddress: '' },
            Options: {},
          });
          undo.push(() => attempt(this.ctx, inst.driver, 'NetworkDriver.DeleteEndpoint', { NetworkID: def.Id, EndpointID: eid }));
          // Bare endpoints share one namespace: their interface names must differ there.
          const ifname = rec.Bare === true ? `wb${rec.Id.slice(0, 10)}${Object.keys(rec.Networks).length}` : `eth${Object.keys(rec.Networks).length}`;
          await call(this.ctx, inst.driver, 'NetworkDriver.Join', {
            NetworkID: def.Id,
            EndpointID: eid,
            SandboxKey: this.host.netnsPath(this.nsOf(rec)),
            Options: { [WeftJoinOptions.moveIntoSandbox]: true, [WeftJoinOptions.dstName]: ifname, ...(rec.Bare === true ? { [WeftJoinOptions.sharedNetns]: true } : {}), [WeftJoinOptions.name]: rec.Name, [WeftJoinOptions.aliases]: aliases, ...taskJoinOptions(rec.Task, def.Id) },
          });
          rec.Networks[def.Name] = { NetworkID: def.Id, NetworkName: def.Name, EndpointID: eid, IPAddress: address, PoolID: v4?.poolId ?? '', ...(v6 !== undefined ? { IPv6Address: v6.address, PoolID6: v6.poolId } : {}), MacAddress: ce.Interface?.MacAddress ?? '', Aliases: aliases, Ifname: ifname };
          // The embedded DNS answers on the first network's IPv4 gateway, or its IPv6 one on an IPv6-only network.
          const resolverPool = inst.pools.find((p) => poolFamily(p) === 4) ?? inst.pools[0];
          if (rec.Resolver === '' && resolverPool !== undefined) rec.Resolver = resolverPool.gatewayCidr.split('/')[0]!;
          // Recorded before the network is let go: a teardown that follows sees this sandbox use it.
          await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
          this.ctx.events.publish('engine.attach', { action: 'attach', sandbox: rec.Name, network: def.Id, networkName: def.Name, endpoint: eid, address: address !== '' ? address : v6?.address ?? '', durationMs: performance.now() - t0 });
        } catch (e) {
          if (rec.Networks[def.Name]?.NetworkID === def.Id) delete rec.Networks[def.Name];
          for (const u of undo.reverse()) await u();
          throw e;
        }
      });
    } catch (e) {
      if (def.Scope === 'swarm' && Object.keys(rec.Networks).length === 0) await this.teardownIfUnused(def.Id, def.Name);
      throw e;
    }
  }

  private async detach(rec: SandboxRecord, netName: string, force: boolean): Promise<void> {
    const a = rec.Networks[netName];
    if (a === undefined) return;
    const t0 = performance.now();
    const inst = await this.instance(a.NetworkID);
    const driver = inst?.driver ?? this.cfg.drivers.overlay ?? 'overlay';
    const step = async (m: string, input: unknown) => (force ? attempt(this.ctx, driver, m, input) : call(this.ctx, driver, m, input));
    await step('NetworkDriver.Leave', { NetworkID: a.NetworkID, EndpointID: a.EndpointID });
    await step('NetworkDriver.DeleteEndpoint', { NetworkID: a.NetworkID, EndpointID: a.EndpointID });
    if (a.IPAddress !== '') await this.release(a.NetworkID, a.PoolID, a.IPAddress);
    if (a.IPv6Address !== undefined && a.PoolID6 !== undefined) await this.release(a.NetworkID, a.PoolID6, a.IPv6Address);
    delete rec.Networks[netName];
    await putJson(this.ctx.store, `sandboxes/${rec.Name}`, rec);
    const def = await this.resolve(a.NetworkID).catch(() => undefined);
    if (def?.Scope === 'swarm') {
      await attempt(this.ctx, 'control', 'Network.Detach', { Network: a.NetworkID, Sandbox: rec.Name });
      await this.teardownIfUnused(a.NetworkID, netName);
    }
    this.ctx.events.publish('engine.attach', { action: 'detach', sandbox: rec.Name, network: a.NetworkID, networkName: netName, endpoint: a.EndpointID, address: a.IPAddress !== '' ? a.IPAddress : a.IPv6Address ?? '', durationMs: performance.now() - t0 });
  }

  private writeFiles(rec: SandboxRecord): void {
    if (rec.Bare === true) return; // no namespace of its own, so no /etc/netns files
    const resolver = rec.Resolver !== '' ? rec.Resolver : '127.0.0.1';
    const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...Object.values(rec.Networks).flatMap((a) => [...(a.IPAddress !== '' ? [a.IPAddress] : []), ...(a.IPv6Address !== undefined ? [a.IPv6Address] : [])].map((ip) => `${ip.split('/')[0]}\t${rec.Hostname}`))].join('\n');
    rec.ResolvConf = this.host.writeFiles(this.nsName(rec.Name), {
      // The embedded resolver answers on the network's gateway address (the switch intercepts it).
      resolvConf: `# written by weft-agent: the embedded DNS of this sandbox's first network\nnameserver ${resolver}\noptions ndots:0\n`,
      hostname: rec.Hostname,
      hosts: `${hosts}\n`,
    });
  }

  // ------------------------------------------------------------------------------------------
  // views for the API

  async networkView(def: NetDef): Promise<Network> {
    return networkView(this.ctx, def, await this.sandboxRecords());
  }
}

/**
 * `--opt weft.dataplane=`: one of auto, kernel, userspace, and never kernel for an encrypted
 * network (the kernel path carries VXLAN in plaintext). Checked when the network is made, so the
 * user hears it from `network create`, not from the first sandbox on each host.
 */
function checkDataPlane(req: NetworkCreateRequest): void {
  const v = req.Options?.[WeftOptions.dataplane];
  if (v === undefined || v === '') return;
  const path = `Options["${WeftOptions.dataplane}"]`;
  if (!(DATAPLANE_CHOICES as readonly string[]).includes(v)) {
    raise(errors.badRequest('engine', `Cannot create network "${req.Name}": data plane ${JSON.stringify(v)} is not one of ${DATAPLANE_CHOICES.join(', ')}`, { path, value: v }));
  }
  if (v === 'kernel' && req.Options !== undefined && 'encrypted' in req.Options) {
    raise(errors.badRequest('engine', `Cannot create network "${req.Name}": an encrypted network cannot use the kernel data plane, which carries VXLAN in plaintext; Weft never sends an encrypted network in clear`, {
      path, value: v, hint: 'use --opt weft.dataplane=auto (the default) or userspace for encrypted networks',
    }));
  }
}

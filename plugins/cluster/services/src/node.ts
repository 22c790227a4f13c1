/**
 * The node side (every node): makes the tasks assigned to this node so through the `engine`
 * service, reports their state, runs the routing mesh for published ports (ingress.ts) and
 * programs VIP load balancing in local sandboxes (balancer.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { getJson, putJson, WeftException, type ContainerSandbox, type Context } from '@weft/kernel';
import { CLUSTER_NETWORK, decodeJson, encodeJson, Retained, STATUS_TABLE, TASKS_TABLE, TaskAssignment, TaskStatus, VipEntry, VIPS_TABLE } from './records.ts';
import { createIngress, INGRESS_TABLE, IngressEntry, type Ingress } from './ingress.ts';
import { createBalancer, linuxNetfilter, type BalancedSandbox } from './balancer.ts';
import { ORPHAN_GRACE_MS } from './config.ts';
import { LOCAL_KEY, type Shared } from './common.ts';

export interface NodeSide {
  /** One node pass; passes run one at a time. */
  pass(): Promise<void>;
  /** Closes the routing mesh's listeners (the agent stops; helpers stay until the next start). */
  close(): Promise<void>;
}

export function createNodeSide(s: Shared): NodeSide {
  const { ctx, opts, engine, ports, tables, newId, nodeName, now } = s;
  let ingress: Ingress | undefined;
  const balancer = createBalancer(tables, opts.netfilter ?? linuxNetfilter(), ctx.log, () => ctx.now());
  const mesh = (): Ingress =>
    (ingress ??= createIngress(ctx as Context<unknown>, engine, ports, tables, ctx.config.runDir ?? path.join(os.tmpdir(), `weft-mesh-${nodeName()}`), newId, ctx.config.publishHost ?? '0.0.0.0', opts.onPublishError));

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
    /** This node's assignments; with `first`, stops at the first one (enough for the idle check). */
    const assignedHere = (first = false): Map<string, TaskAssignment> => {
      const out = new Map<string, TaskAssignment>();
      for (const e of tb.entries(CLUSTER_NETWORK, TASKS_TABLE)) {
        const a = decodeJson(TaskAssignment, e.value);
        if (a !== undefined && a.node === self && a.id === e.key) {
          out.set(a.id, a);
          if (first) break;
        }
      }
      return out;
    };
    const local = (await getJson<Record<string, string>>(ctx.store, LOCAL_KEY)) ?? {};
    const grace = ctx.config.orphanGraceMs ?? ORPHAN_GRACE_MS;
    const published = meshEntries.view(tb, ctx.now(), grace);
    const vips = vipEntries.view(tb, ctx.now(), grace);
    // Nothing assigned, nothing running, nothing published: skip reading every sandbox each second.
    if (assignedHere(true).size === 0 && Object.keys(local).length === 0 && published.size === 0 && ingress === undefined && balancer.idle(vips)) {
      for (const e of tb.entries(CLUSTER_NETWORK, STATUS_TABLE)) if (e.owner === self) tb.delete(CLUSTER_NETWORK, STATUS_TABLE, e.key);
      return;
    }
    const sandboxes = new Map((await engine().sandboxes()).map((s) => [s.Name, s]));
    // The assignments read after the list, at one moment with no await in between: they and the
    // entries of the local tasks must come from the same view. (An assignment that arrived while
    // the sandboxes were listed, e.g. the leader republishing after its restart, was once taken
    // for a task moved elsewhere: the node removed its task and made it again.)
    const desired = assignedHere();
    const entries = new Map(Object.keys(local).map((id) => [id, tb.get(CLUSTER_NETWORK, TASKS_TABLE, id)]));
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
        const entry = entries.get(id);
        if (entry === undefined) {
          const since = missingSince.get(id) ?? ctx.now();
          missingSince.set(id, since);
          if (ctx.now() - since < grace) continue;
          ctx.log.info('services: removing a task no manager has assigned for a while', { task: name });
        } else {
          const moved = entry.deleted ? undefined : decodeJson(TaskAssignment, entry.value);
          ctx.log.info(entry.deleted ? 'services: removing a task the manager deleted' : 'services: removing a task assigned elsewhere', { task: name, by: entry.owner, ...(moved !== undefined ? { assignedTo: moved.node } : {}) });
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
      if (sandboxes.has(a.name)) {
        ctx.log.info('services: removing a sandbox left over from an interrupted task start', { task: a.name });
        await removeSandbox(a.name);
      }
      try {
        const sb = await engine().createSandbox(
          {
            Name: a.name,
            Networks: a.networks.map((n) => ({ Name: n.id, Aliases: n.aliases })),
            ...(a.cmd.length > 0 ? { Cmd: a.cmd } : {}),
            ...(a.image !== undefined ? { Image: a.image } : {}),
            Hostname: a.name,
            ...(a.ports !== undefined ? { Ports: a.ports.map((p) => ({ HostIP: ctx.config.publishHost ?? '0.0.0.0', HostPort: p.published, ContainerPort: p.target, Protocol: p.protocol })) } : {}),
          },
          { service: a.service, slot: a.slot, endpointMode: a.endpointMode, ...(a.vips !== undefined ? { vips: a.vips } : {}), ...(a.vips6 !== undefined ? { vips6: a.vips6 } : {}) },
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
    // Docker containers on Weft networks too (contract `containers`), as Docker programs IPVS in each container.
    if (!balancer.idle(vips)) await balancer.reconcile([...(await engine().sandboxes()), ...(await containerSandboxes())], vips);
  }

  async function containerSandboxes(): Promise<BalancedSandbox[]> {
    if (!ctx.services.has('containers')) return [];
    const list = await ctx.services.get('containers').list().catch((): readonly ContainerSandbox[] => []);
    return list.map((c) => ({ Id: `container:${c.id}`, Name: c.name, NetnsPath: c.netnsPath, Networks: Object.fromEntries(c.networks.map((n) => [n, { NetworkID: n }])) }));
  }

  return {
    pass: nodePass,
    async close() {
      await ingress?.close();
    },
  };
}

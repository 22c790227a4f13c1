/**
 * The manager's reconciliation, as a pure function: given services, the ready nodes and what the
 * nodes report, decide which tasks run where. Spread placement as in swarmkit: a new task goes to
 * the ready node running the fewest tasks of its service, then the fewest tasks overall, then by
 * name. No I/O here, so it is tested without a cluster.
 */
import { attachedNetworks, publishedPorts, type ServiceRecord, type TaskRecord, type TaskStatus } from './records.ts';

export interface PlanInput {
  readonly services: readonly ServiceRecord[];
  readonly readyNodes: readonly string[];
  /** Reported status by task ID. */
  readonly status: ReadonlyMap<string, TaskStatus>;
  readonly now: string;
  readonly newId: () => string;
}

/** How many shut-down tasks a slot keeps for `service ps` (Docker keeps 5 by default). */
export const HISTORY_PER_SLOT = 3;

export function specKey(s: ServiceRecord): string {
  // The VIPs are part of it: a task carries its service's VIP in its endpoint records from the start.
  // So is the ingress network (a service that starts publishing ports gets tasks attached to it).
  // Host-mode ports too (only when there are any, so other services' keys stay as they were).
  const hp = publishedPorts(s.Spec, 'host');
  return JSON.stringify([s.Spec.TaskTemplate.ContainerSpec.Command, attachedNetworks(s).map((n) => [n.Id, [...n.Aliases].sort(), ...(s.Vips?.[n.Id] !== undefined || s.Vips6?.[n.Id] !== undefined ? [s.Vips?.[n.Id]] : []), ...(s.Vips6?.[n.Id] !== undefined ? [s.Vips6[n.Id]] : [])]), s.Spec.EndpointSpec?.Mode ?? 'vip', ...(hp.length > 0 ? [hp] : []), ...(s.Spec.TaskTemplate.ContainerSpec.Image !== undefined ? [{ image: s.Spec.TaskTemplate.ContainerSpec.Image }] : [])]);
}

/** Task name as Docker builds it: `SERVICE.SLOT.ID` (the sandbox name; at most 40 characters). */
export function taskName(service: string, slot: number, id: string): string {
  return `${service}.${slot}.${id}`.slice(0, 40);
}

/** Updates `services` in place; returns true when anything changed. */
export function plan(input: PlanInput): boolean {
  const ready = new Set(input.readyNodes);
  let changed = false;
  const load = new Map<string, number>();
  for (const n of input.readyNodes) load.set(n, 0);
  for (const s of input.services) for (const t of s.Tasks) if (t.DesiredState === 'running' && load.has(t.Node)) load.set(t.Node, (load.get(t.Node) ?? 0) + 1);
  // Ports published in mode host are taken on the node itself: at most one task using a given
  // port runs on a node (Docker: one task per node); a task with nowhere to go stays pending.
  const portsOf = new Map(input.services.map((s) => [s, publishedPorts(s.Spec, 'host').map((p) => `${p.published}/${p.protocol}`)]));
  const hostUsed = new Map<string, Set<string>>();
  const take = (node: string, ports: readonly string[], on: boolean) => {
    let set = hostUsed.get(node);
    if (set === undefined) hostUsed.set(node, (set = new Set()));
    for (const p of ports) if (on) set.add(p);
    else set.delete(p);
  };
  const shutdown = (t: TaskRecord, state: string, err?: string, ports: readonly string[] = []) => {
    take(t.Node, ports, false);
    t.DesiredState = 'shutdown';
    t.State = state;
    if (err !== undefined) t.Err = err;
    t.Timestamp = input.now;
    if (load.has(t.Node)) load.set(t.Node, Math.max(0, (load.get(t.Node) ?? 1) - 1));
    changed = true;
  };
  const keys = new Map(input.services.map((s) => [s, specKey(s)]));
  for (const s of input.services) for (const t of s.Tasks) if (t.DesiredState === 'running' && t.SpecKey === keys.get(s)) take(t.Node, portsOf.get(s) ?? [], true);
  for (const s of input.services) {
    const key = keys.get(s)!;
    const want = s.Spec.Mode.Replicated.Replicas;
    const ports = portsOf.get(s) ?? [];
    for (const t of s.Tasks) {
      if (t.DesiredState !== 'running') continue;
      const st = input.status.get(t.ID);
      const mine = t.SpecKey === key ? ports : [];
      if (!ready.has(t.Node)) shutdown(t, 'orphaned', `node ${t.Node} is not ready`, mine);
      else if (st?.state === 'failed' || st?.state === 'rejected') shutdown(t, st.state, st.err ?? `task ${st.state}`, mine);
      else if (t.Slot > want) shutdown(t, 'shutdown', undefined, mine);
      else if (t.SpecKey !== key) shutdown(t, 'shutdown', undefined);
      else if (st !== undefined && (st.state !== t.State || JSON.stringify(st.addresses ?? {}) !== JSON.stringify(t.Addresses ?? {}))) {
        t.State = st.state;
        t.Timestamp = st.ts;
        if (st.addresses !== undefined) t.Addresses = st.addresses;
        changed = true;
      }
    }
    for (let slot = 1; slot <= want; slot++) {
      if (s.Tasks.some((t) => t.Slot === slot && t.DesiredState === 'running')) continue;
      const free = ports.length === 0 ? input.readyNodes : input.readyNodes.filter((n) => !ports.some((p) => hostUsed.get(n)?.has(p)));
      const node = pick(s, free, load);
      if (node === undefined) continue; // no ready node (or none with the host ports free): the slot waits (Docker: "pending")
      take(node, ports, true);
      const id = input.newId();
      s.Tasks.push({ ID: id, Slot: slot, Node: node, Name: taskName(s.Spec.Name, slot, id), DesiredState: 'running', State: 'assigned', Timestamp: input.now, SpecKey: key });
      load.set(node, (load.get(node) ?? 0) + 1);
      changed = true;
    }
    // Keep a short history per slot; drop the history of slots above the replica count.
    const kept: TaskRecord[] = [];
    const bySlot = new Map<number, TaskRecord[]>();
    for (const t of s.Tasks) {
      if (t.DesiredState === 'running') kept.push(t);
      else bySlot.set(t.Slot, [...(bySlot.get(t.Slot) ?? []), t]);
    }
    for (const [slot, old] of bySlot) if (slot <= want) kept.push(...old.slice(-HISTORY_PER_SLOT));
    if (kept.length !== s.Tasks.length) changed = true;
    s.Tasks = kept;
  }
  return changed;
}

function pick(s: ServiceRecord, nodes: readonly string[], load: ReadonlyMap<string, number>): string | undefined {
  const mine = new Map<string, number>();
  for (const t of s.Tasks) if (t.DesiredState === 'running') mine.set(t.Node, (mine.get(t.Node) ?? 0) + 1);
  return [...nodes].sort((a, b) => (mine.get(a) ?? 0) - (mine.get(b) ?? 0) || (load.get(a) ?? 0) - (load.get(b) ?? 0) || a.localeCompare(b))[0];
}

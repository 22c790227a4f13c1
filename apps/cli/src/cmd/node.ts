/** `weft node ls|inspect|rm|promote|demote`. */
import type { Node } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { client } from '../agent.ts';
import { args, bool } from '../flags.ts';
import { UserError } from '../spec.ts';
import { labelMatch, printInspect, printList, type ListSpec } from '../listing.ts';
import { capital } from '../format.ts';
import { eachName } from '../util.ts';

/** The node's swarm role; gossip members outside the swarm have none. */
const roleOf = (n: Node): 'manager' | 'worker' | undefined => n.Role ?? (n.ManagerStatus !== '' ? 'manager' : n.Weft && n.Availability !== '' ? 'worker' : undefined);

/** `weft node ls`: Docker's node context (ID, Self, Hostname, Status, Availability, ManagerStatus, EngineVersion, TLSStatus), plus Platform. */
export const nodeSpec: ListSpec<Node> = {
  columns: [
    { field: 'ID', header: 'ID', get: (n) => n.ID },
    { field: 'Self', header: '', get: (n) => n.Self },
    { field: 'Hostname', header: 'HOSTNAME', get: (n) => n.Name },
    { field: 'Status', header: 'STATUS', get: (n) => capital(n.Status) },
    { field: 'Availability', header: 'AVAILABILITY', get: (n) => capital(n.Availability) },
    { field: 'ManagerStatus', header: 'MANAGER STATUS', get: (n) => n.ManagerStatus },
    { field: 'EngineVersion', header: 'ENGINE VERSION', get: (n) => n.Tags['version'] ?? '' },
    { field: 'TLSStatus', header: 'TLS STATUS', get: () => '' },
    { field: 'Platform', header: 'PLATFORM', get: (n) => (n.Weft ? `${n.Platform.OS}/${n.Platform.Arch}` : n.Platform.OS === '' ? 'foreign' : `${n.Platform.OS}/${n.Platform.Arch}`) },
    { field: 'Role', header: 'ROLE', get: (n) => roleOf(n) ?? '' },
    { field: 'Addr', header: 'ADDRESS', get: (n) => n.Addr },
  ],
  table: 'table {{.ID}}{{if .Self}} *{{end}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.Platform}}',
  quiet: (n) => n.ID,
  filters: {
    id: (n, v) => n.ID.startsWith(v),
    name: (n, v) => n.Name.includes(v),
    label: (n, v) => labelMatch(n.Tags, v),
    'node.label': (n, v) => labelMatch(n.Tags, v),
    membership: (n, v) => {
      if (v !== 'accepted' && v !== 'pending') throw new UserError(`invalid filter 'membership=${v}': use accepted or pending`);
      return v === 'accepted' && roleOf(n) !== undefined;
    },
    role: (n, v) => {
      if (v !== 'manager' && v !== 'worker') throw new UserError(`invalid filter 'role=${v}': use manager or worker`);
      return roleOf(n) === v;
    },
  },
  order: (a, b) => a.Name.localeCompare(b.Name),
};

export async function ls(p: Parsed, io: Io): Promise<number> {
  const nodes = await (await client(p, io)).nodes();
  return printList(p, io, nodeSpec, nodes);
}

export async function inspect(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const found: Node[] = [];
  const rc = await eachName(args(p, 'NODE'), io.err, async (n) => {
    found.push(await c.node(n));
  });
  return printInspect(p, io, found, rc);
}

export async function rm(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NODE'), io.err, async (n) => {
    await c.nodeRemove(n, bool(p, 'force'));
    io.out(`${n}\n`);
  });
}

/** Docker's words: "Node X promoted to a manager in the swarm." */
export async function promote(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NODE'), io.err, async (n) => {
    await c.nodePromote(n);
    io.out(`Node ${n} promoted to a manager in the swarm.\n`);
  });
}

export async function demote(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NODE'), io.err, async (n) => {
    await c.nodeDemote(n);
    io.out(`Manager ${n} demoted in the swarm.\n`);
  });
}

/** `weft node ls|inspect|rm|promote|demote`. */
import type { Node } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { client } from '../agent.ts';
import { args, bool, format } from '../flags.ts';
import { capital, inspectJson, json, table } from '../format.ts';
import { eachName } from '../util.ts';

export function nodeTable(nodes: readonly Node[]): string {
  const sorted = [...nodes].sort((a, b) => a.Name.localeCompare(b.Name));
  return table(
    ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'PLATFORM'],
    sorted.map((n) => [
      `${n.ID}${n.Self ? ' *' : ''}`,
      n.Name,
      capital(n.Status),
      capital(n.Availability),
      n.ManagerStatus,
      n.Weft ? `${n.Platform.OS}/${n.Platform.Arch}` : `${n.Platform.OS === '' ? 'foreign' : `${n.Platform.OS}/${n.Platform.Arch}`}`,
    ]),
  );
}

export async function ls(p: Parsed, io: Io): Promise<number> {
  const nodes = await (await client(p, io)).nodes();
  if (bool(p, 'quiet')) io.out(nodes.map((n) => `${n.ID}\n`).join(''));
  else if (format(p) === 'json') io.out(json(nodes));
  else io.out(nodeTable(nodes));
  return 0;
}

export async function inspect(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const found: Node[] = [];
  const rc = await eachName(args(p, 'NODE'), io.err, async (n) => {
    found.push(await c.node(n));
  });
  if (found.length > 0 || rc === 0) io.out(inspectJson(found));
  return rc;
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

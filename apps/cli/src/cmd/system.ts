/** `weft version`, `weft info`. */
import type { Info, Node, Version } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { client } from '../agent.ts';
import { format } from '../flags.ts';
import { capital, json } from '../format.ts';
import { CLI_API_VERSION, CLI_VERSION, clientRuntime } from '../version.ts';

const block = (title: string, rows: readonly (readonly [string, string])[]) => {
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `${title}:\n${rows.map(([k, v]) => ` ${`${k}:`.padEnd(w)}${v}`).join('\n')}\n`;
};

/** Prints the client's version; the agent's too when it answers. An unreachable agent is a note on stderr, not a failure. */
export async function version(p: Parsed, io: Io): Promise<number> {
  const clientInfo = { Version: CLI_VERSION, ApiVersion: CLI_API_VERSION, Runtime: clientRuntime(), NodeVersion: process.version, Os: process.platform, Arch: process.arch };
  let agent: Version | undefined;
  let problem: string | undefined;
  try {
    agent = await (await client(p, io)).version();
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  if (format(p) === 'json') {
    io.out(json({ Client: clientInfo, Agent: agent ?? null }));
  } else {
    let out = block('Client', [
      ['Version', CLI_VERSION],
      ['API version', CLI_API_VERSION],
      ['Runtime', clientRuntime()],
      ['OS/Arch', `${process.platform}/${process.arch}`],
    ]);
    if (agent !== undefined) {
      out += `\n${block('Agent', [
        ['Version', agent.Version],
        ['API version', agent.ApiVersion],
        ['Node', agent.NodeVersion],
        ['Kernel', agent.KernelVersion],
        ['OS/Arch', `${agent.Os}/${agent.Arch}`],
      ])}`;
    }
    io.out(out);
  }
  if (problem !== undefined) io.err(`Warning: agent not reachable: ${problem}\n`);
  return 0;
}

export async function info(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const [i, nodes] = await Promise.all([c.info(), c.nodes().catch((): Node[] | undefined => undefined)]);
  if (format(p) === 'json') {
    io.out(json(i));
    return 0;
  }
  io.out(renderInfo(i, nodes));
  return 0;
}

/** `(encrypted, key epoch 7; refused 3 datagrams, 1 stream without a valid key)`: never a key. */
function gossipDetail(g: Info['Gossip']): string {
  if (!g.Encrypted) return '(not encrypted)';
  const parts = ['encrypted'];
  if (g.KeyEpoch !== undefined) parts.push(`key epoch ${g.KeyEpoch}`);
  const r = g.Refused;
  const refused = r !== undefined && r.Packets + r.Streams > 0 ? `; refused ${r.Packets} datagram${r.Packets === 1 ? '' : 's'}, ${r.Streams} stream${r.Streams === 1 ? '' : 's'} without a valid key` : '';
  return `(${parts.join(', ')}${refused})`;
}

export function renderInfo(i: Info, nodes: readonly Node[] | undefined): string {
  const rows: [string, string][] = [
    ['Node', i.NodeID === '' ? i.Name : `${i.Name} (${i.NodeID})`],
    ['Role', i.Role],
    ['Cluster', i.ClusterID === '' ? '(none: run "weft swarm init" or "weft swarm join")' : i.ClusterID],
    ['Managers', i.Managers.length === 0 ? '-' : i.Managers.join(', ')],
    ...(i.ClusterStore !== undefined ? [['Cluster store', i.ClusterStore] as [string, string]] : []),
    ['Members', String(i.Members)],
    ['Networks', String(i.Networks)],
    ['Sandboxes', String(i.Sandboxes)],
    ['Crypto backend', i.CryptoBackend],
    ['Data path', `${i.DataPath.Addr}:${i.DataPath.Port} (VXLAN)`],
    ['Gossip', `${i.Gossip.Addr}:${i.Gossip.Port} ${gossipDetail(i.Gossip)}`],
    ['OS', i.Os],
    ['State dir', i.StateDir],
  ];
  const w = Math.max(...rows.map(([k]) => k.length)) + 3;
  let out = rows.map(([k, v]) => `${`${k}:`.padEnd(w)}${v}`).join('\n') + '\n';
  if (nodes !== undefined && nodes.length > 0) {
    out += 'Member list:\n' + nodes.map((n) => `  ${n.Name}${n.Self ? ' (this node)' : ''}  ${n.Addr}  ${capital(n.Status)}${n.ManagerStatus === '' ? '' : `  ${n.ManagerStatus}`}${n.Weft ? '' : '  (foreign)'}`).join('\n') + '\n';
  }
  if (i.Plugins.length > 0) {
    out += 'Plugins:\n' + i.Plugins.map((pl) => `  ${pl.Name} ${pl.Version}${pl.Provides.length === 0 ? '' : `  ${pl.Provides.join(', ')}`}`).join('\n') + '\n';
  }
  return out;
}

/** `weft swarm init|join|join-token|leave`. */
import type { SwarmInitRequest, SwarmJoinRequest } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { client } from '../agent.ts';
import { arg, bool, int, str, strs } from '../flags.ts';
import { progress } from '../format.ts';
import { compact } from '../util.ts';

/** `--cluster-store-ca/-cert/-key`; undefined when none is given. */
function tlsFlags(p: Parsed): { CA?: string; Cert?: string; Key?: string } | undefined {
  const tls = compact<{ CA?: string; Cert?: string; Key?: string }>({ CA: str(p, 'cluster-store-ca'), Cert: str(p, 'cluster-store-cert'), Key: str(p, 'cluster-store-key') });
  return Object.keys(tls).length === 0 ? undefined : tls;
}

/** `--cluster-store URL` with its TLS files; undefined when none is given (the agent's own setting applies). */
function storeFlags(p: Parsed, url: string | undefined): { URL: string; CA?: string; Cert?: string; Key?: string } | undefined {
  const tls = tlsFlags(p);
  if (url === undefined && tls === undefined) return undefined;
  return { URL: url ?? '', ...(tls ?? {}) };
}

const joinCommand = (token: string, manager: string) => `    weft swarm join --token ${token} ${manager}\n`;

export async function init(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const pools = strs(p, 'default-addr-pool');
  const req = compact<SwarmInitRequest>({
    AdvertiseAddr: str(p, 'advertise-addr'),
    ListenAddr: str(p, 'listen-addr'),
    DataPathAddr: str(p, 'data-path-addr'),
    DataPathPort: int(p, 'data-path-port'),
    DefaultAddrPool: pools.length === 0 ? undefined : pools,
    SubnetSize: int(p, 'default-addr-pool-mask-length'),
    KeyRotationInterval: str(p, 'key-rotation-interval'),
    ClusterStore: storeFlags(p, str(p, 'cluster-store')),
  });
  const r = await progress(io, 'Initializing the swarm', c.swarmInit(req));
  const manager = await c.joinToken('worker').then((t) => t.Manager, () => undefined);
  io.out(`Swarm initialized: current node (${r.NodeID}) is now a manager.\n\n`);
  io.out(`To add a worker to this swarm, run the following command:\n\n${joinCommand(r.WorkerToken, manager ?? 'MANAGER_IP:2377')}\n`);
  io.out(`To add a manager to this swarm, run 'weft swarm join-token manager' and follow the instructions.\n`);
  return 0;
}

export async function join(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const req = compact<SwarmJoinRequest>({
    JoinToken: str(p, 'token') ?? '',
    RemoteAddrs: [arg(p, 'MANAGER_IP:PORT')],
    AdvertiseAddr: str(p, 'advertise-addr'),
    DataPathAddr: str(p, 'data-path-addr'),
    ListenAddr: str(p, 'listen-addr'),
    ClusterStore: tlsFlags(p),
  });
  const r = await progress(io, `Joining the swarm at ${arg(p, 'MANAGER_IP:PORT')}`, c.swarmJoin(req));
  io.out(`This node joined a swarm as a ${r.Role}.\n`);
  return 0;
}

export async function joinToken(p: Parsed, io: Io): Promise<number> {
  const role = arg(p, 'ROLE') === 'manager' ? 'manager' : 'worker';
  const c = await client(p, io);
  const r = await c.joinToken(role, bool(p, 'rotate'));
  if (bool(p, 'quiet')) {
    io.out(`${r.Token}\n`);
    return 0;
  }
  if (bool(p, 'rotate')) io.out(`Successfully rotated ${role} join token.\n\n`);
  io.out(`To add a ${role} to this swarm, run the following command:\n\n${joinCommand(r.Token, r.Manager)}\n`);
  return 0;
}

export async function leave(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  await progress(io, 'Leaving the swarm', c.swarmLeave(bool(p, 'force')));
  io.out('Node left the swarm.\n');
  return 0;
}

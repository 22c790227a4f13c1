/** `weft run|exec|ps|rm`: network sandboxes (Linux network namespaces) on this host. */
import type { PortMapping, Sandbox, SandboxCreateRequest } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { UsageError, UserError } from '../spec.ts';
import { client, isStatus } from '../agent.ts';
import { arg, args, bool, format, portmaps, str, strs } from '../flags.ts';
import { ago, command, json, progress, shortId, table } from '../format.ts';
import { compact, eachName } from '../util.ts';

/**
 * How to run a command inside a sandbox's namespace. `ip netns exec` for namespaces named under
 * /run/netns (it also bind-mounts /etc/netns/NAME/resolv.conf, which the agent wrote, over
 * /etc/resolv.conf); `nsenter --net=PATH` for any other path.
 */
export function enterCommand(netnsPath: string, cmd: readonly string[]): [string, string[]] {
  const m = /^\/run\/netns\/([^/]+)$/.exec(netnsPath);
  if (m?.[1] !== undefined) return ['ip', ['netns', 'exec', m[1], ...cmd]];
  return ['nsenter', [`--net=${netnsPath}`, '--', ...cmd]];
}

function needRoot(io: Io, what: string): void {
  if (!io.isRoot) throw new UserError(`${what} enters a network namespace, which needs root: run it as root (for example with sudo)`);
}

export function sandboxRequest(p: Parsed): SandboxCreateRequest {
  const nets = strs(p, 'network');
  const ip = str(p, 'ip');
  const aliases = strs(p, 'alias');
  if (ip !== undefined && nets.length === 0) throw new UsageError('--ip needs a --network to give the address on', p.cmd.path);
  if (aliases.length > 0 && nets.length === 0) throw new UsageError('--alias needs a --network to publish the name on', p.cmd.path);
  const detach = bool(p, 'detach');
  if (detach && bool(p, 'rm')) throw new UsageError('--rm only applies in the foreground: drop -d or --rm', p.cmd.path);
  const bare = bool(p, 'bare');
  if (bare && (!detach || p.rest.length > 0)) throw new UsageError('--bare makes an endpoint with no namespace to run a command in: use it with -d and no CMD', p.cmd.path);
  if (bare && nets.length === 0) throw new UsageError('--bare needs a --network: a bare endpoint is an address and a name on one', p.cmd.path);
  const ports = portmaps(p, 'publish').map((m) => compact<PortMapping>({ HostPort: m.hostPort, ContainerPort: m.port, HostIP: m.hostIp, Protocol: m.protocol }));
  return compact<SandboxCreateRequest>({
    Name: str(p, 'name') ?? '',
    Networks: nets.length === 0 ? undefined : nets.map((n, i) => compact({ Name: n, IPAddress: i === 0 ? ip : undefined, Aliases: aliases.length === 0 ? undefined : aliases })),
    Hostname: str(p, 'hostname'),
    Cmd: detach && p.rest.length > 0 ? [...p.rest] : undefined,
    Ports: ports.length === 0 ? undefined : ports,
    Bare: bare ? true : undefined,
  });
}

export async function run(p: Parsed, io: Io): Promise<number> {
  const req = sandboxRequest(p);
  const detach = bool(p, 'detach');
  if (!detach) needRoot(io, 'weft run without -d');
  const c = await client(p, io);
  const sb = await progress(io, `Creating sandbox "${req.Name}"`, c.sandboxCreate(req));
  if (detach) {
    io.out(`${sb.Id}\n`);
    return 0;
  }
  const [file, argv] = enterCommand(sb.NetnsPath, p.rest);
  let code: number;
  try {
    code = await io.spawn(file, argv);
  } finally {
    if (bool(p, 'rm')) await c.sandboxRemove(sb.Name, true).catch((e: Error) => io.err(`Warning: could not remove sandbox "${sb.Name}": ${e.message}\n`));
  }
  return code;
}

export async function exec(p: Parsed, io: Io): Promise<number> {
  needRoot(io, 'weft exec');
  const name = arg(p, 'NAME');
  let netns: string;
  try {
    netns = (await (await client(p, io)).sandbox(name)).NetnsPath;
  } catch (e) {
    // Without the agent, the namespace may still be there under its usual name.
    if (!(await isStatus(e, 0))) throw e;
    netns = `/run/netns/${name}`;
  }
  const [file, argv] = enterCommand(netns, p.rest);
  return io.spawn(file, argv);
}

const portText = (m: PortMapping) => `${m.HostIP ?? '0.0.0.0'}:${m.HostPort}->${m.ContainerPort}/${m.Protocol ?? 'tcp'}`;
const stateText = (s: Sandbox) => (s.State === 'exited' ? `exited (${s.ExitCode ?? '?'})` : s.State);

export function sandboxTable(list: readonly Sandbox[], now: number = Date.now()): string {
  const sorted = [...list].sort((a, b) => a.Name.localeCompare(b.Name));
  return table(
    ['SANDBOX ID', 'NAME', 'COMMAND', 'CREATED', 'STATUS', 'NETWORKS', 'PORTS'],
    sorted.map((s) => [shortId(s.Id), s.Name, s.Cmd.length === 0 ? '' : command(s.Cmd), ago(s.Created, now), stateText(s), Object.keys(s.Networks).sort().join(','), s.Ports.map(portText).join(', ')]),
  );
}

export async function ps(p: Parsed, io: Io): Promise<number> {
  const list = await (await client(p, io)).sandboxes();
  if (bool(p, 'quiet')) io.out(list.map((s) => `${s.Name}\n`).join(''));
  else if (format(p) === 'json') io.out(json(list));
  else io.out(sandboxTable(list));
  return 0;
}

export async function rm(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NAME'), io.err, async (n) => {
    await progress(io, `Removing sandbox "${n}"`, c.sandboxRemove(n, bool(p, 'force')));
    io.out(`${n}\n`);
  });
}

/**
 * `weft run|exec|ps|stop|start|rm|inspect` and `weft container ...`: network sandboxes (Linux
 * network namespaces) on this host, with Docker's grammar: `run [OPTIONS] IMAGE [CMD...]` or
 * `run [OPTIONS] -- CMD...`. Weft runs no images; the image is recorded and, without CMD, picks
 * the command (alpine → /bin/sh, nginx → an HTTP server on port 80; see the engine contract).
 */
import type { PortMapping, Sandbox, SandboxCreateRequest } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { UsageError, UserError } from '../spec.ts';
import { client, isStatus } from '../agent.ts';
import { arg, args, bool, checkFamilies, int, portmaps, str, strs } from '../flags.ts';
import { ago, command, progress, shortId } from '../format.ts';
import { labelMatch, printInspect, printList, StatusError, type ListSpec } from '../listing.ts';
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

const ADJECTIVES = ['admiring', 'brave', 'calm', 'eager', 'focused', 'gifted', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'quirky', 'serene', 'tender', 'vibrant'];
const SCIENTISTS = ['bohr', 'curie', 'darwin', 'euler', 'fermi', 'gauss', 'hopper', 'kepler', 'lovelace', 'meitner', 'noether', 'pascal', 'ritchie', 'tesla', 'turing', 'wozniak'];

/** Docker's generated container name (`--name` omitted): ADJECTIVE_SCIENTIST, with a suffix so two rarely meet. */
export function randomName(rand: () => number = Math.random): string {
  const pick = (l: readonly string[]) => l[Math.floor(rand() * l.length)] ?? l[0]!;
  return `${pick(ADJECTIVES)}_${pick(SCIENTISTS)}${Math.floor(rand() * 100)}`;
}

export function sandboxRequest(p: Parsed): SandboxCreateRequest {
  const nets = strs(p, 'network');
  const ip = str(p, 'ip');
  const ip6 = str(p, 'ip6');
  const aliases = strs(p, 'alias');
  const image = arg(p, 'IMAGE');
  if (ip !== undefined && nets.length === 0) throw new UsageError('--ip needs a --network to give the address on', p.cmd.path);
  if (ip6 !== undefined && nets.length === 0) throw new UsageError('--ip6 needs a --network to give the address on', p.cmd.path);
  checkFamilies(p);
  if (aliases.length > 0 && nets.length === 0) throw new UsageError('--alias needs a --network to publish the name on', p.cmd.path);
  const detach = bool(p, 'detach');
  if (detach && bool(p, 'rm')) throw new UsageError('--rm only applies in the foreground: drop -d or --rm', p.cmd.path);
  const bare = bool(p, 'bare');
  if (bare && (!detach || p.rest.length > 0 || image !== '')) throw new UsageError('--bare makes an endpoint with no namespace to run a command in: use it with -d and no IMAGE or CMD', p.cmd.path);
  if (bare && nets.length === 0) throw new UsageError('--bare needs a --network: a bare endpoint is an address and a name on one', p.cmd.path);
  if (!detach && !bare && p.rest.length === 0 && image === '') {
    throw new UsageError(`"weft run" needs an image or a command to run: weft run [OPTIONS] IMAGE [CMD...] or weft run [OPTIONS] -- CMD [ARG...] (or -d without either)`, p.cmd.path);
  }
  const ports = portmaps(p, 'publish').map((m) => compact<PortMapping>({ HostPort: m.hostPort, ContainerPort: m.port, HostIP: m.hostIp, Protocol: m.protocol }));
  return compact<SandboxCreateRequest>({
    Name: str(p, 'name') ?? randomName(),
    Networks: nets.length === 0 ? undefined : nets.map((n, i) => compact({ Name: n, IPAddress: i === 0 ? ip : undefined, IPv6Address: i === 0 ? ip6 : undefined, Aliases: aliases.length === 0 ? undefined : aliases })),
    Hostname: str(p, 'hostname'),
    Cmd: p.rest.length > 0 ? [...p.rest] : undefined,
    Ports: ports.length === 0 ? undefined : ports,
    Bare: bare ? true : undefined,
    Image: image === '' ? undefined : image,
    // -dit: the shell's stdin stays open, so it waits instead of exiting (Docker keeps it attached).
    OpenStdin: detach && bool(p, 'interactive') ? true : undefined,
    Attached: detach ? undefined : true,
  });
}

/** Docker: errors of `run` itself (not of the command) exit 125. */
async function runStatus<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (e instanceof Error && (e instanceof UserError || e.name === 'ApiError')) {
      const hint = (e as { hint?: unknown }).hint;
      throw new StatusError(typeof hint === 'string' && hint !== '' && !e.message.includes(hint) ? `${e.message} (${hint})` : e.message, 125);
    }
    throw e;
  }
}

export async function run(p: Parsed, io: Io): Promise<number> {
  const req = sandboxRequest(p);
  const detach = bool(p, 'detach');
  if (!detach) needRoot(io, 'weft run without -d');
  // Docker: -t in the foreground needs a terminal to give the command.
  if (!detach && bool(p, 'tty') && !io.stdinIsTTY) throw new StatusError('the input device is not a TTY', 1);
  const c = await client(p, io);
  const sb = await runStatus(() => progress(io, `Creating sandbox "${req.Name}"`, c.sandboxCreate(req)));
  if (detach) {
    io.out(`${sb.Id}\n`);
    return 0;
  }
  const [file, argv] = enterCommand(sb.NetnsPath, sb.Cmd);
  let code = 125;
  try {
    code = await io.spawn(file, argv, { stdin: bool(p, 'interactive') ? 'inherit' : 'ignore' });
  } finally {
    // The command ended: the sandbox stops (it leaves its networks), as a container does.
    if (bool(p, 'rm')) await c.sandboxRemove(sb.Name, true).catch((e: Error) => io.err(`Warning: could not remove sandbox "${sb.Name}": ${e.message}\n`));
    else await c.sandboxStop(sb.Name, { exitCode: code, timeoutSec: 1 }).catch((e: Error) => io.err(`Warning: could not stop sandbox "${sb.Name}": ${e.message}\n`));
  }
  return code;
}

export async function exec(p: Parsed, io: Io): Promise<number> {
  needRoot(io, 'weft exec');
  const name = arg(p, 'NAME');
  let netns: string;
  try {
    const sb = await (await client(p, io)).sandbox(name);
    if (sb.State === 'exited') throw new UserError(`sandbox ${name} is not running: start it first ("weft start ${name}")`);
    netns = sb.NetnsPath;
  } catch (e) {
    // Without the agent, the namespace may still be there under its usual name.
    if (!(await isStatus(e, 0))) throw e;
    netns = `/run/netns/${name}`;
  }
  const [file, argv] = enterCommand(netns, p.rest);
  return io.spawn(file, argv, { stdin: bool(p, 'interactive') ? 'inherit' : 'ignore' });
}

const portText = (m: PortMapping) => `${m.HostIP ?? '0.0.0.0'}:${m.HostPort}->${m.ContainerPort}/${m.Protocol ?? 'tcp'}`;

/** Docker's units.HumanDuration: "Less than a second", "5 minutes", "About an hour", "3 days". */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

/** Docker's STATUS column: `Up 5 minutes`, `Exited (0) 2 minutes ago`, `Created`. */
export function statusText(s: Sandbox, now: number = Date.now()): string {
  if (s.State === 'running') return `Up ${humanDuration(now - Date.parse(s.StartedAt !== '' ? s.StartedAt : s.Created))}`;
  if (s.State === 'exited') return `Exited (${s.ExitCode ?? 0}) ${s.FinishedAt === '' ? '' : ago(s.FinishedAt, now)}`.trimEnd();
  return 'Created';
}

const hasNetwork = (s: Sandbox, v: string) => Object.entries(s.Networks).some(([n, a]) => n === v || a.NetworkID === v || (v.length >= 3 && (a.NetworkID ?? '').startsWith(v)));

/** `weft ps`: Docker's container columns (ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES), plus the sandbox's networks. */
export function psSpec(now: number = Date.now()): ListSpec<Sandbox> {
  return {
    columns: [
      { field: 'ID', header: 'SANDBOX ID', get: (s, t) => (t ? shortId(s.Id) : s.Id) },
      { field: 'Image', header: 'IMAGE', get: (s) => s.Image ?? '' },
      { field: 'Command', header: 'COMMAND', get: (s, t) => (s.Cmd.length === 0 ? '' : t ? command(s.Cmd) : JSON.stringify(s.Cmd.join(' '))) },
      { field: 'CreatedAt', header: 'CREATED AT', get: (s) => s.Created },
      { field: 'RunningFor', header: 'CREATED', get: (s) => ago(s.Created, now) },
      { field: 'Ports', header: 'PORTS', get: (s) => s.Ports.map(portText).join(', ') },
      { field: 'State', header: 'STATE', get: (s) => s.State },
      { field: 'Status', header: 'STATUS', get: (s) => statusText(s, now) },
      { field: 'Names', header: 'NAMES', get: (s) => s.Name },
      { field: 'Networks', header: 'NETWORKS', get: (s) => Object.keys(s.Networks).sort().join(',') },
      { field: 'Labels', header: 'LABELS', get: () => '' },
      { field: 'Label', header: 'LABEL', get: () => () => '', method: true },
      { field: 'Mounts', header: 'MOUNTS', get: () => '' },
    ],
    table: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Networks}}',
    quiet: (s) => s.Name,
    filters: {
      id: (s, v) => s.Id.startsWith(v),
      name: (s, v) => s.Name.includes(v),
      status: (s, v) => s.State === v,
      network: hasNetwork,
      ancestor: (s, v) => (s.Image ?? '') === v || (s.Image ?? '').split(':')[0] === v,
      label: (_s, v) => labelMatch({}, v),
      exited: (s, v) => s.State === 'exited' && String(s.ExitCode ?? 0) === v,
    },
    order: (a, b) => b.Created.localeCompare(a.Created) || a.Name.localeCompare(b.Name),
  };
}

export async function ps(p: Parsed, io: Io): Promise<number> {
  const list = await (await client(p, io)).sandboxes();
  // Docker: without -a only running ones (here: every sandbox not stopped).
  const shown = bool(p, 'all') ? list : list.filter((s) => s.State !== 'exited');
  return printList(p, io, psSpec(), shown);
}

export async function rm(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NAME'), io.err, async (n) => {
    await progress(io, `Removing sandbox "${n}"`, c.sandboxRemove(n, bool(p, 'force')));
    io.out(`${n}\n`);
  });
}

export async function stop(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const t = int(p, 'time');
  return eachName(args(p, 'NAME'), io.err, async (n) => {
    await progress(io, `Stopping sandbox "${n}"`, c.sandboxStop(n, t === undefined ? {} : { timeoutSec: t }));
    io.out(`${n}\n`);
  });
}

export async function start(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NAME'), io.err, async (n) => {
    await progress(io, `Starting sandbox "${n}"`, c.sandboxStart(n));
    io.out(`${n}\n`);
  });
}

export async function inspect(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const found: Sandbox[] = [];
  const rc = await eachName(args(p, 'NAME'), io.err, async (n) => {
    found.push(await c.sandbox(n));
  });
  return printInspect(p, io, found, rc);
}

/** `weft inspect NAME...`: a sandbox, else a network, else a service or node of that name (Docker's `docker inspect`). */
export async function inspectAny(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const found: unknown[] = [];
  const rc = await eachName(args(p, 'NAME'), io.err, async (n) => {
    for (const get of [() => c.sandbox(n), () => c.network(n), () => c.service(n), () => c.node(n)]) {
      try {
        found.push(await get());
        return;
      } catch (e) {
        if (!(await isStatus(e, 404, 503))) throw e;
      }
    }
    throw new UserError(`No such object: ${n}`);
  });
  return printInspect(p, io, found, rc);
}

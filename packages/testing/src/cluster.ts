/**
 * A multi-host Weft cluster on one machine, for the demo and end-to-end tests: each host is a
 * network namespace on a shared underlay bridge-less veth star (198.18.0.0/24), running its own
 * weft-agent. Everything created is removed by `destroy()`, agents by PID, namespaces by name.
 * An IPv6 underlay (`underlay: 'ipv6'` or `'dual'`) uses the unique local prefix fd18:0:<subnet>::/64
 * inside the namespaces only.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@weft/api';
import { joinHostPort } from '@weft/net';
import { readStore } from '@weft/store';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const AGENT_BIN = path.join(repo, 'apps/agent/bin/weft-agent.js');
export const CLI_BIN = path.join(repo, 'apps/cli/bin/weft.js');

/**
 * What starts weft-agent and weft (argv before their own arguments):
 * - `WEFT_AGENT_BIN` / `WEFT_CLI_BIN` (paths of executables, e.g. the single-file binaries of
 *   `npm run build:binaries`), each preceded by the JSON argv array in `WEFT_BIN_WRAPPER` if set
 *   (tools/binaries uses it to run them where no other Weft file is visible);
 * - else the TypeScript sources on the runtime running this code: `node bin/…js`, or
 *   `deno run --allow-all` of the entry modules under Deno;
 * - with `runtime`, the sources on that runtime whatever runs this code (`deno` is the npm
 *   package's executable when this is Node).
 */
export function agentCommand(runtime?: SourceRuntime): string[] {
  return command('WEFT_AGENT_BIN', AGENT_BIN, 'apps/agent/src/main.ts', runtime);
}
export function cliCommand(runtime?: SourceRuntime): string[] {
  return command('WEFT_CLI_BIN', CLI_BIN, 'apps/cli/src/main.ts', runtime);
}

export type SourceRuntime = 'node' | 'deno';

/** The Deno executable: this process under Deno, else the one npm installed (package `deno`). */
export function denoExecutable(): string {
  if ('Deno' in globalThis) return process.execPath;
  return path.join(path.dirname(createRequire(import.meta.url).resolve('deno/package.json')), 'deno');
}

function command(envName: string, nodeBin: string, denoEntry: string, runtime?: SourceRuntime): string[] {
  const deno = () => [denoExecutable(), 'run', '--allow-all', '--no-prompt', '--config', path.join(repo, 'deno.json'), path.join(repo, denoEntry)];
  if (runtime === 'deno') return deno();
  if (runtime === 'node') return ['Deno' in globalThis ? 'node' : process.execPath, nodeBin];
  const bin = process.env[envName];
  if (bin !== undefined && bin !== '') {
    const w = process.env.WEFT_BIN_WRAPPER;
    let wrapper: string[] = [];
    if (w !== undefined && w !== '') {
      const v: unknown = JSON.parse(w);
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`WEFT_BIN_WRAPPER must be a JSON array of strings, got ${w}`);
      wrapper = v as string[];
    }
    return [...wrapper, bin];
  }
  if ('Deno' in globalThis) return deno();
  return [process.execPath, nodeBin];
}

export interface Host {
  readonly name: string;
  readonly ns: string;
  /** The address the agent advertises (`--advertise-addr`): IPv4, or IPv6 on an `ipv6` underlay. */
  readonly addr: string;
  /** On a `dual` or `ipv6` underlay: the host's IPv6 underlay address (fd18:0:<subnet>::<i>). */
  readonly addr6?: string;
  readonly socket: string;
  readonly stateDir: string;
  readonly logFile: string;
  readonly client: Client;
  agent?: ChildProcess | undefined;
}

export interface Cluster {
  readonly prefix: string;
  readonly dir: string;
  readonly hosts: Host[];
  /** The underlay namespace (a switch for the hosts' veths). */
  readonly underlay: string;
  startAgent(h: Host, extra?: readonly string[]): Promise<void>;
  stopAgent(h: Host, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Cuts a host off the underlay (`ip link set ul0 down` in the host's namespace, its veth into
   * the underlay switch) or restores it. Addresses stay configured; the kernel drops the host's
   * connected route while the link is down and puts it back when it returns.
   */
  linkDown(h: Host): void;
  linkUp(h: Host): void;
  /** Runs a command inside a sandbox namespace; never throws. */
  inSandbox(sandbox: string, cmd: readonly string[], timeoutMs?: number): { code: number; out: string };
  destroy(): Promise<void>;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Polls `pred` every `everyMs` until it holds; a predicate that throws or rejects (an agent busy
 * or restarting) counts as "not yet". Returns the milliseconds it took; throws naming `what`
 * after `ms`.
 */
export async function eventually(pred: () => Promise<boolean> | boolean, ms: number, what: string, everyMs = 200): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await Promise.resolve().then(pred).catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts every agent, inits the swarm on the first host and joins the others as workers; waits until the manager lists every node ready. Returns the manager. */
export async function formSwarm(c: Cluster, readyMs = 15_000): Promise<Host> {
  await Promise.all(c.hosts.map((h) => c.startAgent(h)));
  const [m, ...workers] = c.hosts;
  const init = await m!.client.swarmInit({});
  for (const w of workers) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [joinHostPort(m!.addr, 2377)] });
  await eventually(async () => (await m!.client.nodes()).filter((n) => n.Status === 'ready' && n.Weft).length === c.hosts.length, readyMs, 'every node ready');
  return m!;
}

/** SIGKILLs every process in one of `namespaces`, or about to enter one through `ip netns exec`; returns their PIDs. */
function killInside(namespaces: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const ns of namespaces) {
    try {
      for (const x of ip(['netns', 'pids', ns]).split('\n')) if (/^\d+$/.test(x.trim())) pids.add(Number(x));
    } catch {
      /* gone */
    }
  }
  const execs = new Set(namespaces.map((ns) => `ip\0netns\0exec\0${ns}\0`));
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    for (const e of execs) if (cmd.startsWith(e)) pids.add(Number(d));
  }
  const killed: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone */
    }
  }
  return killed;
}

/** SIGKILL is delivered asynchronously: waits (≤ `ms`) until each PID is gone or a zombie for its parent. */
async function waitGone(pids: readonly number[], ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (const pid of pids) {
    while (Date.now() < until) {
      let st = '';
      try {
        st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        break; // gone
      }
      if (/^\d+ \(.*\) [ZX] /s.test(st)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Namespaces the kernel data path of the agent in host namespace `hostNs` made for its networks. */
export function kernelNetworkNamespaces(hostNs: string): string[] {
  try {
    const ino = fs.statSync(`/run/netns/${hostNs}`).ino.toString(36);
    return fs.readdirSync('/run/netns').filter((n) => n.startsWith(`wfk-${ino}-`));
  } catch {
    return [];
  }
}

/** `n` hosts `h1..hn` at 198.18.<subnet>.<i>, linked through an underlay namespace with a bridge-free L2: a veth per host into a bridge. */
/**
 * `nsPrefix`: the agents name their sandboxes' namespaces PREFIX+NAME (`--netns-prefix`), so a
 * test can use the names of a guide (alpine1, ...) without meeting another test's namespaces.
 */
/**
 * `underlay`: `ipv4` (default) gives each host 198.18.<subnet>.<i>/24; `ipv6` gives it
 * fd18:0:<subnet>::<i>/64 only (the agents advertise it); `dual` gives both and the agents
 * advertise IPv4 (a test moves one to IPv6 with `--data-path-addr`). IPv6 addresses are added
 * `nodad`, so they are usable at once.
 */
export type UnderlayFamily = 'ipv4' | 'ipv6' | 'dual';

export async function createCluster(n: number, opts: { tag?: string; subnet?: number; nsPrefix?: string; runtime?: SourceRuntime; underlay?: UnderlayFamily } = {}): Promise<Cluster> {
  const prefix = `wft-${opts.tag ?? 'c'}${process.pid % 10000}-`;
  const sub = opts.subnet ?? 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}`));
  const underlay = `${prefix}ul`;
  const created: string[] = [];
  const hosts: Host[] = [];
  const cluster: Cluster = {
    prefix,
    dir,
    hosts,
    underlay,
    async startAgent(h, extra = []) {
      const log = fs.openSync(h.logFile, 'a');
      // nsenter --net (not `ip netns exec`): the agent must share the mount namespace so the
      // sandboxes it creates under /run/netns are visible to everyone.
      const p = spawn('nsenter', [`--net=/run/netns/${h.ns}`, ...agentCommand(opts.runtime), '--socket', h.socket, '--state-dir', h.stateDir, '--node-name', h.name, '--advertise-addr', h.addr, '--docker-plugin', 'off', ...(opts.nsPrefix !== undefined ? ['--netns-prefix', opts.nsPrefix] : []), ...extra], {
        stdio: ['ignore', log, log],
        detached: true,
      });
      fs.closeSync(log);
      h.agent = p;
      await eventually(async () => (await h.client.version()).Version !== '', 45_000, `the agent on ${h.name} (log: ${h.logFile})`, 100); // generous: ten agents starting at once on a loaded 2-core machine
    },
    async stopAgent(h, signal = 'SIGTERM') {
      const p = h.agent;
      if (p?.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
      const done = new Promise<void>((r) => p.once('exit', () => r()));
      try {
        process.kill(p.pid, signal);
      } catch {
        /* gone */
      }
      await Promise.race([done, new Promise((r) => setTimeout(r, 8000))]);
      if (p.exitCode === null && p.signalCode === null) {
        process.kill(p.pid, 'SIGKILL');
        await done;
      }
      h.agent = undefined;
    },
    linkDown(h) {
      ip(['-n', h.ns, 'link', 'set', 'ul0', 'down']);
    },
    linkUp(h) {
      ip(['-n', h.ns, 'link', 'set', 'ul0', 'up']);
    },
    inSandbox(sandbox, cmd, timeoutMs = 15_000) {
      try {
        const out = execFileSync('ip', ['netns', 'exec', sandbox, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
        return { code: 0, out };
      } catch (e) {
        const err = e as { status?: number | null; stdout?: string; stderr?: string };
        return { code: err.status ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
      }
    },
    async destroy() {
      for (const h of hosts) await cluster.stopAgent(h, 'SIGKILL');
      // Sandboxes the agents created are namespaces too: find them through the agents' state.
      const live = ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '');
      const sandboxes = (await Promise.all(hosts.map((h) => listSandboxNames(h.stateDir)))).flat().map((n) => `${opts.nsPrefix ?? ''}${n}`).filter((n) => live.includes(n));
      // Deleting a namespace does not stop what runs in it: kill every process inside first, and
      // every `ip netns exec NS …` that has not entered its namespace yet (a sandbox command
      // spawned just before: on a loaded machine it would enter after the scan and outlive us).
      // Repeat until a pass finds nothing.
      const targets = [...sandboxes, ...created].filter((ns) => live.includes(ns));
      for (let pass = 0; pass < 5; pass++) {
        const killed = killInside(targets);
        if (killed.length === 0) break;
        await waitGone(killed, 5000);
      }
      for (const ns of sandboxes) {
        tryIp(['netns', 'del', ns]);
        fs.rmSync(path.join('/etc/netns', ns), { recursive: true, force: true });
      }
      // The kernel data path's per-network namespaces (`wfk-<inode of the host's namespace>-<id>`),
      // which an agent keeps across restarts and removes only with the network.
      for (const h of hosts) for (const ns of kernelNetworkNamespaces(h.ns)) tryIp(['netns', 'del', ns]);
      for (const ns of [...created].reverse()) if (live.includes(ns)) tryIp(['netns', 'del', ns]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    ip(['netns', 'add', underlay]);
    created.push(underlay);
    // No multicast snooping: IPv6 neighbour discovery reaches every host without MLD state.
    ip(['-n', underlay, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    ip(['-n', underlay, 'link', 'set', 'br0', 'up']);
    for (let i = 1; i <= n; i++) {
      const ns = `${prefix}h${i}`;
      ip(['netns', 'add', ns]);
      created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', underlay]);
      const family = opts.underlay ?? 'ipv4';
      const addr4 = `198.18.${sub}.${i}`;
      const addr6 = `fd18:0:${sub.toString(16)}::${i.toString(16)}`;
      if (family !== 'ipv6') ip(['-n', ns, 'addr', 'add', `${addr4}/24`, 'dev', 'ul0']);
      if (family !== 'ipv4') ip(['-n', ns, 'addr', 'add', `${addr6}/64`, 'dev', 'ul0', 'nodad']);
      ip(['-n', ns, 'link', 'set', 'ul0', 'up']);
      const addr = family === 'ipv6' ? addr6 : addr4;
      ip(['-n', underlay, 'link', 'set', `p${i}`, 'master', 'br0']);
      ip(['-n', underlay, 'link', 'set', `p${i}`, 'up']);
      const socket = path.join(dir, `h${i}.sock`);
      hosts.push({ name: `h${i}`, ns, addr, ...(family !== 'ipv4' ? { addr6 } : {}), socket, stateDir: path.join(dir, `h${i}`), logFile: path.join(dir, `h${i}.log`), client: createClient(socket) });
    }
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
  return cluster;
}

function tryIp(args: string[]): void {
  try {
    ip(args);
  } catch {
    /* already gone */
  }
}

/** Sandbox names recorded in an agent's state dir (the engine's records, `engine/sandboxes/NAME`), read without writing. */
async function listSandboxNames(stateDir: string): Promise<string[]> {
  try {
    return [...(await readStore(path.join(stateDir, 'state'), 'engine/sandboxes/')).keys()].map((k) => k.slice('engine/sandboxes/'.length));
  } catch {
    return [];
  }
}

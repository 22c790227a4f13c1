/**
 * Root test harness: throwaway network namespaces acting as hosts and sandboxes, veth underlays in
 * 198.18.0.0/15 (RFC 2544 benchmarking space), processes started inside them, and cleanup of
 * everything it created — by name prefix and PID — even when the test fails.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { ip, netnsAdd, netnsDel, netnsList } from './ip.ts';

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Why a root test cannot run here, or undefined when it can. */
export function rootSkipReason(): string | undefined {
  if (!isRoot()) return 'needs root (network namespaces, TAP devices): run as root to include it';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (`ip`)';
  }
  return undefined;
}

export interface Lab {
  /** Unique per process: `wft-t<pid>-<tag>-`. */
  readonly prefix: string;
  /** Creates namespace `<prefix><name>` with lo up; returns its full name. */
  netns(name: string): string;
  /** A veth pair between two namespaces, ends named `aName`/`bName`, up, optionally addressed. */
  veth(a: { ns: string; name: string; cidr?: string; mtu?: number }, b: { ns: string; name: string; cidr?: string; mtu?: number }): void;
  /** Runs a command inside `ns` and returns stdout; throws with stderr on failure. */
  exec(ns: string, cmd: string, args: readonly string[], opts?: { timeoutMs?: number; input?: string }): string;
  /** Like exec but never throws: exit code, stdout, stderr. */
  run(ns: string, cmd: string, args: readonly string[], opts?: { timeoutMs?: number }): { code: number; stdout: string; stderr: string };
  /** Starts a long-running process inside `ns` (own process group), killed at cleanup. */
  spawn(ns: string | undefined, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Kills a process started by `spawn` (SIGKILL to its group) and waits for it to exit. */
  kill(p: ChildProcess, signal?: NodeJS.Signals): Promise<void>;
  cleanup(): Promise<void>;
}

let labSeq = 0;
const live = new Set<() => void>();
let hooked = false;

/**
 * Also clean up when the process ends without reaching a finally block: an early exit (uvu's
 * "Exiting early"), SIGTERM from `timeout`, or Ctrl-C. SIGKILL cannot be caught; names carry the
 * PID so leftovers can be found (`ip netns list | grep wft-t<pid>-`).
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const all = () => {
    for (const f of [...live]) f();
  };
  process.once('exit', all);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      all();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export function createLab(tag = 'lab'): Lab {
  const prefix = `wft-t${process.pid}-${tag}${labSeq++}-`;
  const namespaces: string[] = [];
  const procs = new Set<ChildProcess>();
  const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;
  const cleanupSync = (): void => {
    for (const p of procs) {
      if (p.pid === undefined || exited(p)) continue;
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const ns of namespaces.splice(0).reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  };
  live.add(cleanupSync);
  hookExit();
  const lab: Lab = {
    prefix,
    netns(name) {
      const full = prefix + name;
      netnsAdd(full);
      namespaces.push(full);
      ip(['link', 'set', 'lo', 'up'], full);
      return full;
    },
    veth(a, b) {
      ip(['link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns], a.ns);
      for (const e of [a, b]) {
        if (e.mtu !== undefined) ip(['link', 'set', e.name, 'mtu', String(e.mtu)], e.ns);
        if (e.cidr !== undefined) ip(['addr', 'add', e.cidr, 'dev', e.name], e.ns);
        ip(['link', 'set', e.name, 'up'], e.ns);
      }
    },
    exec(ns, cmd, args, opts = {}) {
      try {
        return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
          encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000, input: opts.input ?? '',
        });
      } catch (e) {
        const err = e as { stderr?: string; stdout?: string };
        throw new Error(`[${ns}] ${cmd} ${args.join(' ')}: ${(err.stderr ?? '').trim() || String(e)}\n${err.stdout ?? ''}`);
      }
    },
    run(ns, cmd, args, opts = {}) {
      try {
        const stdout = execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000 });
        return { code: 0, stdout, stderr: '' };
      } catch (e) {
        const err = e as { status?: number | null; stdout?: string; stderr?: string };
        return { code: err.status ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    },
    spawn(ns, cmd, args, opts = {}) {
      const [c, a] = ns === undefined ? [cmd, [...args]] : ['ip', ['netns', 'exec', ns, cmd, ...args]];
      const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...opts, detached: true });
      procs.add(p);
      p.on('exit', () => procs.delete(p));
      return p;
    },
    async kill(p, signal = 'SIGKILL') {
      if (p.pid === undefined || exited(p)) return;
      const done = new Promise<void>((r) => p.once('exit', () => r()));
      try {
        process.kill(-p.pid, signal);
      } catch {
        try { p.kill(signal); } catch { /* already gone */ }
      }
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
    },
    async cleanup() {
      for (const p of [...procs]) await lab.kill(p);
      // Everything else lives inside our namespaces; deleting them deletes veths, TAPs, vxlans.
      const present = new Set(netnsList());
      for (const ns of namespaces.reverse()) {
        if (!present.has(ns)) continue;
        try {
          netnsDel(ns);
        } catch (e) {
          console.error(`cleanup: ${String(e)}`);
        }
      }
      namespaces.length = 0;
      live.delete(cleanupSync);
    },
  };
  return lab;
}

/** Runs `fn` with a fresh lab and always cleans up. */
export async function withLab<T>(tag: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = createLab(tag);
  try {
    return await fn(lab);
  } finally {
    await lab.cleanup();
  }
}

export interface TwoHosts {
  readonly lab: Lab;
  readonly h1: string;
  readonly h2: string;
  /** Underlay addresses (198.18.0.1 and 198.18.0.2 on a /24). */
  readonly a1: string;
  readonly a2: string;
  /** Underlay interface name in both hosts. */
  readonly dev: string;
}

/** Two host namespaces joined by a veth underlay in 198.18.0.0/24. */
export function twoHosts(lab: Lab, underlayMtu = 1500): TwoHosts {
  const h1 = lab.netns('h1');
  const h2 = lab.netns('h2');
  lab.veth({ ns: h1, name: 'ul0', cidr: '198.18.0.1/24', mtu: underlayMtu }, { ns: h2, name: 'ul0', cidr: '198.18.0.2/24', mtu: underlayMtu });
  return { lab, h1, h2, a1: '198.18.0.1', a2: '198.18.0.2', dev: 'ul0' };
}

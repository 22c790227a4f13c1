/**
 * Host operations for sandboxes (network namespaces), behind one small interface so the engine's
 * logic is testable and the Linux specifics live in one place.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SandboxFiles {
  readonly resolvConf: string;
  readonly hostname: string;
  readonly hosts: string;
}

export interface SandboxHost {
  netnsPath(name: string): string;
  netnsExists(name: string): boolean;
  createNetns(name: string): void;
  deleteNetns(name: string): void;
  /**
   * Prepares the shared namespace of bare endpoints: IPv6 off (no link-local address, route or
   * multicast membership per interface; with 10,000 interfaces the kernel's IPv6 route updates
   * were quadratic), and reverse-path filtering off (a network's routes are on one of its
   * interfaces there, so a packet for an endpoint comes in on another interface than the route
   * back to its sender; a host with rp_filter=1 would drop it). Optional: hosts without it leave
   * the namespace as created.
   */
  prepareBareNetns?(name: string): void;
  /** Writes the files `ip netns exec` bind-mounts over /etc; returns the resolv.conf path. */
  writeFiles(name: string, files: SandboxFiles): string;
  removeFiles(name: string): void;
  /**
   * Starts `cmd` inside the sandbox, detached from the agent (survives its restart). `stdinFifo`:
   * its stdin is that FIFO opened read-write, so it never sees end of file (`run -dit`).
   * `onExit` is told the exit status while this agent runs.
   */
  spawn(name: string, cmd: readonly string[], logFile: string, opts?: { readonly stdinFifo?: string; readonly onExit?: (code: number) => void }): number;
  alive(pid: number): boolean;
  kill(pid: number, signal: NodeJS.Signals): void;
}

export function linuxSandboxHost(etcDir = '/etc/netns'): SandboxHost {
  const ipCmd = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  return {
    netnsPath: (name) => `/run/netns/${name}`,
    netnsExists: (name) => fs.existsSync(`/run/netns/${name}`),
    createNetns(name) {
      try {
        ipCmd(['netns', 'add', name]);
        ipCmd(['-n', name, 'link', 'set', 'lo', 'up']);
      } catch (e) {
        throw new Error(`cannot create network namespace "${name}": ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
      }
    },
    prepareBareNetns(name) {
      try {
        ipCmd(['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
      } catch (e) {
        throw new Error(`cannot prepare the bare endpoints' namespace "${name}": ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
      }
    },
    deleteNetns(name) {
      if (fs.existsSync(`/run/netns/${name}`)) ipCmd(['netns', 'del', name]);
    },
    writeFiles(name, files) {
      const dir = path.join(etcDir, name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'resolv.conf'), files.resolvConf);
      fs.writeFileSync(path.join(dir, 'hostname'), `${files.hostname}\n`);
      fs.writeFileSync(path.join(dir, 'hosts'), files.hosts);
      return path.join(dir, 'resolv.conf');
    },
    removeFiles(name) {
      fs.rmSync(path.join(etcDir, name), { recursive: true, force: true });
    },
    spawn(name, cmd, logFile, opts) {
      fs.mkdirSync(path.dirname(logFile), { recursive: true });
      const out = fs.openSync(logFile, 'a');
      let input: number | 'ignore' = 'ignore';
      if (opts?.stdinFifo !== undefined) {
        if (!fs.existsSync(opts.stdinFifo)) execFileSync('mkfifo', ['-m', '0600', opts.stdinFifo]);
        // Read-write: opening does not block, and the process holds a writer itself (no EOF).
        input = fs.openSync(opts.stdinFifo, 'r+');
      }
      const child = spawn('ip', ['netns', 'exec', name, ...cmd], { detached: true, stdio: [input, out, out] });
      fs.closeSync(out);
      if (typeof input === 'number') fs.closeSync(input);
      if (opts?.onExit !== undefined) {
        const done = opts.onExit;
        child.on('exit', (code, signal) => done(code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0))));
      }
      child.unref();
      if (child.pid === undefined) throw new Error(`cannot start ${JSON.stringify(cmd.join(' '))} in sandbox "${name}"`);
      return child.pid;
    },
    alive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    },
    kill(pid, signal) {
      try {
        process.kill(-pid, signal);
      } catch {
        try {
          process.kill(pid, signal);
        } catch {
          /* gone */
        }
      }
    },
  };
}

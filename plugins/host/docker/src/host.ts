/**
 * The two things this plugin needs from the machine, behind one small interface so tests run
 * without root or a dockerd: asking dockerd for a network's name, and removing an interface Docker
 * handed back to dockerd's namespace (Docker moves it back under its SrcName after Leave).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as fs from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scriptCommand } from '@weft/sys';

/** The DNS bridge run inside each container (plain JavaScript: it runs without a TS loader). */
export const DNS_BRIDGE = fileURLToPath(new URL('./dns-bridge.mjs', import.meta.url));

export interface DnsBridgeSpec {
  /** The container's namespace (Join's SandboxKey). */
  readonly sandboxKey: string;
  /** Loopback address inside the container to answer on (`--dns` of the container). */
  readonly address: string;
  /** The agent-side unix socket of `serveDns`. */
  readonly socket: string;
  /** Weft network whose names to answer. */
  readonly network: string;
}

/** Answers one DNS query for `network`: reply bytes, or undefined (no reply). */
export type DnsAnswer = (network: string, query: Uint8Array) => Promise<Uint8Array | undefined>;

export interface DockerHost {
  /** The Docker network's name, or undefined when dockerd does not (yet) know the ID. */
  networkName(dockerHost: string, networkId: string): Promise<string | undefined>;
  /** True when `ifname` exists in the agent's (= dockerd's) network namespace. */
  linkExists(ifname: string): boolean;
  /** Deletes `ifname` from the agent's network namespace; never throws. */
  linkDelete(ifname: string): void;
  /** The container whose endpoint on Docker network `networkId` is `endpointId`: its name (no `/`). */
  containerOf(dockerHost: string, networkId: string, endpointId: string): Promise<string | undefined>;
  /** The name of the interface with `mac` inside the namespace at `netnsPath` (a container's SandboxKey). */
  linkByMac(netnsPath: string, mac: string): string | undefined;
  /** Serves `answer` on a unix socket for the bridges; resolves once listening. */
  serveDns(socketPath: string, answer: DnsAnswer): Promise<{ close(): Promise<void> }>;
  /** Starts a DNS bridge inside a container; returns its PID. */
  startDnsBridge(spec: DnsBridgeSpec): number | undefined;
  /** Stops the bridge `pid` if it is still the one serving `sandboxKey`. */
  stopDnsBridge(pid: number, sandboxKey: string): void;
}

/** `unix:///run/docker.sock` or a bare path → the socket path. */
export function socketPathOf(dockerHost: string): string {
  return dockerHost.startsWith('unix://') ? dockerHost.slice('unix://'.length) : dockerHost;
}

function getJson(socketPath: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`dockerd at ${socketPath} did not answer GET ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function linuxDockerHost(): DockerHost {
  return {
    async networkName(dockerHost, networkId) {
      const r = await getJson(socketPathOf(dockerHost), `/networks/${encodeURIComponent(networkId)}`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`dockerd answered ${r.status} to GET /networks/${networkId}: ${JSON.stringify(r.body).slice(0, 200)}`);
      const name = (r.body as { Name?: unknown }).Name;
      return typeof name === 'string' && name !== '' ? name : undefined;
    },
    async containerOf(dockerHost, networkId, endpointId) {
      const filters = encodeURIComponent(JSON.stringify({ network: [networkId] }));
      const r = await getJson(socketPathOf(dockerHost), `/containers/json?filters=${filters}`);
      if (r.status !== 200 || !Array.isArray(r.body)) return undefined;
      for (const c of r.body as { Names?: string[]; NetworkSettings?: { Networks?: Record<string, { EndpointID?: string }> } }[]) {
        const eps = Object.values(c.NetworkSettings?.Networks ?? {});
        if (eps.some((e) => e.EndpointID === endpointId)) return c.Names?.[0]?.replace(/^\//, '');
      }
      return undefined;
    },
    linkExists(ifname) {
      try {
        execFileSync('ip', ['link', 'show', 'dev', ifname], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
    linkByMac(netnsPath, mac) {
      try {
        const out = execFileSync('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        const links = JSON.parse(out) as { ifname: string; address?: string }[];
        return links.find((l) => l.address?.toLowerCase() === mac.toLowerCase())?.ifname;
      } catch {
        return undefined;
      }
    },
    async serveDns(socketPath, answer) {
      try {
        fs.unlinkSync(socketPath);
      } catch {
        /* absent */
      }
      const server = net.createServer((c) => {
        let buf = '';
        c.setEncoding('utf8');
        c.setTimeout(10_000, () => c.destroy());
        c.on('error', () => {});
        c.on('data', (d: string) => {
          buf += d;
          const nl = buf.indexOf('\n');
          if (nl < 0) return;
          let req: { n?: unknown; q?: unknown };
          try {
            req = JSON.parse(buf.slice(0, nl)) as { n?: unknown; q?: unknown };
          } catch {
            c.destroy();
            return;
          }
          if (typeof req.n !== 'string' || typeof req.q !== 'string') return void c.destroy();
          const q = Buffer.from(req.q, 'base64');
          answer(req.n, new Uint8Array(q.buffer, q.byteOffset, q.length)).then(
            (r) => c.end(r === undefined ? '\n' : `${Buffer.from(r).toString('base64')}\n`),
            () => c.end('\n'),
          );
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => resolve());
      });
      fs.chmodSync(socketPath, 0o600);
      return {
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            try {
              fs.unlinkSync(socketPath);
            } catch {
              /* gone */
            }
          }),
      };
    },
    startDnsBridge(o) {
      // Docker creates the container's namespace (and bind-mounts it at SandboxKey) only after
      // Join, when runc starts the container: wait for it (up to 60 s), then enter it.
      // The bridge runs on this process's runtime (scriptCommand: node, deno, or the single-file agent).
      const script = 'k="$1"; shift; i=0; while [ ! -e "$k" ]; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.1; done; exec nsenter --net="$k" "$@" "$k"';
      const p = spawn('sh', ['-c', script, 'weft-dns-bridge', o.sandboxKey, ...scriptCommand(DNS_BRIDGE, [o.address, o.socket, o.network])], { detached: true, stdio: 'ignore' });
      p.on('error', () => {});
      p.unref();
      return p.pid;
    },
    stopDnsBridge(pid, sandboxKey) {
      try {
        // Only our bridge for this container: a PID may have been reused since.
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(DNS_BRIDGE) && cmd.includes(sandboxKey)) process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    },
    linkDelete(ifname) {
      try {
        execFileSync('ip', ['link', 'del', 'dev', ifname], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    },
  };
}

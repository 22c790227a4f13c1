/**
 * The two things this plugin needs from the machine, behind one small interface so tests run
 * without root or a dockerd: asking dockerd for a network's name, and removing an interface Docker
 * handed back to dockerd's namespace (Docker moves it back under its SrcName after Leave).
 */
import * as http from 'node:http';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';

/**
 * The file of the DNS relay process earlier versions ran inside each container (one per
 * container); a relay still running after an upgrade is recognised by it and stopped.
 */
export const DNS_BRIDGE = 'dns-bridge.mjs';

/** A container's interface, as `DockerHost.linkByMac` finds it. */
export interface ContainerLink {
  readonly ifname: string;
  readonly tap: boolean;
}

export interface DockerHost {
  /** The Docker network's name, or undefined when dockerd does not (yet) know the ID. */
  networkName(dockerHost: string, networkId: string): Promise<string | undefined>;
  /** True when `ifname` exists in the agent's (= dockerd's) network namespace. */
  linkExists(ifname: string): boolean;
  /** Deletes `ifname` from the agent's network namespace; never throws. */
  linkDelete(ifname: string): void;
  /** The container whose endpoint on Docker network `networkId` is `endpointId`: its name (no `/`). */
  containerOf(dockerHost: string, networkId: string, endpointId: string): Promise<string | undefined>;
  /**
   * The interface with `mac` inside the namespace at `netnsPath` (a container's SandboxKey): its
   * name, and whether it is a TAP (the userspace switch's device, read through a file descriptor)
   * rather than a veth (the kernel data path's, whose other end the kernel keeps on the network's bridge).
   */
  linkByMac(netnsPath: string, mac: string): ContainerLink | undefined;
  /** Stops an earlier version's relay `pid` if it is still the one serving `sandboxKey`. */
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
        const out = execFileSync('nsenter', [`--net=${netnsPath}`, 'ip', '-d', '-j', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        const links = JSON.parse(out) as { ifname: string; address?: string; linkinfo?: { info_kind?: string } }[];
        const l = links.find((x) => x.address?.toLowerCase() === mac.toLowerCase());
        return l === undefined ? undefined : { ifname: l.ifname, tap: l.linkinfo?.info_kind === 'tun' };
      } catch {
        return undefined;
      }
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

/** Control-plane iproute2 helpers (child_process; never on the data path). */
import { execFileSync } from 'node:child_process';

/**
 * Runs `ip [-n ns] ARGS`; throws with ip's stderr on failure. `ns` is a name under /run/netns or
 * a path (e.g. Docker's SandboxKey); `ip -n` takes names only, so paths go through nsenter.
 */
export function ip(args: readonly string[], ns?: string): string {
  const full = ns === undefined ? [...args] : ['-n', ns, ...args];
  const [cmd, argv] = ns !== undefined && ns.includes('/') ? ['nsenter', [`--net=${ns}`, 'ip', ...args]] : ['ip', full];
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`ip ${full.join(' ')}: ${(err.stderr ?? String(e)).trim()}`);
  }
}

export const netnsAdd = (name: string): void => void ip(['netns', 'add', name]);
export const netnsDel = (name: string): void => void ip(['netns', 'del', name]);
export const netnsList = (): string[] =>
  ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');

export const linkSetNetns = (link: string, target: string, ns?: string): void => void ip(['link', 'set', link, 'netns', target], ns);
export const linkSetName = (link: string, name: string, ns?: string): void => void ip(['link', 'set', link, 'name', name], ns);
export const linkSetUp = (link: string, ns?: string): void => void ip(['link', 'set', link, 'up'], ns);
export const linkSetMtu = (link: string, mtu: number, ns?: string): void => void ip(['link', 'set', link, 'mtu', String(mtu)], ns);
export const linkSetMac = (link: string, mac: string, ns?: string): void => void ip(['link', 'set', link, 'address', mac], ns);
export const linkDel = (link: string, ns?: string): void => void ip(['link', 'del', link], ns);
export const addrAdd = (link: string, cidr: string, ns?: string): void => void ip(['addr', 'replace', cidr, 'dev', link], ns);
export const routeAdd = (dst: string, via: string | undefined, link: string | undefined, ns?: string): void =>
  void ip(['route', 'replace', dst, ...(via !== undefined ? ['via', via] : []), ...(link !== undefined ? ['dev', link] : [])], ns);

export interface LinkInfo {
  readonly ifname: string;
  readonly mtu: number;
  readonly address: string;
  readonly operstate: string;
  readonly flags: readonly string[];
}

/** The link, or undefined when it does not exist in `ns`. */
export function linkShow(link: string, ns?: string): LinkInfo | undefined {
  try {
    const j = JSON.parse(ip(['-j', 'link', 'show', 'dev', link], ns)) as LinkInfo[];
    return j[0];
  } catch {
    return undefined;
  }
}

/** The interface that routes to `dst` from `ns` (for the underlay MTU check). */
export function routeDev(dst: string, ns?: string): string | undefined {
  try {
    const j = JSON.parse(ip(['-j', 'route', 'get', dst], ns)) as { dev?: string }[];
    return j[0]?.dev;
  } catch {
    return undefined;
  }
}

/** The interface holding local address `addr` in `ns`. */
export function addrDev(addr: string, ns?: string): string | undefined {
  const j = JSON.parse(ip(['-j', 'addr', 'show'], ns)) as { ifname: string; addr_info: { local: string }[] }[];
  return j.find((l) => l.addr_info.some((a) => a.local === addr))?.ifname;
}

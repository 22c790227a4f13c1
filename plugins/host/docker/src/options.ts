/**
 * How a Docker network maps to a Weft network: the option keys a Docker user types, the rules
 * that pick the Weft network, and the translation of Docker's driver options into Weft's.
 * Pure functions only; the plugin does the lookups.
 */
import { DockerOptions, WeftOptions } from '@weft/kernel';
import { cidrContains, cidrNth, formatCidr, formatIP, formatIPv4, parseCidr, parseIP, scanIPv4 } from '@weft/net';

/** `-o weft.network=NAME` or `--ipam-opt weft.network=NAME`: the Weft network (name or ID). */
export const WEFT_NETWORK = WeftOptions.network;

/** Docker's driver options that become Weft network options, unchanged. */
const PASSED = [DockerOptions.encrypted, DockerOptions.mtu, DockerOptions.vxlanIdList] as const;

export interface MappedOptions {
  /** Weft network options (`encrypted`, MTU, pinned VXLAN IDs, the user's own keys). */
  readonly options: Readonly<Record<string, string>>;
  readonly internal: boolean;
  /** The Weft network named with `-o weft.network=NAME`, if any. */
  readonly network?: string;
}

export type Mapped = { ok: true; value: MappedOptions } | { ok: false; path: string; message: string; value: unknown };

const truthy = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === '';

/**
 * Docker's CreateNetwork Options → Weft's. `-o encrypted` is passed on as Weft's `encrypted` (so
 * the overlay decides whether it can honour it), `com.docker.network.internal` becomes Internal,
 * `weft.*` keys are this plugin's own and are not stored on the Weft network.
 */
export function mapCreateOptions(opts: Readonly<Record<string, unknown>>): Mapped {
  const raw = opts[DockerOptions.generic];
  const generic: Record<string, string> = {};
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      return { ok: false, path: `Options["${DockerOptions.generic}"]`, message: 'expected a map of driver options', value: raw };
    }
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) generic[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const options: Record<string, string> = {};
  for (const [k, v] of Object.entries(generic)) {
    if (k.startsWith('weft.')) continue;
    options[k] = v;
  }
  for (const k of PASSED) if (generic[k] !== undefined) options[k] = generic[k];
  if (DockerOptions.encrypted in options) options[DockerOptions.encrypted] = '';
  const name = generic[WEFT_NETWORK];
  if (name !== undefined && name.trim() === '') {
    return { ok: false, path: `Options["${DockerOptions.generic}"]["${WEFT_NETWORK}"]`, message: `option ${WEFT_NETWORK} is empty; give the Weft network's name`, value: name };
  }
  return {
    ok: true,
    value: { options, internal: truthy(opts[DockerOptions.internal]), ...(name !== undefined ? { network: name.trim() } : {}) },
  };
}

// ---------------------------------------------------------------------------------------------
// IPv4 helpers (pool and gateway arithmetic; the kernel codecs already checked the shapes)

/** @weft/net's parser and formatter under this module's names (addresses here were decoded already). */
export const ipv4ToNum = scanIPv4;
export const numToIpv4 = formatIPv4;
export const bare = (ip: string): string => ip.split('/')[0] ?? ip;
export const prefixLen = (cidr: string): number => Number(cidr.split('/')[1] ?? '32');

/** `10.1.0.7/24` → `10.1.0.0/24`; `fd00:1::7/64` → `fd00:1::/64`. */
export function normaliseCidr(cidr: string): string {
  if (!isV4(cidr)) {
    const c = parseCidr(cidr);
    return c.ok ? formatCidr(c.value) : cidr;
  }
  const len = prefixLen(cidr);
  const size = 2 ** (32 - len);
  return `${numToIpv4(Math.floor(ipv4ToNum(bare(cidr)) / size) * size)}/${len}`;
}

/** The first host address of a subnet, Docker's default gateway. */
export function firstHost(cidr: string): string {
  if (!isV4(cidr)) {
    const c = parseCidr(cidr);
    const a = c.ok ? cidrNth(c.value, 1) : undefined;
    return a === undefined ? '' : formatIP(a);
  }
  return numToIpv4(ipv4ToNum(bare(normaliseCidr(cidr))) + 1);
}

export function inSubnet(ip: string, cidr: string): boolean {
  if (!isV4(cidr)) {
    const c = parseCidr(cidr);
    const a = parseIP(bare(ip));
    return c.ok && a.ok && cidrContains(c.value, a.value);
  }
  const len = prefixLen(cidr);
  const size = 2 ** (32 - len);
  return Math.floor(ipv4ToNum(bare(ip)) / size) === Math.floor(ipv4ToNum(bare(cidr)) / size);
}

export const isV4 = (s: string): boolean => /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(s);

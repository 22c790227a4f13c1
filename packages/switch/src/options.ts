/** Network options with Docker's meaning, decoded from CreateNetwork's Options. */
import { overlayDefaultMtu } from '@weft/net';
import { DATAPLANE_CHOICES, DockerOptions, WeftOptions, type CreateNetworkRequest, type DataPlaneChoice } from '@weft/kernel';

export const VNI_MIN = 4096;
export const VNI_MAX = 2 ** 24 - 1;
/** Over an IPv4 underlay; an IPv6 underlay's outer header is 20 bytes longer (1430, `overlayDefaultMtu`). */
export const DEFAULT_MTU = 1450;
/** Encrypted frames carry the cipher's envelope; Docker's encrypted overlay drops to 1424. */
export const MIN_MTU = 576;
/** IPv6's minimum link MTU (RFC 8200 §5); Linux disables IPv6 on a link below it. */
export const MIN_MTU_IPV6 = 1280;

export interface NetworkSpec {
  readonly id: string;
  readonly vni: number;
  readonly mtu: number;
  readonly encrypted: boolean;
  readonly internal: boolean;
  /** `10.0.0.1/24` per IPv4 subnet with a gateway, then `fd00::1/64` per IPv6 subnet with one. */
  readonly gateways: readonly string[];
  readonly subnets: readonly string[];
  readonly generic: Readonly<Record<string, string>>;
  /** `--opt weft.dataplane=`: which data plane carries it (absent: `auto`). */
  readonly dataplane?: DataPlaneChoice;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; path: string; message: string; value: unknown };

/** FNV-1a 32: a stable VNI for a network created without one (every host derives the same). */
export function derivedVni(networkId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < networkId.length; i++) h = Math.imul(h ^ networkId.charCodeAt(i), 0x01000193) >>> 0;
  return VNI_MIN + (h % (VNI_MAX - VNI_MIN + 1));
}

function truthy(v: unknown): boolean {
  return v === true || v === '' || v === 'true' || v === '1';
}

/** `underlay`: the family of this host's VTEP address, which decides the default MTU (1450 or 1430). */
export function parseNetwork(req: CreateNetworkRequest, cipherOverhead: number | undefined, underlay: 4 | 6 = 4): Parsed<NetworkSpec> {
  const opts = req.Options ?? {};
  const genericRaw = opts[DockerOptions.generic];
  const generic: Record<string, string> = {};
  if (genericRaw !== undefined && genericRaw !== null) {
    if (typeof genericRaw !== 'object' || Array.isArray(genericRaw)) {
      return { ok: false, path: `Options["${DockerOptions.generic}"]`, message: 'expected a map of driver options', value: genericRaw };
    }
    for (const [k, v] of Object.entries(genericRaw as Record<string, unknown>)) generic[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const path = (k: string) => `Options["${DockerOptions.generic}"]["${k}"]`;
  let vni = derivedVni(req.NetworkID);
  const list = generic[DockerOptions.vxlanIdList];
  if (list !== undefined && list !== '') {
    const first = list.split(',')[0]!.trim();
    const n = /^\d+$/.test(first) ? Number(first) : NaN;
    if (!(n >= 1 && n <= VNI_MAX)) {
      return { ok: false, path: path(DockerOptions.vxlanIdList), message: `VXLAN ID ${JSON.stringify(first)} is not a number from 1 to ${VNI_MAX}`, value: list };
    }
    vni = n;
  }
  const encrypted = DockerOptions.encrypted in generic ? truthy(generic[DockerOptions.encrypted]) : false;
  let mtu = underlay === 6 ? overlayDefaultMtu(6) : DEFAULT_MTU;
  const mtuRaw = generic[DockerOptions.mtu];
  if (mtuRaw !== undefined && mtuRaw !== '') {
    const n = /^\d+$/.test(mtuRaw) ? Number(mtuRaw) : NaN;
    if (!(n >= MIN_MTU && n <= 65_000)) {
      return { ok: false, path: path(DockerOptions.mtu), message: `MTU ${JSON.stringify(mtuRaw)} must be a number from ${MIN_MTU} to 65000`, value: mtuRaw };
    }
    mtu = n;
  }
  if (encrypted) {
    if (cipherOverhead === undefined) {
      return { ok: false, path: path(DockerOptions.encrypted), message: 'encryption was requested but no cipher plugin is loaded (load @weft/sodium or @weft/aes-gcm)', value: generic[DockerOptions.encrypted] };
    }
    // Leave room for the envelope inside the same underlay packet, 4-byte aligned as Docker does.
    mtu = Math.floor((mtu - cipherOverhead) / 4) * 4;
  }
  let dataplane: DataPlaneChoice | undefined;
  const dpRaw = generic[WeftOptions.dataplane];
  if (dpRaw !== undefined && dpRaw !== '') {
    if (!(DATAPLANE_CHOICES as readonly string[]).includes(dpRaw)) {
      return { ok: false, path: path(WeftOptions.dataplane), message: `data plane ${JSON.stringify(dpRaw)} is not one of ${DATAPLANE_CHOICES.join(', ')}`, value: dpRaw };
    }
    dataplane = dpRaw as DataPlaneChoice;
  }
  if (dataplane === 'kernel' && encrypted) {
    return {
      ok: false,
      path: path(WeftOptions.dataplane),
      message: 'an encrypted network cannot use the kernel data plane: it carries VXLAN in plaintext, and Weft never sends an encrypted network in clear (use weft.dataplane=auto or userspace)',
      value: dpRaw,
    };
  }
  const internal = truthy(opts[DockerOptions.internal]);
  const v4 = req.IPv4Data ?? [];
  const v6 = req.IPv6Data ?? [];
  if (v6.length > 0 && mtu < MIN_MTU_IPV6) {
    return {
      ok: false,
      path: path(DockerOptions.mtu),
      message: `MTU ${mtu}${encrypted ? ` (after the ${cipherOverhead}-byte encryption envelope)` : ''} is below IPv6's minimum link MTU of ${MIN_MTU_IPV6}; the network's IPv6 subnet could not be used`,
      value: mtuRaw ?? mtu,
    };
  }
  for (const d of [...v4.map((x) => [x, 4] as const), ...v6.map((x) => [x, 6] as const)]) {
    const [data, family] = d;
    if (data.Pool.includes(':') !== (family === 6)) {
      const field = family === 6 ? 'IPv6Data' : 'IPv4Data';
      return { ok: false, path: field, message: `pool ${data.Pool} in ${field} is not an IPv${family} subnet`, value: data.Pool };
    }
  }
  return {
    ok: true,
    value: {
      id: req.NetworkID,
      vni,
      mtu,
      encrypted,
      internal,
      gateways: [...v4, ...v6].map((d) => d.Gateway ?? '').filter((g) => g !== ''),
      subnets: [...v4.map((d) => d.Pool), ...(req.IPv6Data ?? []).map((d) => d.Pool)],
      generic,
      ...(dataplane !== undefined ? { dataplane } : {}),
    },
  };
}

/**
 * What a network's subnets must be before anything is created for it, wherever it is created (the
 * control plane for swarm networks, the engine for local ones, the Docker plugin): a network whose
 * IPv6 subnet can never be used must be refused at create, with the reason, and never accepted to
 * fail at every attach (issue #22: `--subnet fd00:60::/64` without `--ipv6` used to be recorded,
 * then each attach failed with `Pool "fd00:60::/64" is IPv6 but the request has V6=false`).
 *
 * Rules, checked per subnet in the order given:
 * - the subnet parses as a CIDR;
 * - it overlaps no link-local (169.254.0.0/16, fe80::/10), multicast (224.0.0.0/4, ff00::/8),
 *   loopback (127.0.0.0/8, ::1/128) or unspecified (0.0.0.0/8, ::/128) range: no endpoint
 *   address from such a subnet could ever carry unicast traffic across hosts;
 * - a network has IPv4 or IPv6: `EnableIPv4: false` (Docker's `--ipv4=false`) needs `EnableIPv6`
 *   (an IPv6-only network), and then no IPv4 subnet may be given;
 * - an IPv6 subnet needs `EnableIPv6` (Docker's `--ipv6`);
 * - an IPv6 prefix is /48 to /120: hosts take /124 blocks of 16 addresses (a /120 holds 16 of
 *   them), and IPAM allocates within the first 2^64 addresses, which a /48's first /64 holds;
 * - the gateway, ip-range and auxiliary addresses are of the subnet's family.
 *
 * Pure: no I/O, no state; returns the first problem as a coded `BadRequest`.
 */
import { errors, raise, type WeftError } from '@weft/kernel';
import { cidrOverlaps, formatCidr, parseCidr, parseIP, type Cidr } from '@weft/net';

/** A subnet as `network create` gives it (Docker's IPAM config); empty or absent Subnet: IPAM picks. */
export interface SubnetRequest {
  readonly Subnet?: string;
  readonly Gateway?: string;
  readonly IPRange?: string;
  readonly AuxiliaryAddresses?: Readonly<Record<string, string>>;
  readonly AuxAddresses?: Readonly<Record<string, string>>;
}

/** Shortest and longest IPv6 prefix a network may have (see the module comment). */
export const IPV6_MIN_PREFIX = 48;
export const IPV6_MAX_PREFIX = 120;

/** Stable code of every refusal below. */
export const SubnetCodes = { badSubnet: 'WEFT_NETWORK_BAD_SUBNET' } as const;

const must = (s: string): Cidr => {
  const r = parseCidr(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

/** Ranges no network subnet may overlap, with what they are. */
const RESERVED: readonly { readonly range: Cidr; readonly what: string }[] = [
  { range: must('0.0.0.0/8'), what: 'the unspecified ("this network") range 0.0.0.0/8' },
  { range: must('127.0.0.0/8'), what: 'the loopback range 127.0.0.0/8' },
  { range: must('169.254.0.0/16'), what: 'the link-local range 169.254.0.0/16' },
  { range: must('224.0.0.0/4'), what: 'the multicast range 224.0.0.0/4' },
  { range: must('::/128'), what: 'the unspecified address ::' },
  { range: must('::1/128'), what: 'the loopback address ::1' },
  { range: must('fe80::/10'), what: 'the link-local range fe80::/10' },
  { range: must('ff00::/8'), what: 'the multicast range ff00::/8' },
];

/** What reserved range `c` overlaps (link-local, multicast, loopback, unspecified), or undefined. */
export function reservedOverlap(c: Cidr): string | undefined {
  for (const r of RESERVED) if (r.range.family === c.family && cidrOverlaps(r.range, c)) return r.what;
  return undefined;
}

/**
 * The first problem with `subnets` for network `name`, or undefined. `plugin` is who refuses.
 * `enableIPv4` false (Docker's `--ipv4=false`): an IPv6-only network.
 */
export function subnetProblem(plugin: string, name: string, enableIPv6: boolean, subnets: readonly SubnetRequest[], enableIPv4 = true): WeftError | undefined {
  const bad = (message: string, value: string, path: string, hint: string): WeftError =>
    errors.badRequest(plugin, `Cannot create network "${name}": ${message}`, { code: SubnetCodes.badSubnet, path, value, hint });
  if (!enableIPv4 && !enableIPv6) {
    return errors.badRequest(plugin, `Cannot create network "${name}": IPv4 is disabled (--ipv4=false) and IPv6 is not enabled, so the network would have no addresses at all`, {
      code: SubnetCodes.badSubnet,
      path: 'EnableIPv4',
      value: false,
      hint: 'Add --ipv6 for an IPv6-only network, or drop --ipv4=false.',
    });
  }
  for (let i = 0; i < subnets.length; i++) {
    const s = subnets[i]!;
    const at = `IPAM.Config[${i}]`;
    if (s.Subnet === undefined || s.Subnet === '') continue;
    const parsed = parseCidr(s.Subnet);
    if (!parsed.ok) return bad(`subnet: ${parsed.error}`, s.Subnet, `${at}.Subnet`, 'Give the subnet as address/prefix-length, such as 10.0.9.0/24 or fd00:9::/64.');
    const c = parsed.value;
    const text = formatCidr(c);
    const reserved = reservedOverlap(c);
    if (reserved !== undefined) {
      return bad(`subnet ${text} overlaps ${reserved}; its addresses cannot carry traffic between hosts`, s.Subnet, `${at}.Subnet`, 'Choose a private range: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, or an IPv6 ULA such as fd00:1::/64.');
    }
    if (c.family === 4 && !enableIPv4) {
      return bad(`subnet ${text} is IPv4 but the network disables IPv4 (--ipv4=false): it is IPv6-only`, s.Subnet, `${at}.Subnet`, 'Drop the IPv4 subnet for an IPv6-only network, or drop --ipv4=false for a dual-stack one.');
    }
    if (c.family === 6) {
      if (!enableIPv6) {
        return bad(`subnet ${text} is IPv6 but the network does not enable IPv6`, s.Subnet, `${at}.Subnet`, 'Add --ipv6 to create a dual-stack (or IPv6-only) network, or drop the IPv6 subnet.');
      }
      if (c.prefix < IPV6_MIN_PREFIX || c.prefix > IPV6_MAX_PREFIX) {
        return bad(
          `IPv6 subnet ${text} has prefix length /${c.prefix}; an IPv6 subnet must be /${IPV6_MIN_PREFIX} to /${IPV6_MAX_PREFIX} (hosts take blocks of 16 addresses, /124, and at least 16 of them must fit)`,
          s.Subnet,
          `${at}.Subnet`,
          'Use a /64, the usual IPv6 subnet size.',
        );
      }
    }
    const family = (what: string, path: string, value: string, isCidr: boolean): WeftError | undefined => {
      const r = isCidr ? parseCidr(value) : parseIP(value.split('/')[0] ?? value);
      if (!r.ok) return bad(`${what} ${JSON.stringify(value)} of subnet ${text}: ${r.error}`, value, path, `Give an IPv${c.family} ${isCidr ? 'range' : 'address'} inside ${text}.`);
      if (r.value.family !== c.family) {
        return bad(`${what} ${value} is IPv${r.value.family} but subnet ${text} is IPv${c.family}`, value, path, `Give an IPv${c.family} ${isCidr ? 'range' : 'address'} inside ${text}, or put ${value} with a subnet of its own family.`);
      }
      return undefined;
    };
    if (s.Gateway !== undefined && s.Gateway !== '') {
      const p = family('gateway', `${at}.Gateway`, s.Gateway, false);
      if (p !== undefined) return p;
    }
    if (s.IPRange !== undefined && s.IPRange !== '') {
      const p = family('ip-range', `${at}.IPRange`, s.IPRange, true);
      if (p !== undefined) return p;
    }
    for (const [k, a] of Object.entries(s.AuxiliaryAddresses ?? s.AuxAddresses ?? {})) {
      const p = family(`auxiliary address ${k}=`, `${at}.AuxiliaryAddresses.${k}`, a, false);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

/** `subnetProblem`, thrown (as a `WeftException`) when there is one. */
export function checkSubnets(plugin: string, name: string, enableIPv6: boolean, subnets: readonly SubnetRequest[], enableIPv4 = true): void {
  const p = subnetProblem(plugin, name, enableIPv6, subnets, enableIPv4);
  if (p !== undefined) raise(p);
}

/** IP family of a CIDR or bare address text (undefined when it parses as neither). */
export function familyOf(s: string): 4 | 6 | undefined {
  const r = parseIP(s.split('/')[0] ?? s);
  return r.ok ? r.value.family : undefined;
}

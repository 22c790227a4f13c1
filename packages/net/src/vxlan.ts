/**
 * VXLAN header (RFC 7348 §5).
 *
 *   0  flags(8) = 0x08 (I bit: VNI valid)   reserved(24)
 *   4  VNI(24)                               reserved(8)
 *
 * This is exactly what the Linux kernel `vxlan` device sends and expects
 * (without the optional GBP/GPE extensions), so Weft VTEPs interoperate with
 * kernel VTEPs and with Docker's overlay driver. The IANA port is 4789
 * (RFC 7348 §5). Note that the Linux kernel's own default destination port is
 * the pre-standard 8472 unless the device is created with `dstport 4789`;
 * Docker creates its devices with 4789.
 *
 * Per §5 the reserved fields and the other flag bits MUST be zero on
 * transmit and MUST be ignored on receipt: `writeVxlanHeader` zeroes them and
 * `vxlanVni` ignores them. Only a missing I bit is rejected.
 */
export const VXLAN_PORT = 4789;
export const VXLAN_LINUX_LEGACY_PORT = 8472;
export const VXLAN_HEADER_LEN = 8;
export const VXLAN_FLAG_I = 0x08;
export const VXLAN_VNI_MAX = 0xffffff;
/** Outer overhead on IPv4: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD_IPV4 = 50;
/** Outer overhead on IPv6: 14 + 40 + 8 + 8. */
export const VXLAN_OVERHEAD_IPV6 = 70;
/** Outer overhead of VXLAN over an underlay of `family`. */
export const vxlanOverhead = (family: 4 | 6): number => (family === 6 ? VXLAN_OVERHEAD_IPV6 : VXLAN_OVERHEAD_IPV4);
/** An overlay's default MTU on a 1500-byte underlay of `family`: 1450 over IPv4, 1430 over IPv6. */
export const overlayDefaultMtu = (family: 4 | 6): number => 1500 - vxlanOverhead(family);

/**
 * Why a peer cannot be a VXLAN peer of this host: its VTEP is of the other address family (VXLAN
 * cannot cross families, frames sent there would be lost without a word). One message for every
 * data path; each raises it with its own error code and `VTEP_FAMILY_HINT`.
 */
export const vtepFamilyMismatch = (peer: { readonly mac: string; readonly node?: string | undefined; readonly vtep: string }, network: string, peerFamily: 4 | 6, localAddr: string, localFamily: 4 | 6): string =>
  `Peer ${peer.mac}${peer.node !== undefined ? ` on node "${peer.node}"` : ''} in network "${network}" has its VTEP at ${peer.vtep} (IPv${peerFamily}), but this host's data path is on ${localAddr} (IPv${localFamily}): VXLAN between them would be lost`;
export const VTEP_FAMILY_HINT = 'Give every node of the network a --data-path-addr of one address family.';

/** Writes the 8-byte header; returns the offset of the inner Ethernet frame. Caller guarantees room and 0 <= vni <= 0xffffff. */
export const writeVxlanHeader = (buf: Uint8Array, off: number, vni: number): number => {
  buf[off] = VXLAN_FLAG_I;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = vni >>> 16;
  buf[off + 5] = vni >>> 8;
  buf[off + 6] = vni;
  buf[off + 7] = 0;
  return off + VXLAN_HEADER_LEN;
};

/** The VNI of the header at `off`, or `-1` if truncated or the I flag is unset. The inner frame starts at off + 8. */
export const vxlanVni = (buf: Uint8Array, off = 0, end = buf.length): number => {
  if (off < 0 || off + VXLAN_HEADER_LEN > Math.min(end, buf.length)) return -1;
  if ((buf[off]! & VXLAN_FLAG_I) === 0) return -1;
  return (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!;
};

/** Allocating helper: encodes a header into a fresh 8-byte array; throws RangeError on an out-of-range VNI (a programming error). */
export const encodeVxlan = (vni: number): Uint8Array => {
  if (!Number.isInteger(vni) || vni < 0 || vni > VXLAN_VNI_MAX) throw new RangeError(`VNI ${vni} is out of range (0-16777215)`);
  const b = new Uint8Array(VXLAN_HEADER_LEN);
  writeVxlanHeader(b, 0, vni);
  return b;
};

export interface VxlanHeader {
  readonly vni: number;
  /** Offset of the inner Ethernet frame. */
  readonly payloadOffset: number;
}

/** Allocating convenience decoder. */
export const decodeVxlan = (buf: Uint8Array, off = 0, end = buf.length): VxlanHeader | undefined => {
  const vni = vxlanVni(buf, off, end);
  return vni < 0 ? undefined : { vni, payloadOffset: off + VXLAN_HEADER_LEN };
};

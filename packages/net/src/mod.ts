/**
 * @weft/net: pure network primitives (addresses, prefixes, frame codecs, DNS).
 * No I/O and no dependencies; runs on Node and Deno.
 */
export { ok, err, unwrap } from './result.ts';
export type { Result } from './result.ts';
export { IPV4_MAX, IPV6_MAX, ipv4, ipv6, scanIPv4, parseIPv4, formatIPv4, readIPv4, writeIPv4, parseIPv6, formatIPv6, ipv6FromBytes, ipv6ToBytes, parseIP, formatIP, compareIP, ipEquals, addIP, ipToBytes, ipValue } from './ip.ts';
export type { IPv4Address, IPv6Address, IP } from './ip.ts';
export { ipv4PrefixMask, makeCidr, parseCidr, formatCidr, cidrSize, cidrNetwork, cidrLast, cidrBroadcast, cidrContains, cidr4ContainsIPv4, cidrContainsCidr, cidrOverlaps, cidrNth, cidrIndexOf, cidrSubnetCount, cidrSubnetAt, cidrSubnets, cidrNext, compareCidr, cidrEquals } from './cidr.ts';
export type { Cidr4, Cidr6, Cidr, ParseCidrOptions } from './cidr.ts';
export { MAC_BROADCAST, parseMac, formatMac, readMac, writeMac, macFromBytes, macToBytes, isMulticastMac, isBroadcastMac, isUnicastMac, isLocallyAdministeredMac, randomMac, macFromIPv4, parseDockerMac, formatDockerMac } from './mac.ts';
export { checksumAdd, checksumAdd16, checksumAdd32, checksumFold, checksumFinish, internetChecksum, checksumUpdate16, checksumUpdate32 } from './checksum.ts';
export { ETH_HEADER_LEN, ETH_ADDR_LEN, ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETH_MAX_VLAN_TAGS, ethDst, ethSrc, ethPayloadOffset, ethType, ethVlanId, writeEthHeader, decodeEthernet } from './ethernet.ts';
export type { EthernetHeader } from './ethernet.ts';
export { ARP_LEN, ARP_OP_REQUEST, ARP_OP_REPLY, arpValid, arpOp, arpSenderMac, arpSenderIp, arpTargetMac, arpTargetIp, writeArp, writeArpReplyFrame, decodeArp } from './arp.ts';
export type { ArpPacket } from './arp.ts';
export { IPV4_MIN_HEADER_LEN, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, ipv4HeaderLength, ipv4Tos, ipv4TotalLength, ipv4Id, ipv4Flags, ipv4FragmentOffset, ipv4Ttl, ipv4Protocol, ipv4Checksum, ipv4Src, ipv4Dst, ipv4ComputeChecksum, ipv4ChecksumValid, ipv4SetChecksum, writeIPv4Header, decodeIPv4 } from './ipv4.ts';
export type { IPv4HeaderFields, IPv4Header } from './ipv4.ts';
export { IPV6_HEADER_LEN, ipv6Valid, ipv6TrafficClass, ipv6FlowLabel, ipv6PayloadLength, ipv6NextHeader, ipv6HopLimit, ipv6SrcOffset, ipv6DstOffset, ipv6Src, ipv6Dst, ipv6BytesEqual, writeIPv6Header, decodeIPv6 } from './ipv6.ts';
export type { IPv6HeaderFields, IPv6Header } from './ipv6.ts';
export { UDP_HEADER_LEN, udpLength, udpSrcPort, udpDstPort, udpChecksum, writeUdpHeader, pseudoHeaderSumIPv4, pseudoHeaderSumIPv6, udpComputeChecksumIPv4, udpComputeChecksumIPv6, udpSetChecksum, udpChecksumValidIPv4, udpChecksumValidIPv6, decodeUdp } from './udp.ts';
export type { UdpHeader } from './udp.ts';
export { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_NEIGHBOR_SOLICITATION, ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMP_ECHO_HEADER_LEN, NDP_HEADER_LEN, NDP_OPT_SOURCE_LINK_ADDR, NDP_OPT_TARGET_LINK_ADDR, NA_FLAG_ROUTER, NA_FLAG_SOLICITED, NA_FLAG_OVERRIDE, icmpValid, icmpType, icmpCode, icmpChecksum, icmpEchoId, icmpEchoSeq, icmpComputeChecksum, icmpChecksumValid, icmpv6ComputeChecksum, icmpv6ChecksumValid, writeIcmpEcho, writeIcmpEchoReply, writeIcmpv6EchoReply, ndpNsValid, ndpTargetOffset, ndpLinkAddrOption, writeNeighborAdvertisement, writeNeighborSolicitation, NA_FRAME_LEN, writeNeighborAdvertisementFrame } from './icmp.ts';
export { VXLAN_PORT, VXLAN_LINUX_LEGACY_PORT, VXLAN_HEADER_LEN, VXLAN_FLAG_I, VXLAN_VNI_MAX, VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6, vxlanOverhead, overlayDefaultMtu, vtepFamilyMismatch, VTEP_FAMILY_HINT, writeVxlanHeader, vxlanVni, encodeVxlan, decodeVxlan } from './vxlan.ts';
export type { VxlanHeader } from './vxlan.ts';
export { DNS_TYPE, DNS_CLASS_IN, DNS_RCODE, DNS_OPCODE_QUERY, DNS_HEADER_LEN, DNS_UDP_MIN, DNS_EDNS_UDP_SIZE, normalizeDnsName, dnsNameEquals, validateDnsName, parseDnsMessage, classifyDnsQuery, buildDnsResponse, buildDnsError, buildDnsFormErr, buildDnsQuery } from './dns.ts';
export type { DnsQuestion, DnsRecord, DnsEdns, DnsMessage, DnsQueryVerdict, DnsAnswer, DnsResponseOptions, DnsQueryOptions } from './dns.ts';
export { joinHostPort, splitHostPort, canonicalIP, ipFamily } from './hostport.ts';
export { crc32Update, crc32, crc32Parts } from './crc32.ts';
export { interfaceName } from './ifname.ts';

/**
 * @weft/sys — host access for the data path: one small syscall interface (`Sys`) with a Node
 * adapter (koffi) and a Deno adapter (Deno.dlopen), and runtime-neutral helpers on top: TAP
 * devices, UDP sockets for batched I/O, setns, iproute2, and a root test harness.
 */
export { O_RDONLY, O_RDWR, O_NONBLOCK, O_CLOEXEC, F_GETFL, F_SETFL, TUNSETIFF, TUNSETPERSIST, TUNGETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, IFF_TAP, IFF_NO_PI, IFF_MULTI_QUEUE, IFF_VNET_HDR, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, CLONE_NEWNET, PRIO_PROCESS, AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_CLOEXEC, SOL_SOCKET, SO_REUSEADDR, SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE, IPPROTO_UDP, SOL_UDP, UDP_SEGMENT, UDP_GRO, MSG_DONTWAIT, POLLIN, POLLOUT, EPOLLIN, EFD_NONBLOCK, EFD_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_CLOEXEC, EPOLL_EVENT_SIZE, EPOLL_DATA_OFFSET, SIOCADDRT, SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFNETMASK, SIOCGIFMTU, SIOCSIFMTU, SIOCSIFNAME, SIOCSIFHWADDR, SIOCGIFINDEX, IFF_UP, ARPHRD_ETHER, RTF_UP, RTF_GATEWAY, SIZEOF_RTENTRY, EINTR, EAGAIN, ENOENT, EBUSY, EEXIST, ENODEV, EINVAL, SIZEOF_IFREQ, SIZEOF_SOCKADDR_IN, SIZEOF_SOCKADDR_IN6, SIZEOF_IOVEC, SIZEOF_MSGHDR, SIZEOF_MMSGHDR, SIZEOF_POLLFD, SIZEOF_CMSGHDR, VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_ECN } from './types.ts';
export type { Mem, Sys } from './types.ts';
export { loadSys, SysError, errnoName, check, scratchOf, cstr } from './host.ts';
export { openTap, setTapPersist, setTapOffload, setVnetHdrSize, setNonblocking } from './tun.ts';
export type { TapOptions, Tap } from './tun.ts';
export { netnsPath, withNetns } from './netns.ts';
export { createNsListeners } from './ns-listeners.ts';
export type { NsListeners, NsListenOptions, NsMessage, NsHandler } from './ns-listeners.ts';
export { parseIPv4, parseIPv6Bytes, writeSockaddrIn, writeSockaddrIn6, setsockoptInt, udpSocket, formatIPv4 } from './udp.ts';
export type { UdpOptions } from './udp.ts';
export { ip, netnsAdd, netnsDel, netnsList, linkSetNetns, linkSetName, linkSetUp, linkSetMtu, linkSetMac, linkDel, addrAdd, routeAdd, linkShow, routeDev, addrDev } from './ip.ts';
export type { LinkInfo } from './ip.ts';
export { linkIndex, linkMtu, configureLink } from './netdev.ts';
export type { LinkConfig } from './netdev.ts';
export { isRoot, rootSkipReason, createLab, withLab, twoHosts } from './harness.ts';
export { runtimeName, runtimeVersion, evalCommand, scriptCommand, workerSource } from './runtime.ts';
export { openLibrary } from './ffi.ts';
export type { FfiArg, FfiResult, FfiSignature, FfiFunction, FfiLibrary } from './ffi.ts';
export type { Lab, TwoHosts } from './harness.ts';
export {
  openNetlink, openNetnsFd, NlMessage, NetlinkError, nlLinkAdd, nlLinkSet, nlLinkDel, nlAddrAdd, nlRouteAdd, nlFdbAdd, nlFdbDel, nlNeighAdd, nlNeighDel, nlLinkList, nlNeighList,
  AF_BRIDGE, AF_INET6, NTF_SELF, NTF_MASTER, NUD_PERMANENT, NUD_NOARP, macBytes, ipv6Bytes,
} from './netlink.ts';
export type { Netlink, LinkSpec, NeighSpec, LinkStats, LinkRow, NeighRow, NlReply } from './netlink.ts';

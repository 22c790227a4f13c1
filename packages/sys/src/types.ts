/**
 * The one host-access interface: raw Linux syscalls over pinned memory. Adapters (`node.ts` via
 * koffi, `deno.ts` via Deno.dlopen) implement exactly this; everything else in @weft/sys (TAP,
 * UDP, netns helpers) is written once on top of it.
 *
 * Conventions: buffers are passed as addresses of pinned memory from `alloc` so they can also be
 * referenced from kernel structures (iovec, mmsghdr); calls return what libc returns (-1 on
 * failure) and `errno()` reads the calling thread's errno right after.
 */

/** Pinned native memory: `bytes` views it, `addr` is its address for syscalls and structs. */
export interface Mem {
  readonly bytes: Uint8Array;
  readonly addr: number;
}

export interface Sys {
  readonly runtime: 'node' | 'deno' | 'bun';
  /** Zeroed pinned memory; lives until process exit. Allocate once, reuse (hot paths never allocate). */
  alloc(len: number): Mem;
  errno(): number;
  /** `path` is a NUL-terminated C string in pinned memory (see `cstr`). */
  open(path: number, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, req: number, arg: number): number;
  read(fd: number, buf: number, len: number): number;
  write(fd: number, buf: number, len: number): number;
  readv(fd: number, iov: number, cnt: number): number;
  writev(fd: number, iov: number, cnt: number): number;
  poll(fds: number, nfds: number, timeoutMs: number): number;
  /** ppoll(2): `timeout` is the address of a `struct timespec` (0: wait forever); `sigmask` 0 keeps the mask. */
  ppoll(fds: number, nfds: number, timeout: number, sigmask: number): number;
  /** eventfd(2): a counter fd another thread writes to wake a poller. */
  eventfd(initval: number, flags: number): number;
  epoll_create1(flags: number): number;
  /** `event` is the address of a `struct epoll_event` (see EPOLL_EVENT_SIZE). */
  epoll_ctl(epfd: number, op: number, fd: number, event: number): number;
  epoll_wait(epfd: number, events: number, maxEvents: number, timeoutMs: number): number;
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, proto: number): number;
  bind(fd: number, sa: number, saLen: number): number;
  setsockopt(fd: number, level: number, name: number, val: number, len: number): number;
  getsockopt(fd: number, level: number, name: number, val: number, lenPtr: number): number;
  sendto(fd: number, buf: number, len: number, flags: number, sa: number, saLen: number): number;
  recvfrom(fd: number, buf: number, len: number, flags: number, sa: number, saLenPtr: number): number;
  sendmsg(fd: number, msg: number, flags: number): number;
  recvmsg(fd: number, msg: number, flags: number): number;
  sendmmsg(fd: number, vec: number, vlen: number, flags: number): number;
  recvmmsg(fd: number, vec: number, vlen: number, flags: number, timeout: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  /** The calling thread's id (for per-thread scheduling). */
  gettid(): number;
  /** setpriority(2); with PRIO_PROCESS and a thread id it sets that thread's nice value. */
  setpriority(which: number, who: number, prio: number): number;
  /** sched_yield(2): let another runnable thread on this CPU run first. */
  sched_yield(): number;
}

// Linux x86-64 / aarch64 constants (asm-generic ioctl encoding).
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const F_GETFL = 3;
export const F_SETFL = 4;

export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNGETIFF = 0x800454d2;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUNSETVNETHDRSZ = 0x400454d8;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_VNET_HDR = 0x4000;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;

export const CLONE_NEWNET = 0x40000000;
export const PRIO_PROCESS = 0;

export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0x800;
export const SOCK_CLOEXEC = 0x80000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_UDP = 17;
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
export const MSG_DONTWAIT = 0x40;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const EPOLLIN = 0x1;
export const EFD_NONBLOCK = 0x800;
export const EFD_CLOEXEC = 0x80000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLL_CLOEXEC = 0x80000;
/** `struct epoll_event` is packed on x86-64 (12 bytes, data at 4) and naturally aligned elsewhere (16, data at 8). */
export const EPOLL_EVENT_SIZE = typeof process !== 'undefined' && process.arch === 'x64' ? 12 : 16;
export const EPOLL_DATA_OFFSET = EPOLL_EVENT_SIZE === 12 ? 4 : 8;

// Network-device ioctls on an AF_INET socket (include/uapi/linux/sockios.h).
export const SIOCADDRT = 0x890b;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCSIFADDR = 0x8916;
export const SIOCSIFNETMASK = 0x891c;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const SIOCSIFNAME = 0x8923;
export const SIOCSIFHWADDR = 0x8924;
export const SIOCGIFINDEX = 0x8933;
export const IFF_UP = 0x1;
export const ARPHRD_ETHER = 1;
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;
export const SIZEOF_RTENTRY = 120;

export const EINTR = 4;
export const EAGAIN = 11;
export const ENOENT = 2;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;

/** Sizes of kernel structs on 64-bit Linux. */
export const SIZEOF_IFREQ = 40;
export const SIZEOF_SOCKADDR_IN = 16;
/** `struct sockaddr_in6`: family, port, flowinfo, 16-byte address, scope id. */
export const SIZEOF_SOCKADDR_IN6 = 28;
export const AF_INET6_SOCK = 10;
export const SIZEOF_IOVEC = 16;
export const SIZEOF_MSGHDR = 56;
export const SIZEOF_MMSGHDR = 64;
export const SIZEOF_POLLFD = 8;
export const SIZEOF_CMSGHDR = 16;
/** `struct virtio_net_hdr` (without num_buffers), what IFF_VNET_HDR prefixes to each frame. */
export const VNET_HDR_LEN = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EAGAIN, MSG_DONTWAIT, SIZEOF_SOCKADDR_IN, VNET_HDR_LEN, linkShow, loadSys, openTap, parseIPv4, rootSkipReason,
  udpSocket, withLab, withNetns, writeSockaddrIn, ip, cstr, O_RDONLY, check, configureLink, linkIndex, linkMtu,
  EPOLL_CTL_ADD, EPOLLIN, EPOLL_EVENT_SIZE, EPOLL_DATA_OFFSET, SIZEOF_SOCKADDR_IN as SA, runtimeName,
} from './mod.ts';

const skip = rootSkipReason();
const rootTest = (name: string, fn: () => Promise<void>) => {
  if (skip !== undefined) test(name, () => console.log(`  skipped "${name}": ${skip}`));
  else test(name, fn);
};

test('the adapter loads and reports errno', async () => {
  const sys = await loadSys();
  assert.is(sys.runtime, runtimeName());
  assert.is(sys.open(cstr(sys, '/nonexistent/weft'), O_RDONLY), -1);
  assert.is(sys.errno(), 2);
  assert.throws(() => check(sys, -1, 'probe'), /probe failed/);
});

test('parseIPv4 and sockaddr_in layout', () => {
  assert.is(parseIPv4('198.18.0.1'), 0xc6120001);
  const b = new Uint8Array(16);
  writeSockaddrIn(b, 0, parseIPv4('10.1.2.3'), 4789);
  assert.equal([...b.subarray(0, 8)], [2, 0, 0x12, 0xb5, 10, 1, 2, 3]);
  assert.throws(() => parseIPv4('1.2.3.256'));
});

rootTest('a persistent TAP created inside a namespace survives close and is re-attached', () =>
  withLab('sys', async (lab) => {
    const sys = await loadSys();
    const ns = lab.netns('a');
    const tap = withNetns(sys, ns, () => openTap(sys, 'wtap0', { persist: true, nonblock: true }));
    assert.is(tap.name, 'wtap0');
    assert.ok(linkShow('wtap0', ns), 'TAP visible in the namespace');
    assert.is(linkShow('wtap0'), undefined, 'not in the root namespace');
    ip(['addr', 'add', '10.9.0.1/24', 'dev', 'wtap0'], ns);
    ip(['link', 'set', 'wtap0', 'up'], ns);
    sys.close(tap.fd);
    assert.ok(linkShow('wtap0', ns), 'persistent TAP outlives its fd');
    const again = withNetns(sys, ns, () => openTap(sys, 'wtap0', { nonblock: true }));
    // The kernel resolves 10.9.0.2 with ARP out of the TAP: read it back, behind a virtio_net_hdr.
    lab.run(ns, 'ping', ['-c', '1', '-W', '1', '10.9.0.2']);
    const m = sys.alloc(2048);
    // Skip IPv6 chatter (router solicitations, MLD) until the ARP request shows up.
    let arp = false;
    for (let i = 0; i < 100 && !arp; i++) {
      const n = sys.read(again.fd, m.addr, 2048);
      if (n < 0) {
        assert.is(sys.errno(), EAGAIN);
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      assert.ok(n > VNET_HDR_LEN + 14, `read a frame (${n})`);
      arp = ((m.bytes[VNET_HDR_LEN + 12]! << 8) | m.bytes[VNET_HDR_LEN + 13]!) === 0x0806;
    }
    assert.ok(arp, 'the kernel ARP request came out of the re-attached TAP');
    sys.close(again.fd);
  }));

rootTest('UDP socket bound inside a namespace: sendto/recvfrom over loopback', () =>
  withLab('sys', async (lab) => {
    const sys = await loadSys();
    const ns = lab.netns('u');
    const fd = withNetns(sys, ns, () => udpSocket(sys, { addr: '127.0.0.1', port: 4789, nonblock: true, gro: true, rcvbuf: 1 << 20 }));
    const m = sys.alloc(4096);
    writeSockaddrIn(m.bytes, 0, parseIPv4('127.0.0.1'), 4789);
    m.bytes.set([1, 2, 3, 4], 64);
    assert.is(sys.sendto(fd, m.addr + 64, 4, 0, m.addr, SIZEOF_SOCKADDR_IN), 4);
    const n = sys.recvfrom(fd, m.addr + 1024, 2048, MSG_DONTWAIT, 0, 0);
    assert.is(n, 4);
    assert.equal([...m.bytes.subarray(1024, 1028)], [1, 2, 3, 4]);
    sys.close(fd);
  }));

rootTest('configureLink: rename, MAC, MTU, IPv4, up and default route by ioctl, no ip process', () =>
  withLab('sys', async (lab) => {
    const sys = await loadSys();
    const ns = lab.netns('c');
    const tap = withNetns(sys, ns, () => openTap(sys, 'wtmp0', { persist: true, nonblock: true }));
    assert.is(linkIndex(sys, 'nope0', ns), undefined);
    assert.ok((linkIndex(sys, 'wtmp0', ns) ?? 0) > 0);
    const dev = configureLink(sys, 'wtmp0', { rename: 'eth0', mac: '02:42:0a:00:00:07', mtu: 1400, ipv4: '10.7.0.7/16', gateway: '10.7.0.1', up: true }, `/run/netns/${ns}`);
    assert.is(dev, 'eth0');
    const l = linkShow('eth0', ns);
    assert.is(l?.address, '02:42:0a:00:00:07');
    assert.is(l?.mtu, 1400);
    assert.ok(l?.flags.includes('UP'));
    assert.is(linkMtu(sys, 'eth0', ns), 1400);
    assert.match(ip(['-4', 'addr', 'show', 'dev', 'eth0'], ns), /10\.7\.0\.7\/16/);
    assert.match(ip(['route', 'show', 'default'], ns), /default via 10\.7\.0\.1 dev eth0/);
    // Again: the existing route is kept (EEXIST is not an error).
    configureLink(sys, 'eth0', { gateway: '10.7.0.1' }, ns);
    assert.throws(() => configureLink(sys, 'nope0', { up: true }, ns), /nope0.*ENODEV/);
    assert.throws(() => configureLink(sys, 'eth0', { ipv4: '10.7.0.300/16' }, ns), /Bad IPv4/);
    sys.close(tap.fd);
  }));

test('epoll: a readable socket is reported with its data word', async () => {
  const sys = await loadSys();
  const ep = sys.epoll_create1(0);
  assert.ok(ep >= 0);
  const ev = sys.alloc(4 * EPOLL_EVENT_SIZE);
  const dv = new DataView(ev.bytes.buffer, ev.bytes.byteOffset);
  dv.setUint32(0, EPOLLIN, true);
  dv.setUint32(EPOLL_DATA_OFFSET, 4242, true);
  const m = sys.alloc(64);
  const fd2 = udpSocket(sys, { addr: '127.0.0.1', port: 47123, nonblock: true });
  assert.is(sys.epoll_ctl(ep, EPOLL_CTL_ADD, fd2, ev.addr), 0);
  assert.is(sys.epoll_wait(ep, ev.addr, 4, 0), 0, 'nothing readable yet');
  writeSockaddrIn(m.bytes, 0, parseIPv4('127.0.0.1'), 47123);
  assert.is(sys.sendto(fd2, m.addr + 32, 4, 0, m.addr, SA), 4);
  assert.is(sys.epoll_wait(ep, ev.addr, 4, 1000), 1);
  assert.is(dv.getUint32(0, true) & EPOLLIN, EPOLLIN);
  assert.is(dv.getUint32(EPOLL_DATA_OFFSET, true), 4242);
  sys.close(fd2);
  sys.close(ep);
});

test.run();

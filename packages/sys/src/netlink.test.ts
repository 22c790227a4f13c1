import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AF_BRIDGE, AF_INET6, NlMessage, ipv6Bytes, nlLinkSet, loadSys, nlAddrAdd, nlRouteAdd, nlFdbAdd, nlFdbDel, nlLinkAdd, nlLinkDel, nlLinkList, nlNeighAdd, nlNeighList, openNetlink, openNetnsFd,
  rootSkipReason, withLab, NetlinkError,
} from './mod.ts';

const skip = rootSkipReason();
const rootTest = (name: string, fn: () => Promise<void>) => {
  if (skip !== undefined) test(name, () => console.log(`  skipped "${name}": ${skip}`));
  else test(name, fn);
};

test('netlink messages: header, attributes padded to 4, nested lengths', () => {
  const m = new NlMessage(16, 0).header(new Uint8Array(16)).str(3, 'br0').begin(18).str(1, 'bridge').end();
  const b = m.bytes(7);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.is(dv.getUint32(0, true), b.length);
  assert.is(dv.getUint32(8, true), 7);
  assert.is(b.length % 4, 0);
  assert.is(dv.getUint16(32, true), 8); // "br0\0" + 4
  assert.is(dv.getUint16(40, true), 4 + 12, 'nested length covers "bridge\\0" padded');
  assert.equal([...ipv6Bytes('fd00::1')], [0xfd, 0, ...new Array(13).fill(0), 1]);
  assert.throws(() => ipv6Bytes('fd00::g'), /Bad IPv6/);
});

test('vxlan local and FDB dst of an IPv6 underlay: IFLA_VXLAN_LOCAL6 and a 16-byte NDA_DST', () => {
  const find = (b: Uint8Array, type: number, value: Uint8Array): boolean => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 0; o + 4 + value.length <= b.length; o++) {
      if (dv.getUint16(o, true) === 4 + value.length && dv.getUint16(o + 2, true) === type && value.every((x, i) => b[o + 4 + i] === x)) return true;
    }
    return false;
  };
  const a6 = ipv6Bytes('fd18::1');
  const link = nlLinkAdd({ name: 'vxlan0', kind: 'vxlan', vxlan: { vni: 1, local: 'fd18::1', port: 4789, proxy: true } }).bytes(1);
  assert.ok(find(link, 17, a6), 'IFLA_VXLAN_LOCAL6 (17) with the 16 bytes');
  assert.not.ok(find(nlLinkAdd({ name: 'vxlan0', kind: 'vxlan', vxlan: { vni: 1, local: '198.18.0.1', port: 4789, proxy: true } }).bytes(1), 17, a6));
  assert.ok(find(nlLinkAdd({ name: 'vxlan0', kind: 'vxlan', vxlan: { vni: 1, local: '198.18.0.1', port: 4789, proxy: true } }).bytes(1), 4, Uint8Array.of(198, 18, 0, 1)), 'IFLA_VXLAN_LOCAL (4) for IPv4');
  assert.ok(find(nlFdbAdd({ ifindex: 3, mac: '02:42:00:00:00:01', dst: 'fd18::1' }).bytes(1), 1, a6), 'NDA_DST (1) with the 16 bytes');
});

test('nlRouteAdd: exclusive create in the main table, on the link or via a gateway; bad prefixes refused', () => {
  const link = nlRouteAdd({ dst: '10.128.0.0/14', oif: 7 }).bytes(1);
  const dv = new DataView(link.buffer, link.byteOffset, link.byteLength);
  assert.is(dv.getUint16(4, true), 24, 'RTM_NEWROUTE');
  assert.is(dv.getUint16(6, true) & 0x600, 0x600, 'NLM_F_CREATE | NLM_F_EXCL');
  assert.equal([...link.subarray(16, 24)], [2, 14, 0, 0, 254, 3, 253, 1], 'AF_INET, /14, main table, boot protocol, link scope, unicast');
  assert.equal([...link.subarray(28, 36)], [8, 0, 1, 0, 10, 128, 0, 0], 'RTA_DST 10.128.0.0');
  assert.equal([...link.subarray(36, 44)], [8, 0, 4, 0, 7, 0, 0, 0], 'RTA_OIF 7');
  assert.is(link.length, 44, 'no gateway attribute on the link');
  const def = nlRouteAdd({ dst: '0.0.0.0/0', oif: 7, gateway: '10.128.0.1' }).bytes(2);
  assert.equal([...def.subarray(16, 24)], [2, 0, 0, 0, 254, 3, 0, 1], 'default route: /0, universe scope');
  assert.equal([...def.subarray(28, 44)], [8, 0, 4, 0, 7, 0, 0, 0, 8, 0, 5, 0, 10, 128, 0, 1], 'RTA_OIF then RTA_GATEWAY, no RTA_DST for /0');
  assert.throws(() => nlRouteAdd({ dst: '10.0.0.0/33', oif: 1 }), /Bad prefix length in route "10\.0\.0\.0\/33"/);
});

rootTest('rtnetlink in a namespace: bridge, vxlan (made in one namespace, living in another), veth into a third, FDB and neighbours, stats, teardown', () =>
  withLab('nl', async (lab) => {
    const sys = await loadSys();
    const host = lab.netns('h');
    const net = lab.netns('n');
    const sb = lab.netns('s');
    lab.veth({ ns: host, name: 'ul0', cidr: '198.18.77.1/24' }, { ns: lab.netns('o'), name: 'ul0', cidr: '198.18.77.2/24' });
    const nlHost = openNetlink(sys, host);
    const nl = openNetlink(sys, net);
    const netFd = openNetnsFd(sys, net);
    const sbFd = openNetnsFd(sys, sb);
    try {
      nl.exec([nlLinkAdd({ name: 'br0', kind: 'bridge', mtu: 1400, up: true })], () => 'bridge');
      const br = nlLinkList(nl).find((l) => l.name === 'br0')!;
      nlHost.exec([nlLinkAdd({ name: 'vxlan0', kind: 'vxlan', mtu: 1400, netnsFd: netFd, vxlan: { vni: 4242, local: '198.18.77.1', port: 4789, proxy: true } })], () => 'vxlan');
      const vx = nlLinkList(nl).find((l) => l.name === 'vxlan0')!;
      assert.is(vx.kind, 'vxlan');
      assert.equal(vx.vxlan, { vni: 4242, port: 4789 });
      // master + up on the vxlan device, a veth whose peer is created in the sandbox
      nl.exec([
        nlAddrAdd(br.index, '10.77.0.1/24'),
        nlLinkAdd({ name: 've1', kind: 'veth', master: br.index, up: true, mtu: 1400, peer: { name: 'eth0', mac: '02:42:0a:4d:00:02', mtu: 1400, netnsFd: sbFd } }),
      ], (i) => `step ${i}`);
      nl.exec([nlLinkSet(vx.index, { master: br.index, up: true })], () => 'enslave');
      assert.ok(lab.exec(host, 'ss', ['-uan']).includes(':4789'), 'the vxlan socket lives in the namespace it was made in');
      const links = nlLinkList(nl);
      assert.is(links.find((l) => l.name === 'vxlan0')?.master, br.index);
      assert.is(links.find((l) => l.name === 've1')?.master, br.index);
      assert.match(lab.exec(sb, 'ip', ['link', 'show', 'eth0']), /02:42:0a:4d:00:02/);
      // 1,000 peers: FDB + neighbour entries in batches
      const msgs: NlMessage[] = [];
      for (let i = 0; i < 1000; i++) {
        const mac = `02:42:0a:4e:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
        msgs.push(nlFdbAdd({ ifindex: vx.index, mac, dst: '198.18.77.2', ...(i === 0 ? { port: 4790 } : {}) }));
        msgs.push(nlNeighAdd({ ifindex: vx.index, mac, dst: `10.78.${i >> 8}.${i & 255}` }));
      }
      const t0 = performance.now();
      nl.exec(msgs, (i) => `entry ${i}`);
      console.log(`  2,000 entries in ${(performance.now() - t0).toFixed(1)} ms`);
      const fdb = nlNeighList(nl, AF_BRIDGE).filter((e) => e.ifindex === vx.index && e.dst === '198.18.77.2');
      assert.is(fdb.length, 1000);
      const fdbText = lab.exec(net, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']);
      assert.match(fdbText, /02:42:0a:4e:00:00 dst 198\.18\.77\.2 port 4790 .*self permanent/);
      assert.is(nlNeighList(nl, 2).filter((e) => e.ifindex === vx.index).length, 1000);
      nl.exec([nlFdbDel(vx.index, '02:42:0a:4e:00:00')], () => 'del');
      assert.is(nlNeighList(nl, AF_BRIDGE).filter((e) => e.ifindex === vx.index && e.dst === '198.18.77.2').length, 999);
      const errs = nl.send([nlFdbDel(vx.index, '02:42:0a:4e:00:00')]);
      assert.is(errs[0], 2, 'deleting a missing entry answers ENOENT');
      try {
        nl.exec([nlNeighAdd({ ifindex: 9999, mac: '02:00:00:00:00:01', dst: '10.0.0.1' })], () => 'neighbour on a missing device');
        assert.unreachable('refused');
      } catch (e) {
        assert.instance(e, NetlinkError);
        assert.match(String(e), /neighbour on a missing device/);
      }
      assert.ok(nlNeighList(nl, AF_INET6) !== undefined);
      lab.exec(sb, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
      lab.exec(sb, 'ip', ['link', 'set', 'eth0', 'up']);
      lab.exec(sb, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']);
      const ve = nlLinkList(nl).find((l) => l.name === 've1')!;
      assert.ok((ve.stats?.rx_packets ?? 0) > 0, `veth counted the ping: ${JSON.stringify(ve.stats)}`);
      nl.exec([nlLinkDel(ve.index), nlLinkDel(vx.index)], () => 'delete');
      assert.ok(!lab.exec(host, 'ss', ['-uan']).includes(':4789'), 'the vxlan socket went with the device');
      assert.is(lab.run(sb, 'ip', ['link', 'show', 'eth0']).code, 1, 'the veth peer went with it');
    } finally {
      sys.close(netFd);
      sys.close(sbFd);
      nl.close();
      nlHost.close();
    }
  }));

test.run();

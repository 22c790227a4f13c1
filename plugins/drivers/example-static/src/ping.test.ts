/**
 * Root: example-static moves packets. Two hosts (network namespaces joined by a veth underlay),
 * each a kernel with @weft/vxlan as its data path and example-static as the driver; one network
 * whose static peers name the other host's endpoint; a sandbox on each host joins it, and they
 * ping each other through the driver's ports. Skipped, saying why, when not root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernel, formatError, type Kernel } from '@weft/kernel';
import { rootSkipReason, twoHosts, withLab } from '@weft/sys';
import { ok } from '@weft/testing';
import { vxlanPlugin } from '@weft/vxlan';
import { exampleStatic } from './mod.ts';

const skip = rootSkipReason();
const nid = 'c'.repeat(64);
const hex = (n: number) => n.toString(16).padStart(64, '0');

async function host(dataPathAddr: string, netns: string): Promise<Kernel> {
  const k = createKernel();
  const r = await k.load([{ plugin: vxlanPlugin(), config: { dataPathAddr, netns, sourcePorts: 1 } }, { plugin: exampleStatic('static') }]);
  if (r._tag === 'Left') throw new Error(`load failed: ${r.left.map(formatError).join('; ')}`);
  return k;
}

const run = skip !== undefined ? (name: string) => test(name, () => console.log(`  skipped "${name}": ${skip}`)) : test;

run('two sandboxes on two hosts ping each other through example-static and the vxlan data path', () =>
  withLab('exstatic', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const sandboxes = [lab.netns('s1'), lab.netns('s2')];
    const kernels: Kernel[] = [];
    try {
      kernels.push(await host(a1, h1), await host(a2, h2));
      const ips = ['10.9.0.2', '10.9.0.3'];
      const vteps = [a1, a2];
      for (const [i, k] of kernels.entries()) {
        const other = 1 - i;
        const call = (m: string, input: unknown) => k.invoke('static', `NetworkDriver.${m}`, input);
        ok(await call('CreateNetwork', {
          NetworkID: nid,
          Options: { 'com.docker.network.generic': { 'example.vni': '4300', 'example.peers': `${ips[other]}@${vteps[other]}` } },
          IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.9.0.0/24', Gateway: '10.9.0.1/24', AuxAddresses: {} }],
          IPv6Data: [],
        }), 'CreateNetwork');
        ok(await call('CreateEndpoint', { NetworkID: nid, EndpointID: hex(i + 1), Interface: { Address: `${ips[i]}/24`, AddressIPv6: '', MacAddress: '' }, Options: {} }), 'CreateEndpoint');
        ok(await call('Join', { NetworkID: nid, EndpointID: hex(i + 1), SandboxKey: `/run/netns/${sandboxes[i]}`, Options: { 'weft.sandbox.move': true } }), 'Join');
      }
      const ping = (from: number, to: string) => lab.run(sandboxes[from]!, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', to]);
      for (const [from, to] of [[0, ips[1]!], [1, ips[0]!], [0, '10.9.0.1']] as const) {
        const r = ping(from, to);
        assert.is(r.code, 0, `ping from ${sandboxes[from]} to ${to}:\n${r.stdout}${r.stderr}`);
      }
      // Leave unplugs: the other side is unreachable again.
      ok(await kernels[1]!.invoke('static', 'NetworkDriver.Leave', { NetworkID: nid, EndpointID: hex(2) }), 'Leave');
      assert.is.not(lab.run(sandboxes[0]!, 'ping', ['-c', '1', '-W', '1', ips[1]!]).code, 0, 'no reply after Leave');
    } finally {
      for (const k of kernels) await k.stop();
    }
  }));

test.run();

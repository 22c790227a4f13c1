/**
 * @weft/kernel-vxlan passes testDataPath as root: the table part in a namespace of its own, the
 * frame part between two hosts made of network namespaces. Every namespace it makes is removed.
 */
import { isRight } from 'fp-ts/lib/Either.js';
import { test } from 'uvu';
import { createKernel, type DataPath, type Kernel } from '@weft/kernel';
import { createLab, twoHosts } from '@weft/sys';
import { testDataPath, type DataPathInstance } from '@weft/testing';
import { kernelVxlanPlugin, type KernelVxlanConfig } from './mod.ts';
import { dropNamespaces, skip } from './testutil.ts';

async function load(config: KernelVxlanConfig): Promise<{ kernel: Kernel; dataPath: DataPath }> {
  const kernel = createKernel();
  const r = await kernel.load([{ plugin: kernelVxlanPlugin({ service: 'datapath' }), config }]);
  if (!isRight(r)) throw new Error(`kernel-vxlan did not load: ${JSON.stringify(r.left)}`);
  return { kernel, dataPath: kernel.service('datapath')! };
}

let seq = 0;
if (skip !== undefined) {
  test('DataPath conformance: kernel-vxlan', () => console.log(`  skipped: ${skip}`));
  test.run();
} else {
  testDataPath('kernel-vxlan', {
    create: async () => {
      const lab = createLab(`kvt${seq++}`);
      const h = lab.netns('h');
      lab.veth({ ns: h, name: 'ul0', cidr: '198.18.3.1/24' }, { ns: lab.netns('o'), name: 'ul0', cidr: '198.18.3.2/24' });
      const prefix = `${lab.prefix}n-`;
      try {
        const { kernel, dataPath } = await load({ dataPathAddr: '198.18.3.1', netns: h, prefix });
        return {
          dataPath,
          close: async () => {
            await kernel.stop();
            dropNamespaces(prefix);
            await lab.cleanup();
          },
        };
      } catch (e) {
        dropNamespaces(prefix);
        await lab.cleanup();
        throw e;
      }
    },
    hosts: async () => {
      const lab = createLab('kvconf');
      const kernels: Kernel[] = [];
      const prefix = `${lab.prefix}n-`;
      const close = async () => {
        for (const k of kernels) await k.stop();
        dropNamespaces(prefix);
        await lab.cleanup();
      };
      try {
        const { h1, h2, a1, a2 } = twoHosts(lab);
        const one = await load({ dataPathAddr: a1, netns: h1, prefix: `${prefix}a-` });
        kernels.push(one.kernel);
        const two = await load({ dataPathAddr: a2, netns: h2, prefix: `${prefix}b-` });
        kernels.push(two.kernel);
        const a: DataPathInstance = { dataPath: one.dataPath, vtep: a1 };
        const b: DataPathInstance = { dataPath: two.dataPath, vtep: a2 };
        return {
          a,
          b,
          sandbox: (_on: DataPathInstance, name: string) => lab.netns(name),
          ping: (sandbox: string, address: string) => lab.run(sandbox, 'ping', ['-c', '1', '-W', '1', address]).code === 0,
          close,
        };
      } catch (e) {
        await close();
        throw e;
      }
    },
  });
}

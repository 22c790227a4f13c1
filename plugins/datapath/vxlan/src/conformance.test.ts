/**
 * @weft/vxlan passes testDataPath: the table part on loopback (no privileges), the frame part as
 * root between two hosts made of network namespaces (skipped, saying why, otherwise).
 */
import { isRight } from 'fp-ts/lib/Either.js';
import { createKernel, type DataPath, type Kernel } from '@weft/kernel';
import { createLab, rootSkipReason, twoHosts } from '@weft/sys';
import { testDataPath, type DataPathInstance } from '@weft/testing';
import { vxlanPlugin, type VxlanConfig } from './mod.ts';

async function load(config: VxlanConfig): Promise<{ kernel: Kernel; dataPath: DataPath }> {
  const kernel = createKernel();
  const r = await kernel.load([{ plugin: vxlanPlugin(), config }]);
  if (!isRight(r)) throw new Error(`vxlan did not load: ${JSON.stringify(r.left)}`);
  return { kernel, dataPath: kernel.service('datapath')! };
}

let port = 40000 + ((process.pid * 7) % 20000);
const skip = rootSkipReason();

testDataPath('vxlan', {
  create: async () => {
    const { kernel, dataPath } = await load({ dataPathAddr: '127.0.0.1', dataPathPort: port++, sourcePorts: 1 });
    return { dataPath, close: () => kernel.stop() };
  },
  ...(skip !== undefined
    ? { skip }
    : {
        hosts: async () => {
          const lab = createLab('conf');
          const kernels: Kernel[] = [];
          try {
            const { h1, h2, a1, a2 } = twoHosts(lab);
            const one = await load({ dataPathAddr: a1, netns: h1, sourcePorts: 1 });
            kernels.push(one.kernel);
            const two = await load({ dataPathAddr: a2, netns: h2, sourcePorts: 1 });
            kernels.push(two.kernel);
            const a: DataPathInstance = { dataPath: one.dataPath, vtep: a1 };
            const b: DataPathInstance = { dataPath: two.dataPath, vtep: a2 };
            return {
              a,
              b,
              sandbox: (_on: DataPathInstance, name: string) => lab.netns(name),
              ping: (sandbox: string, address: string) => lab.run(sandbox, 'ping', ['-c', '1', '-W', '1', address]).code === 0,
              close: async () => {
                for (const k of kernels) await k.stop();
                await lab.cleanup();
              },
            };
          } catch (e) {
            for (const k of kernels) await k.stop();
            await lab.cleanup();
            throw e;
          }
        },
      }),
});

/**
 * The `containers` service of the Docker plugin against the shared conformance suite: containers
 * are attached the way dockerd 20.10 does it (RequestAddress, CreateEndpoint, Join with a
 * SandboxKey; Leave, DeleteEndpoint, ReleaseAddress), over the real overlay and IPAM plugins.
 * A container's namespace is a file under a temporary directory (the service checks only that
 * the SandboxKey exists); the root test in dockerd.test.ts runs real containers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { testContainers } from '@weft/testing';
import { fakeControl, testHost, type TestHost } from './_fakes.ts';

const hex64 = () => randomBytes(32).toString('hex');
const GW = 'com.docker.network.gateway';

testContainers('@weft/docker', async () => {
  const control = fakeControl();
  const backing = new Map<string, Uint8Array>();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-containers-'));
  let h: TestHost = await testHost({ control, backing });
  // Two Docker networks, each mapped to a Weft network of its own.
  const nets: { docker: string; pool: string; weft: string }[] = [];
  for (const [i, name] of ['ca', 'cb'].entries()) {
    const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: `10.61.${i}.0/24`, SubPool: '', Options: {}, V6: false });
    const gw = await h.call('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: { RequestAddressType: GW } });
    const id = hex64();
    await h.call('/NetworkDriver.CreateNetwork', { NetworkID: id, Options: { 'com.docker.network.generic': { 'weft.network': name } }, IPv4Data: [{ AddressSpace: 'weft-local', Gateway: gw.Address, Pool: pool.Pool }], IPv6Data: [] });
    nets.push({ docker: id, pool: pool.PoolID, weft: [...control.networks.values()].find((n) => n.Name === name)!.Id });
  }
  const eps = new Map<string, { ep: string; address: string }>(); // `${container}/${weft network}`
  const keyOf = (c: string) => path.join(dir, c);
  const netOf = (weft: string) => nets.find((n) => n.weft === weft)!;
  return {
    containers: () => h.k.service('containers')!,
    networks: nets.map((n) => n.weft),
    async attach(c, weft) {
      const n = netOf(weft);
      const key = keyOf(c);
      if (!fs.existsSync(key)) fs.writeFileSync(key, '');
      const a = await h.call('/IpamDriver.RequestAddress', { PoolID: n.pool, Address: '', Options: null });
      const ep = hex64();
      await h.call('/NetworkDriver.CreateEndpoint', { NetworkID: n.docker, EndpointID: ep, Interface: { Address: a.Address, AddressIPv6: '', MacAddress: '' }, Options: {} });
      await h.call('/NetworkDriver.Join', { NetworkID: n.docker, EndpointID: ep, SandboxKey: key, Options: {} });
      eps.set(`${c}/${weft}`, { ep, address: a.Address });
      return { id: ep, netnsPath: key };
    },
    async detach(c, weft) {
      const n = netOf(weft);
      const e = eps.get(`${c}/${weft}`)!;
      await h.call('/NetworkDriver.Leave', { NetworkID: n.docker, EndpointID: e.ep });
      await h.call('/NetworkDriver.DeleteEndpoint', { NetworkID: n.docker, EndpointID: e.ep });
      await h.call('/IpamDriver.ReleaseAddress', { PoolID: n.pool, Address: e.address.split('/')[0] });
      eps.delete(`${c}/${weft}`);
    },
    async dropNamespace(c) {
      fs.rmSync(keyOf(c), { force: true });
    },
    async restart() {
      await h.stop();
      h = await testHost({ control, backing });
    },
    async close() {
      await h.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

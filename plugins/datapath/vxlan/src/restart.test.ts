/** Root: kill -9 of the agent keeps the sandbox's interface; a restarted agent re-attaches. */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { twoHosts, withLab } from '@weft/sys';
import { pingOk, rootTest, startAgent } from './testutil.ts';
import type { AgentConfig } from './agent.ts';

const net = { id: 'r', vni: 5151, mtu: 1450, encrypted: false, internal: false, gateways: ['10.6.0.1/24'] };
const m1 = '02:42:0a:06:00:02';
const m2 = '02:42:0a:06:00:03';

rootTest('agent kill -9 and restart: the sandbox keeps eth0 and its address, ping resumes', () =>
  withLab('rst', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const c1: AgentConfig = {
      dataPathAddr: a1, networks: [net],
      ports: [{ network: 'r', endpointId: 'e1', mac: m1, ipv4: '10.6.0.2/24', ifname: 'wftr1', dstName: 'eth0', netns: s1 }],
      peers: [{ network: 'r', mac: m2, ipv4: '10.6.0.3', vtep: a2 }],
    };
    const c2: AgentConfig = {
      dataPathAddr: a2, networks: [net],
      ports: [{ network: 'r', endpointId: 'e2', mac: m2, ipv4: '10.6.0.3/24', ifname: 'wftr2', dstName: 'eth0', netns: s2 }],
      peers: [{ network: 'r', mac: m1, ipv4: '10.6.0.2', vtep: a1 }],
    };
    const ag1 = await startAgent(lab, h1, c1);
    await startAgent(lab, h2, c2);
    pingOk(lab, s1, '10.6.0.3');
    const before = lab.exec(s1, 'ip', ['-j', 'link', 'show', 'eth0']);
    const ifindex = (JSON.parse(before) as { ifindex: number }[])[0]?.ifindex;

    await lab.kill(ag1, 'SIGKILL');
    const after = JSON.parse(lab.exec(s1, 'ip', ['-j', 'addr', 'show', 'eth0'])) as { ifindex: number; addr_info: { local: string }[] }[];
    assert.is(after[0]?.ifindex, ifindex, 'same interface in the sandbox after kill -9');
    assert.ok(after[0]?.addr_info.some((a) => a.local === '10.6.0.2'), 'address kept');
    assert.is.not(lab.run(s1, 'ping', ['-c', '1', '-W', '1', '10.6.0.3']).code, 0, 'no data path while the agent is down');

    await startAgent(lab, h1, c1);
    const again = JSON.parse(lab.exec(s1, 'ip', ['-j', 'link', 'show', 'eth0'])) as { ifindex: number }[];
    assert.is(again[0]?.ifindex, ifindex, 're-attached to the same device');
    pingOk(lab, s1, '10.6.0.3');
    pingOk(lab, s2, '10.6.0.2');
  }));

test.run();

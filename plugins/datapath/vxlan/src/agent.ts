/**
 * A minimal stand-alone data-path agent for tests and demos: applies a static configuration
 * (networks, ports, peers) and runs until killed. Re-running it with the same configuration after
 * a crash re-attaches the persistent TAPs.
 *
 *   node --import tsx src/agent.ts '{"dataPathAddr":"198.18.0.1","networks":[...],"ports":[...],"peers":[...]}'
 */
import type { DataPathNetwork, PeerSpec, PortSpec } from '@weft/kernel';
import { createVxlanDataPath } from './datapath.ts';

export interface AgentConfig {
  readonly dataPathAddr: string;
  readonly dataPathPort?: number;
  readonly offload?: boolean;
  readonly networks: readonly DataPathNetwork[];
  readonly ports: readonly PortSpec[];
  readonly peers: readonly PeerSpec[];
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
const dp = await createVxlanDataPath({
  dataPathAddr: cfg.dataPathAddr,
  ...(cfg.dataPathPort !== undefined ? { dataPathPort: cfg.dataPathPort } : {}),
  ...(cfg.offload !== undefined ? { offload: cfg.offload } : {}),
});
for (const n of cfg.networks) await dp.ensureNetwork(n);
for (const p of cfg.ports) await dp.addPort(p);
for (const p of cfg.peers) dp.addPeer(p);
console.log(`ready ${process.pid}`);
const timer = setInterval(() => {
  if (process.env['WEFT_AGENT_COUNTERS'] === '1') console.log(JSON.stringify(dp.counters()));
}, 1000);
const stop = async () => {
  clearInterval(timer);
  await dp.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

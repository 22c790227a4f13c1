/**
 * A minimal stand-alone kernel data-path agent for tests: applies a static configuration
 * (networks, ports, peers), prints "ready" and runs until killed. Run again with the same
 * configuration after a crash, it adopts what the kernel kept.
 *
 *   node --import tsx src/agent.ts '{"dataPathAddr":"198.18.0.1","netns":"h1","networks":[...],...}'
 */
import type { DataPathNetwork, PeerSpec, PortSpec } from '@weft/kernel';
import { createKernelDataPath } from './datapath.ts';

export interface AgentConfig {
  readonly dataPathAddr: string;
  readonly prefix: string;
  readonly sweepMs?: number;
  readonly networks: readonly DataPathNetwork[];
  readonly ports: readonly PortSpec[];
  readonly peers: readonly PeerSpec[];
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
const dp = await createKernelDataPath({ dataPathAddr: cfg.dataPathAddr, prefix: cfg.prefix, ...(cfg.sweepMs !== undefined ? { sweepMs: cfg.sweepMs } : {}) });
for (const n of cfg.networks) await dp.ensureNetwork(n);
for (const p of cfg.ports) await dp.addPort(p);
for (const p of cfg.peers) dp.addPeer(p);
console.log(`ready ${process.pid}`);
setInterval(() => undefined, 1 << 30);
process.on('SIGTERM', () => void dp.close().then(() => process.exit(0)));

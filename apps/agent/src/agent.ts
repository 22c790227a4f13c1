/**
 * The agent: composition only. Verifies the state dir, loads the plugins into one kernel over a
 * durable file store, serves the local API and Docker's plugin protocol, and stops cleanly.
 */
import { joinHostPort } from '@weft/net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, formatError, type Kernel, type Logger, type PluginEntry } from '@weft/kernel';
import { fileStore, verifyStore } from '@weft/store';
import { servePluginSocket, type Gateway } from '@weft/plugin-socket';
import { sodiumPlugin } from '@weft/sodium';
import { aesGcmPlugin } from '@weft/aes-gcm';
import { gossipPlugin } from '@weft/gossip';
import { vxlanPlugin, LOW_LATENCY } from '@weft/vxlan';
import { kernelVxlanPlugin } from '@weft/kernel-vxlan';
import { dataplanePlugin } from '@weft/dataplane';
import { dnsPlugin } from '@weft/dns';
import { ipamBlocksPlugin, ipamPlugin } from '@weft/ipam';
import { overlayPlugin } from '@weft/overlay';
import { bridgePlugin } from '@weft/bridge';
import { controlPlugin } from '@weft/control';
import { embeddedStorePlugin } from '@weft/store-embedded';
import { enginePlugin } from '@weft/engine';
import { windowsGuardPlugin } from '@weft/windows-guard';
import { scaleGuardPlugin } from '@weft/scale-guard';
import { dockerIntegration } from '@weft/docker';
import { servicesPlugin } from '@weft/services';
import { etcdStorePlugin } from '@weft/store-etcd';
import type { AgentConfig } from './config.ts';
import { createApi, WEFT_VERSION } from './api.ts';
import { createEventLog } from './events.ts';
import { MetricsAddrError, startMetrics, type MetricsServer } from './metrics.ts';
import { swarmGossipBridge } from './bridges.ts';

export class StartupError extends Error {}

export interface RunningAgent {
  readonly kernel: Kernel;
  stop(): Promise<void>;
}

/** Destinations of this host's routes, so IPAM never picks a pool that overlaps one. */
function hostRoutes(): string[] {
  try {
    return execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((d) => d !== '' && d !== 'default');
  } catch {
    return [];
  }
}

export function plugins(cfg: AgentConfig): PluginEntry[] {
  const role = 'node';
  return [
    // The `cipher` service (--cipher): the data path's threads load the module it names.
    { plugin: cfg.cipher === 'aes-gcm' ? aesGcmPlugin : sodiumPlugin },
    {
      plugin: gossipPlugin(),
      config: {
        name: cfg.nodeName,
        bindAddr: cfg.gossipAddr,
        bindPort: cfg.gossipPort,
        advertiseAddr: cfg.gossipAddr === '0.0.0.0' || cfg.gossipAddr === '::' ? cfg.advertiseAddr : cfg.gossipAddr,
        // --gossip-join seeds are joined by the swarm bridge, after control has published the
        // swarm's key ring (if any): never in plaintext on a swarm node.
        keys: cfg.gossipKeys,
        meta: { weft: '1', role, os: cfg.os, arch: process.arch, dp: joinHostPort(cfg.dataPathAddr, cfg.dataPathPort) },
      },
    },
    // Two data paths side by side, each with its own UDP port; the dispatcher picks one per network.
    { plugin: kernelVxlanPlugin(), config: { dataPathAddr: cfg.dataPathAddr, dataPathPort: cfg.dataPathPort } },
    { plugin: vxlanPlugin({ service: 'datapath.userspace' }), config: { dataPathAddr: cfg.dataPathAddr, dataPathPort: cfg.dataPathPortUserspace, ...(cfg.dataPathLatency === 'low' ? LOW_LATENCY : {}) } },
    { plugin: dataplanePlugin(), config: { hostDefault: cfg.dataPlane } },
    { plugin: dnsPlugin, config: {} },
    { plugin: ipamPlugin({ hostRoutes }) },
    { plugin: ipamBlocksPlugin() },
    // Cluster-store backends; the control plugin opens the one --cluster-store names
    // (embedded: by default; etcd://, etcds:// for several managers on a real etcd).
    { plugin: embeddedStorePlugin({ dir: cfg.stateDir }) },
    { plugin: etcdStorePlugin() },
    { plugin: overlayPlugin(), config: { vtep: cfg.dataPathAddr, node: cfg.nodeName, vtepPort: cfg.dataPathPort } },
    { plugin: bridgePlugin(), config: { node: cfg.nodeName } },
    {
      plugin: controlPlugin({
        nodeName: cfg.nodeName,
        os: cfg.os,
        listenAddr: joinHostPort(cfg.listenAddr, cfg.listenPort),
        advertiseAddr: cfg.advertiseAddr,
        gossipAddr: joinHostPort(cfg.gossipAddr, cfg.gossipPort),
        dataPathAddr: cfg.dataPathAddr,
        dataPathPort: cfg.dataPathPort,
        clusterStore: cfg.clusterStore,
      }),
    },
    { plugin: windowsGuardPlugin() },
    { plugin: scaleGuardPlugin() },
    { plugin: swarmGossipBridge({ seeds: cfg.gossipJoin }) },
    { plugin: enginePlugin(), config: { node: cfg.nodeName, ipam: 'ipam', drivers: { overlay: 'overlay', bridge: 'bridge' }, logDir: path.join(cfg.stateDir, 'logs'), runDir: path.join(cfg.stateDir, 'run'), ...(cfg.netnsPrefix !== '' ? { nsPrefix: cfg.netnsPrefix } : {}) } },
    { plugin: servicesPlugin(), config: { runDir: path.join(cfg.stateDir, 'run', 'mesh') } },
    ...dockerIntegration(cfg).entries,
  ];
}

export async function startAgent(cfg: AgentConfig, log: Logger, entries: PluginEntry[] = plugins(cfg)): Promise<RunningAgent> {
  fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
  const stateRoot = path.join(cfg.stateDir, 'state');
  const v = await verifyStore(stateRoot);
  if (v.corrupt.length > 0) {
    throw new StartupError(
      `refusing to start: ${v.corrupt.length} state file(s) in ${stateRoot} are damaged:\n` +
        v.corrupt.map((e) => `  ${e.message}`).join('\n') +
        `\nRestore them from a backup, or move them aside to reset only that state; the agent never starts empty over damaged state.`,
    );
  }
  if (v.removedTemp > 0) log.info('removed leftovers of interrupted writes', { files: v.removedTemp });
  if (v.dropped > 0) log.info('dropped the end of a state write cut short by a crash (never acknowledged)', { bytes: v.dropped });
  const store = fileStore(stateRoot);
  const kernel = createKernel({ store, log });
  // Bound before anything starts: a malformed or busy --metrics-addr fails here, leaving nothing.
  let metrics: MetricsServer | undefined;
  if (cfg.metricsAddr !== undefined) {
    try {
      metrics = await startMetrics(cfg.metricsAddr, kernel, log, { version: WEFT_VERSION, node: cfg.nodeName });
    } catch (e) {
      await store.close();
      if (e instanceof MetricsAddrError) throw new StartupError(e.message);
      throw e;
    }
  }
  // Listening before the plugins start, so what they do at start is in the log too.
  const events = createEventLog(kernel);
  const loaded = await kernel.load(entries);
  if (isLeft(loaded)) {
    await metrics?.close();
    await kernel.stop();
    await store.close();
    throw new StartupError(`cannot load plugins:\n${loaded.left.map((e) => `  ${formatError(e)} [${e.code}]`).join('\n')}`);
  }
  const api = createApi({ kernel, config: cfg, log, events });
  const server = await api.listen(cfg.socket);
  let gateway: Gateway | undefined;
  if (cfg.dockerPlugin !== undefined) {
    gateway = await servePluginSocket({ kernel, socketPath: cfg.dockerPlugin, networkDriver: 'weft', ipamDriver: 'weft', log });
  }
  log.info('weft-agent ready', { node: cfg.nodeName, socket: cfg.socket, docker: cfg.dockerPlugin ?? 'off', gossip: joinHostPort(cfg.gossipAddr, cfg.gossipPort), dataPath: `${joinHostPort(cfg.dataPathAddr, cfg.dataPathPort)} (kernel), :${cfg.dataPathPortUserspace} (userspace)`, dataPlane: cfg.dataPlane });
  let stopping: Promise<void> | undefined;
  return {
    kernel,
    stop() {
      stopping ??= (async () => {
        log.info('weft-agent stopping');
        events.close();
        await metrics?.close();
        await server.close();
        await gateway?.close();
        await kernel.stop();
        await store.close();
        log.info('weft-agent stopped; state kept', { stateDir: cfg.stateDir });
      })();
      return stopping;
    },
  };
}

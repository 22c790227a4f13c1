import * as t from 'io-ts';
import { definePlugin, type PluginDefinition } from '@weft/kernel';
import { Engine } from './engine.ts';
import type { EngineConfig } from './records.ts';
import { linuxSandboxHost, type SandboxHost } from './host.ts';
import { createPorts } from './ports.ts';

export const EngineConfigCodec = t.intersection([
  t.type({ node: t.string, ipam: t.string, drivers: t.record(t.string, t.string), logDir: t.string }),
  t.partial({ nsPrefix: t.string, runDir: t.string }),
]);

/**
 * The engine plugin: provides the `engine` service (networks, sandboxes, attachments) and the
 * `ports` service (published-port forwarding; the engine's `-p` and the routing mesh use it).
 */
export function enginePlugin(host: SandboxHost = linuxSandboxHost()): PluginDefinition<EngineConfig> {
  let engine: Engine | undefined;
  const ports = createPorts();
  return definePlugin<EngineConfig>({
    manifest: {
      name: 'engine',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['engine', 'ports'],
      optional: ['control', 'tables', 'membership', 'cipher', 'datapath'],
      config: EngineConfigCodec as unknown as t.Type<EngineConfig, unknown, unknown>,
      description: 'networks on this host, sandboxes (network namespaces) and their attachments',
    },
    services: { engine: (ctx) => (engine = new Engine(ctx, host, ports)), ports: () => ports },
    start: () => engine?.restorePorts(),
    stop: () => engine?.closePorts(),
  });
}

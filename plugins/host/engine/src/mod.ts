/**
 * @weft/engine — the `engine` plugin: networks on this host, sandboxes and their attachments
 * (kernel contract `Engine`), and published-port forwarding (kernel contract `Ports`).
 */
export { enginePlugin, EngineConfigCodec } from './plugin.ts';
export { Engine } from './engine.ts';
export { bareNsName } from './records.ts';
export type { EngineConfig } from './records.ts';
export { linuxSandboxHost } from './host.ts';
export type { SandboxFiles, SandboxHost } from './host.ts';
export { createPorts, PORT_FORWARDER, UDP_IDLE_MS, UDP_MAX_SESSIONS, portFree } from './ports.ts';

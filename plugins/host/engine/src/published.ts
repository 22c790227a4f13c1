/**
 * Published ports of sandboxes (`weft run -p`): the forwarder inside the sandbox and the
 * listeners on this host, through the `ports` service (ports.ts). Listeners live in memory and are
 * made again when the agent restarts; the forwarder is a process of the sandbox.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger, PortForwarding, Ports } from '@weft/kernel';
import type { SandboxHost } from './host.ts';
import type { EngineConfig, SandboxRecord } from './records.ts';

export class PublishedPorts {
  /** By sandbox name. */
  private readonly listeners = new Map<string, PortForwarding>();

  private readonly cfg: () => EngineConfig;
  private readonly host: SandboxHost;
  private readonly ports: Ports;
  private readonly log: Logger;
  /** The namespace name of a sandbox. */
  private readonly nsName: (name: string) => string;

  constructor(cfg: () => EngineConfig, host: SandboxHost, ports: Ports, log: Logger, nsName: (name: string) => string) {
    this.cfg = cfg;
    this.host = host;
    this.ports = ports;
    this.log = log;
    this.nsName = nsName;
  }

  private dir(name: string): string {
    const cfg = this.cfg();
    return cfg.runDir !== undefined ? path.join(cfg.runDir, 'ports', name) : path.join(os.tmpdir(), `weft-ports-${cfg.node}`, name);
  }

  /** Starts the forwarder inside the sandbox (unless it runs) and the listeners on this host; sets `rec.PortsPid`. */
  start(rec: SandboxRecord): void {
    const first = Object.values(rec.Networks)[0];
    const f = this.ports.forward({
      dir: this.dir(rec.Name),
      ports: rec.Ports.map((p) => ({ published: p.HostPort, target: p.ContainerPort, protocol: p.Protocol ?? 'tcp', host: p.HostIP ?? '0.0.0.0' })),
    });
    const target = first === undefined ? '127.0.0.1' : first.IPAddress !== '' ? first.IPAddress : first.IPv6Address ?? '';
    f.setTargets([target.split('/')[0]!]);
    if (rec.PortsPid === undefined || !this.host.alive(rec.PortsPid)) {
      rec.PortsPid = this.host.spawn(this.nsName(rec.Name), f.command, path.join(this.cfg().logDir, `${rec.Name}.ports.log`));
    }
    f.listen((p, e) => this.log.warn('cannot publish port', { sandbox: rec.Name, port: `${p.published}/${p.protocol ?? 'tcp'}`, error: String(e) }));
    this.listeners.set(rec.Name, f);
  }

  /** Stops the listeners and the forwarder, removes the sockets. */
  stop(rec: SandboxRecord): void {
    this.listeners.get(rec.Name)?.close();
    this.listeners.delete(rec.Name);
    if (rec.PortsPid !== undefined && rec.PortsPid > 0) this.host.kill(rec.PortsPid, 'SIGKILL');
    fs.rmSync(this.dir(rec.Name), { recursive: true, force: true });
  }

  /** After an agent restart: listen again for the published ports of the sandboxes kept. */
  restore(records: readonly SandboxRecord[]): void {
    for (const rec of records) if (rec.Ports.length > 0 && rec.Stopped !== true && !this.listeners.has(rec.Name)) this.start(rec);
  }

  /** Closes this host's listeners (the agent stops; sandboxes and forwarders stay). */
  close(): void {
    for (const f of this.listeners.values()) f.close();
    this.listeners.clear();
  }
}

/**
 * The engine's records in its store: sandboxes (`sandboxes/<name>`) and their attachments, and
 * the engine's configuration. Networks of local scope are `networks/<id>` (the kernel's NetDef);
 * this host's instance of a network is `instances/<id>` (@weft/hostnet's Instance).
 */
import { createHash, randomBytes } from 'node:crypto';
import { listJson, errors, getJson, raise, type Sandbox, type Store, type TaskOptions } from '@weft/kernel';

export interface EngineConfig {
  /** This node's name (endpoint records, attachments). */
  readonly node: string;
  /** IPAM plugin name. */
  readonly ipam: string;
  /** Driver name (as users type it) → plugin name. */
  readonly drivers: Readonly<Record<string, string>>;
  /** Where sandbox command logs go. */
  readonly logDir: string;
  /** Prefix of namespace names (tests use a unique one). */
  readonly nsPrefix?: string;
  /** Runtime files (published ports' sockets); default `$TMPDIR/weft-ports-<node>`. The agent uses its state directory. */
  readonly runDir?: string;
}

export interface Attachment {
  readonly NetworkID: string;
  readonly NetworkName: string;
  readonly EndpointID: string;
  /** CIDR; '' on an IPv6-only network (then PoolID is '' too). */
  readonly IPAddress: string;
  readonly PoolID: string;
  /** On networks with IPv6: the endpoint's IPv6 address (CIDR) and the IPAM pool (block) it came from. */
  readonly IPv6Address?: string;
  readonly PoolID6?: string;
  readonly MacAddress: string;
  readonly Aliases: string[];
  readonly Ifname: string;
}

export interface SandboxRecord {
  Name: string;
  Id: string;
  Hostname: string;
  Cmd: string[];
  Pid: number;
  Created: string;
  Networks: Record<string, Attachment>;
  Ports: Sandbox['Ports'];
  ResolvConf: string;
  Resolver: string;
  /** Set for service tasks (see TaskOptions). */
  Task?: TaskOptions;
  /** The port forwarder inside the sandbox (`-p`), see ports.ts. */
  PortsPid?: number;
  /** A bare endpoint: no namespace of its own, its interfaces live in the host's shared namespace (bareNsName). */
  Bare?: boolean;
  /** The image named at `run` (shown by ps; picks the default command). */
  Image?: string;
  /** The command's stdin stays open (`run -dit`). */
  OpenStdin?: boolean;
  /** The client runs Cmd attached (foreground `weft run`); the agent never starts it. */
  Attached?: boolean;
  /** Stopped (`weft stop`, or an attached command that ended): no process, no network attachments. */
  Stopped?: boolean;
  ExitCode?: number;
  StartedAt?: string;
  FinishedAt?: string;
  /** The networks asked for at create (and connect), attached again by `start`. */
  Wanted?: { Name: string; IPAddress?: string; IPv6Address?: string; Aliases: string[] }[];
}

/**
 * The namespace bare endpoints share on a host: `weft-endpoints-<node>-<6 hex of the agent's log
 * directory>` (with the engine's nsPrefix), so agents on one machine never share one. Their TAPs
 * and addresses live there, so the kernel answers for them (ping), without a namespace each.
 */
export function bareNsName(node: string, logDir: string): string {
  return `weft-endpoints-${node}-${createHash('sha256').update(logDir).digest('hex').slice(0, 6)}`;
}

export const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
export const hex = (n: number) => randomBytes(n).toString('hex');

/** Every sandbox record, oldest first. */
export async function sandboxRecords(store: Store): Promise<SandboxRecord[]> {
  const out: SandboxRecord[] = [];
  for (const [, s] of await listJson<SandboxRecord>(store, 'sandboxes/')) {
    if (s !== undefined) out.push(s);
  }
  return out.sort((a, b) => a.Created.localeCompare(b.Created));
}

export async function sandboxRecord(store: Store, name: string): Promise<SandboxRecord> {
  const s = await getJson<SandboxRecord>(store, `sandboxes/${name}`);
  if (s === undefined) raise(errors.notFound('engine', `sandbox "${name}" not found`, { value: name, hint: 'List sandboxes with "weft ps".' }));
  return s;
}

/**
 * `weft-agent` flags (shared/specs/interface.md). Parsing is pure: it returns a config or a
 * one-line error naming the flag, the bad value and what is expected.
 */
import * as os from 'node:os';
import { canonicalIP, ipFamily, joinHostPort, splitHostPort } from '@weft/net';

export interface AgentConfig {
  readonly socket: string;
  readonly stateDir: string;
  readonly nodeName: string;
  readonly advertiseAddr: string;
  readonly listenAddr: string;
  readonly listenPort: number;
  readonly gossipAddr: string;
  readonly gossipPort: number;
  readonly dataPathAddr: string;
  /** UDP port of the kernel data path's vxlan devices (Docker's 4789). */
  readonly dataPathPort: number;
  /** UDP port of the userspace switch (both paths run side by side, each with its own socket). */
  readonly dataPathPortUserspace: number;
  /** What a network's `weft.dataplane=auto` means on this host (`--data-plane`). */
  readonly dataPlane: 'auto' | 'kernel' | 'userspace';
  /** `low` (default): the data path's LOW_LATENCY settings (warm ticks, budgeted busy-poll); `lean`: neither. */
  readonly dataPathLatency: 'low' | 'lean';
  /**
   * Cipher plugin of encrypted networks: `chacha20` (default, @weft/sodium: ChaCha20-Poly1305 on
   * libsodium) or `aes-gcm` (@weft/aes-gcm: AES-256-GCM through node:crypto). Every node of a
   * cluster must run the same one: the two do not open each other's envelopes.
   */
  readonly cipher: 'chacha20' | 'aes-gcm';
  readonly gossipJoin: readonly string[];
  readonly gossipKeys: readonly string[];
  readonly os: 'linux' | 'windows';
  /** Path of Docker's plugin socket, or undefined when "off". */
  readonly dockerPlugin: string | undefined;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly logFormat: 'text' | 'json';
  /** `--metrics-addr`: where Prometheus metrics are served (`/metrics`); undefined: off. */
  readonly metricsAddr: { readonly host: string; readonly port: number } | undefined;
  /** Where a manager keeps the swarm's state: `embedded:` (default) or `etcd://H:P,...`, with etcd's TLS files. */
  readonly clusterStore: { readonly URL: string; readonly CA?: string; readonly Cert?: string; readonly Key?: string };
  /** Prefix of the network namespaces of this agent's sandboxes (several agents on one machine, tests). */
  readonly netnsPrefix: string;
}

export const USAGE = `Usage: weft-agent [OPTIONS]

Runs the Weft agent of this host: joins the cluster, runs the data path, serves the local API
and Docker's network plugin protocol.

Options:
      --socket PATH           local API unix socket (default /run/weft/weft.sock, mode 0660)
      --state-dir DIR         persistent state (default /var/lib/weft)
      --node-name NAME        default: the hostname
      --advertise-addr IP     address other nodes use to reach this one, IPv4 or IPv6
      --listen-addr IP:PORT   control plane, managers only (default 0.0.0.0:2377, or [::]:2377
                              when the advertise address is IPv6; IPv6 in brackets)
      --gossip-addr IP:PORT   gossip bind, UDP and TCP (default advertise-addr:7946)
      --data-path-addr IP     underlay address for VXLAN, IPv4 or IPv6 (default advertise-addr).
                              VXLAN does not cross families: a network's nodes must all use
                              IPv4 or all IPv6 here (a node of the other family is refused)
      --data-path-port PORT   VXLAN UDP port of the kernel data path (default 4789)
      --data-path-port-userspace PORT
                              VXLAN UDP port of the userspace switch, which runs beside the
                              kernel path and needs a socket of its own (default: data-path-port + 1)
      --data-plane MODE       auto|kernel|userspace: what networks without --opt weft.dataplane
                              use on this host. auto: the kernel's vxlan for plaintext overlays,
                              the userspace switch for encrypted ones and where the kernel has no
                              vxlan; userspace: the switch for everything. Default: auto
      --data-path-latency MODE
                              low|lean. low keeps the data path warm while traffic is recent
                              and busy-polls briefly after it (round trip ~180 µs shorter
                              here; about 4 % of a core per host at 10-100 packets/s, 10 %
                              at 1000/s, nothing once traffic stops); lean does neither
                              (least CPU). Default: low
      --cipher NAME           chacha20|aes-gcm: the cipher of encrypted networks, ChaCha20-Poly1305
                              on libsodium (@weft/sodium) or AES-256-GCM through node:crypto
                              (@weft/aes-gcm). Every node of a cluster must use the same one.
                              Default: chacha20
      --gossip-join IP:PORT   join a gossip cluster directly (repeatable; any memberlist/serf peer)
      --gossip-key BASE64     memberlist keyring key (repeatable; the first is primary), for
                              gossip outside a swarm (e.g. with serf). In a swarm, gossip is
                              always encrypted with the managers' key ring, which replaces these
      --cluster-store URL     where a manager keeps the swarm's state: embedded: (default, in
                              --state-dir; one manager) or etcd://HOST:2379[,HOST:2379...]
                              (etcds:// for TLS; several managers). "swarm init
                              --cluster-store" overrides it for the swarm it creates
      --cluster-store-ca FILE, --cluster-store-cert FILE, --cluster-store-key FILE
                              PEM files for TLS to etcd (as etcdctl's --cacert/--cert/--key)
      --os linux|windows      platform to advertise (default: this one)
      --netns-prefix PREFIX   name the sandboxes' network namespaces PREFIX+NAME (several agents on
                              one machine; default: none, /run/netns/NAME)
      --docker-plugin PATH    serve Docker's plugin protocol there
                              (default /run/docker/plugins/weft.sock; "off" to disable)
      --log-level LEVEL       debug|info|warn|error (default info)
      --log-format FORMAT     text|json (default text)
      --metrics-addr IP:PORT  serve Prometheus metrics at http://IP:PORT/metrics ([::1]:9323 for IPv6; default: off;
                              Docker's metrics-addr uses 9323)
  -h, --help                  show this help
`;

function port(flag: string, v: string): number | string {
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) return `invalid ${flag} port ${JSON.stringify(v)}: expected a number from 1 to 65535`;
  return Number(v);
}

/** An IPv4 or IPv6 address, in canonical text (RFC 5952), so that equal addresses compare equal. */
function address(flag: string, v: string): string | { error: string } {
  const r = canonicalIP(v);
  return r.ok ? r.value.text : { error: `invalid ${flag} ${JSON.stringify(v)}: expected an IPv4 or IPv6 address (${r.error})` };
}

/** `IP[:PORT]`, an IPv6 address in brackets when a port follows (`[fd00::1]:7946`); empty IP: `wildcard`. */
function hostPort(flag: string, v: string, defPort: number, wildcard = '0.0.0.0'): { addr: string; port: number } | string {
  const r = splitHostPort(v === '' || v.startsWith(':') ? `${wildcard.includes(':') ? `[${wildcard}]` : wildcard}${v}` : v, defPort);
  if (!r.ok) return `invalid ${flag} ${JSON.stringify(v)}: ${r.error}`;
  if (r.value.port === 0) return `invalid ${flag} port 0 in ${JSON.stringify(v)}: expected a number from 1 to 65535`;
  return { addr: r.value.host, port: r.value.port };
}

/** Parses argv; `{ help: true }` for -h/--help. */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): { ok: true; config: AgentConfig } | { ok: false; error: string } | { help: true } {
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>([['--gossip-join', []], ['--gossip-key', []]]);
  const known = new Set(['--socket', '--state-dir', '--node-name', '--advertise-addr', '--listen-addr', '--gossip-addr', '--data-path-addr', '--data-path-port', '--data-path-port-userspace', '--data-plane', '--data-path-latency', '--cipher', '--os', '--docker-plugin', '--log-level', '--log-format', '--cluster-store', '--cluster-store-ca', '--cluster-store-cert', '--cluster-store-key', '--metrics-addr', '--netns-prefix']);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === '-h' || a === '--help') return { help: true };
    let v: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (!known.has(a) && !multi.has(a)) return { ok: false, error: `unknown flag ${JSON.stringify(a)}; see weft-agent --help` };
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined) return { ok: false, error: `flag ${a} needs a value` };
    }
    if (multi.has(a)) multi.get(a)!.push(v);
    else single.set(a, v);
  }
  const advertise = address('--advertise-addr', single.get('--advertise-addr') ?? '127.0.0.1');
  if (typeof advertise !== 'string') return { ok: false, error: advertise.error };
  // Wildcards follow the advertised family: an IPv6 host listens on [::] (which takes IPv4 too).
  const any = ipFamily(advertise) === 6 ? '::' : '0.0.0.0';
  const listen = hostPort('--listen-addr', single.get('--listen-addr') ?? joinHostPort(any, 2377), 2377, any);
  if (typeof listen === 'string') return { ok: false, error: listen };
  const gossip = hostPort('--gossip-addr', single.get('--gossip-addr') ?? joinHostPort(advertise, 7946), 7946, any);
  if (typeof gossip === 'string') return { ok: false, error: gossip };
  const dpAddr = address('--data-path-addr', single.get('--data-path-addr') ?? advertise);
  if (typeof dpAddr !== 'string') return { ok: false, error: dpAddr.error };
  const dpPort = port('--data-path-port', single.get('--data-path-port') ?? '4789');
  if (typeof dpPort === 'string') return { ok: false, error: dpPort };
  const dpPortUser = port('--data-path-port-userspace', single.get('--data-path-port-userspace') ?? String(dpPort === 65535 ? 65534 : dpPort + 1));
  if (typeof dpPortUser === 'string') return { ok: false, error: dpPortUser };
  if (dpPortUser === dpPort) return { ok: false, error: `invalid --data-path-port-userspace ${dpPortUser}: it must differ from --data-path-port (the kernel path's vxlan devices hold that port)` };
  const plane = single.get('--data-plane') ?? 'auto';
  if (plane !== 'auto' && plane !== 'kernel' && plane !== 'userspace') return { ok: false, error: `invalid --data-plane ${JSON.stringify(plane)}: expected auto, kernel or userspace` };
  const latency = single.get('--data-path-latency') ?? 'low';
  if (latency !== 'low' && latency !== 'lean') return { ok: false, error: `invalid --data-path-latency ${JSON.stringify(latency)}: expected low or lean` };
  const cipher = single.get('--cipher') ?? 'chacha20';
  if (cipher !== 'chacha20' && cipher !== 'aes-gcm') return { ok: false, error: `invalid --cipher ${JSON.stringify(cipher)}: expected chacha20 (libsodium) or aes-gcm (AES-256-GCM)` };
  for (const j of multi.get('--gossip-join')!) {
    const r = hostPort('--gossip-join', j, 7946);
    if (typeof r === 'string') return { ok: false, error: r };
  }
  for (const k of multi.get('--gossip-key')!) {
    const b = Buffer.from(k, 'base64');
    if (![16, 24, 32].includes(b.length) || b.toString('base64') !== k) {
      return { ok: false, error: `invalid --gossip-key ${JSON.stringify(k.slice(0, 8) + '…')}: expected base64 of 16, 24 or 32 bytes (e.g. from "serf keygen")` };
    }
  }
  const storeUrl = single.get('--cluster-store') ?? 'embedded:';
  const storeErr = checkStoreUrl(storeUrl);
  if (storeErr !== undefined) return { ok: false, error: `invalid --cluster-store ${JSON.stringify(storeUrl)}: ${storeErr}` };
  const tls = { CA: single.get('--cluster-store-ca'), Cert: single.get('--cluster-store-cert'), Key: single.get('--cluster-store-key') };
  if ((tls.Cert === undefined) !== (tls.Key === undefined)) return { ok: false, error: '--cluster-store-cert and --cluster-store-key go together: give both (a client certificate and its key) or neither' };
  const clusterStore = { URL: storeUrl, ...(tls.CA !== undefined ? { CA: tls.CA } : {}), ...(tls.Cert !== undefined ? { Cert: tls.Cert } : {}), ...(tls.Key !== undefined ? { Key: tls.Key } : {}) };
  const osv = single.get('--os') ?? (process.platform === 'win32' ? 'windows' : 'linux');
  if (osv !== 'linux' && osv !== 'windows') return { ok: false, error: `invalid --os ${JSON.stringify(osv)}: expected linux or windows` };
  const level = single.get('--log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) return { ok: false, error: `invalid --log-level ${JSON.stringify(level)}: expected debug, info, warn or error` };
  const format = single.get('--log-format') ?? 'text';
  if (format !== 'text' && format !== 'json') return { ok: false, error: `invalid --log-format ${JSON.stringify(format)}: expected text or json` };
  const name = single.get('--node-name') ?? env.WEFT_NODE_NAME ?? os.hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) return { ok: false, error: `invalid --node-name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-"` };
  const dp = single.get('--docker-plugin') ?? '/run/docker/plugins/weft.sock';
  let metricsAddr: AgentConfig['metricsAddr'];
  const ma = single.get('--metrics-addr');
  if (ma !== undefined) {
    const r = splitHostPort(ma, 0);
    if (!r.ok || !/:\d{1,5}$/.test(ma)) return { ok: false, error: `invalid --metrics-addr ${JSON.stringify(ma)}: expected IP:PORT, e.g. 127.0.0.1:9323 or [::1]:9323` };
    const p = port('--metrics-addr', String(r.value.port));
    if (typeof p === 'string') return { ok: false, error: p };
    metricsAddr = { host: r.value.host, port: p };
  }
  const nsPrefix = single.get('--netns-prefix') ?? '';
  if (nsPrefix !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/.test(nsPrefix)) return { ok: false, error: `invalid --netns-prefix ${JSON.stringify(nsPrefix)}: use up to 31 letters, digits, ".", "_" or "-"` };
  return {
    ok: true,
    config: {
      socket: single.get('--socket') ?? '/run/weft/weft.sock',
      stateDir: single.get('--state-dir') ?? '/var/lib/weft',
      nodeName: name,
      advertiseAddr: advertise,
      listenAddr: listen.addr,
      listenPort: listen.port,
      gossipAddr: gossip.addr,
      gossipPort: gossip.port,
      dataPathAddr: dpAddr,
      dataPathPort: dpPort,
      dataPathPortUserspace: dpPortUser,
      dataPlane: plane,
      dataPathLatency: latency,
      cipher,
      gossipJoin: multi.get('--gossip-join')!,
      gossipKeys: multi.get('--gossip-key')!,
      clusterStore,
      os: osv,
      dockerPlugin: dp === 'off' ? undefined : dp,
      logLevel: level as AgentConfig['logLevel'],
      logFormat: format,
      metricsAddr,
      netnsPrefix: nsPrefix,
    },
  };
}

/** Syntax of a cluster store URL: `embedded:`, or `etcd://` / `etcds://` with HOST:PORT endpoints. */
export function checkStoreUrl(url: string): string | undefined {
  if (url === 'embedded:' || url === 'embedded://') return undefined;
  const m = /^(etcds?):\/\/(.+)$/.exec(url);
  if (m === null) return 'expected "embedded:" or "etcd://HOST:2379[,HOST:2379...]" (etcds:// for TLS)';
  for (const ep of m[2]!.replace(/\/+$/, '').split(',')) {
    const hp = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(ep);
    if (hp === null || Number(hp[2]) < 1 || Number(hp[2]) > 65535) return `endpoint ${JSON.stringify(ep)} is not HOST:PORT (e.g. 198.18.0.1:2379)`;
  }
  return undefined;
}

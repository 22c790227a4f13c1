/**
 * The command table: every `weft` command, its flags and arguments. The parser, `--help` and
 * docs/cli.md are all generated from it. Handlers live in `cmd/*.ts` and are imported only when
 * their command runs, so loading this table costs next to nothing.
 */
import type { ArgSpec, CommandSpec, FlagSpec, GroupSpec, Io, Parsed } from './spec.ts';
import { FILTER, INSPECT_FORMAT, LIST_FORMAT, NO_TRUNC } from './listing.ts';
import type { Table } from './parse.ts';

const system = () => import('./cmd/system.ts');
const swarm = () => import('./cmd/swarm.ts');
const node = () => import('./cmd/node.ts');
const network = () => import('./cmd/network.ts');
const sandbox = () => import('./cmd/sandbox.ts');
const service = () => import('./cmd/service.ts');
const stack = () => import('./cmd/stack.ts');
const events = () => import('./cmd/events.ts');

const FORMAT: FlagSpec = { name: 'format', type: 'string', value: 'FORMAT', choices: ['table', 'json'], defaultText: 'table', desc: 'Output format' };
const FORMAT_JSON: FlagSpec = { ...FORMAT, choices: ['text', 'json'], defaultText: 'text' };
const QUIET: FlagSpec = { name: 'quiet', short: 'q', type: 'bool', desc: 'Only display IDs' };
const QUIET_NAMES: FlagSpec = { ...QUIET, desc: 'Only display names' };

const groups: readonly GroupSpec[] = [
  { path: ['swarm'], summary: 'Manage the cluster (init, join, join-token, leave)' },
  { path: ['node'], summary: 'Manage the nodes of the cluster' },
  { path: ['network'], summary: 'Manage networks' },
  { path: ['network', 'peer'], summary: 'Manage static peers of a network (VTEPs outside Weft)' },
  { path: ['service'], summary: 'Manage services (replicated sandboxes across the cluster)' },
  { path: ['stack'], summary: 'Manage stacks (services and networks from a compose file)' },
  { path: ['system'], summary: 'Manage Weft (events)' },
  { path: ['container'], summary: 'Manage sandboxes (Docker\'s containers: run, ls, stop, start, rm, exec, inspect)' },
];

/** `weft system events` and its short form `weft events` (Docker has both). */
const EVENTS: Omit<CommandSpec, 'path'> = {
  summary: 'Show events as they happen: networks, endpoints, sandboxes, nodes, services, key rotations',
  details:
    'Recorded events from --since are shown first; then new ones as they happen, until --until or Ctrl-C.\n' +
    'Filters (repeatable; one key given twice matches either value): type=network|endpoint|sandbox|node|service|key,\n' +
    'event=ACTION (create, attach, down, rotate, ...), network=NAME|ID, sandbox=NAME, node=NAME, service=NAME|ID, scope=local|swarm.',
  flags: [
    { name: 'since', type: 'string', value: 'TIME', desc: 'Show events since a Unix timestamp, a date (2024-05-01T10:00:00Z) or a duration before now (10m)' },
    { name: 'until', type: 'string', value: 'TIME', desc: 'Stop at a Unix timestamp, a date or a duration before now' },
    { name: 'filter', short: 'f', type: 'kv', value: 'KEY=VALUE', kvValueRequired: true, repeat: true, desc: 'Only events matching (type, event, network, sandbox, node, service, scope)' },
    { name: 'format', type: 'string', value: 'FORMAT', choices: ['text', 'json'], defaultText: 'text', desc: 'Output format: one line per event, or one JSON object per line' },
  ],
  args: [],
  examples: ['weft system events --since 10m --filter type=network', 'weft events --filter type=node --filter event=down --format json'],
  run: (p, io) => events().then((m) => m.events(p, io)),
};

/**
 * The sandbox commands, top-level (`weft run`, `weft ps`, ...) and under Docker's management
 * command (`weft container run`, `weft container ls`, ...): the same table entries.
 */
function sandboxCommands(prefix: readonly string[]): CommandSpec[] {
  const top = prefix.length === 0;
  const NAMES: ArgSpec = { name: 'NAME', arity: 'many' };
  return [
    {
      path: [...prefix, 'run'],
      summary: 'Create a network sandbox on this host, attach it to networks and run a command in it',
      details:
        'Docker\'s grammar: IMAGE [CMD...], or -- CMD... with no image. Weft runs no images: the image is recorded (ps shows it)\n' +
        'and, without CMD, picks the command: alpine, busybox, ubuntu, debian → /bin/sh; nginx, httpd → an HTTP server on port 80.\n' +
        'Without -d, weft runs the command in the foreground (ip netns exec, stdin attached with -i, the terminal with -t) and\n' +
        'exits with its status; the sandbox then stops (it leaves its networks) unless --rm removes it. With -d the agent runs\n' +
        'the command; -dit keeps a shell waiting on an open stdin. --ip and --ip6 apply to the first --network; --alias to every network.',
      flags: [
        { name: 'detach', short: 'd', type: 'bool', desc: 'Let the agent run the command in the background (without IMAGE or CMD: only create the sandbox)' },
        { name: 'interactive', short: 'i', type: 'bool', desc: 'Keep standard input open (attached in the foreground, an open FIFO with -d)' },
        { name: 'tty', short: 't', type: 'bool', desc: 'Give the command the terminal (the foreground needs one)' },
        { name: 'name', type: 'string', value: 'NAME', defaultText: 'a generated one, such as brave_curie42', desc: 'Sandbox name (also its DNS name)' },
        { name: 'network', type: 'string', value: 'NET', repeat: true, desc: 'Network to attach to' },
        { name: 'ip', type: 'ip', value: 'IP', desc: 'IPv4 address on the first network' },
        { name: 'ip6', type: 'ip', value: 'IP', desc: 'IPv6 address on the first network (one with --ipv6)' },
        { name: 'alias', type: 'string', value: 'NAME', repeat: true, desc: 'Extra DNS name on every network' },
        { name: 'hostname', type: 'string', value: 'H', defaultText: 'the sandbox name', desc: 'Host name inside the sandbox' },
        { name: 'publish', short: 'p', type: 'portmap', value: '[HOST_IP:]HOST_PORT:PORT[/tcp|udp]', repeat: true, desc: 'Publish a port of the sandbox on the host' },
        { name: 'rm', type: 'bool', desc: 'Remove the sandbox when the command exits (foreground only)' },
        { name: 'bare', type: 'bool', desc: 'A bare endpoint (with -d, no IMAGE or CMD): an address and DNS name on the networks, no namespace of its own' },
      ],
      args: [{ name: 'IMAGE', arity: 'optional' }],
      rest: { name: 'CMD', required: false },
      examples: top
        ? ['weft run -it --name alpine1 --network test-net alpine', 'weft run -dit --name alpine2 --network test-net alpine', 'weft run --name web1 --network web -- python3 -m http.server 80', 'weft run -d --name db1 --network db --ip 10.2.0.5 -p 5432:5432 -- postgres', 'weft run -d --bare --name e1 --network web']
        : [],
      run: (p, io) => sandbox().then((m) => m.run(p, io)),
    },
    {
      path: [...prefix, 'exec'],
      summary: 'Run a command inside a running sandbox (ip netns exec / nsenter; needs root)',
      flags: [
        { name: 'interactive', short: 'i', type: 'bool', desc: 'Attach standard input' },
        { name: 'tty', short: 't', type: 'bool', desc: 'Give the command the terminal' },
      ],
      args: [{ name: 'NAME', arity: 'one' }],
      rest: { name: 'CMD', required: true },
      examples: top ? ['weft exec web1 ping -c1 db1', 'weft exec -it alpine1 sh'] : [],
      run: (p, io) => sandbox().then((m) => m.exec(p, io)),
    },
    {
      path: [...prefix, top ? 'ps' : 'ls'],
      aliases: top ? [] : ['ps', 'list'],
      summary: 'List sandboxes on this host, service tasks included (running ones; -a for all)',
      flags: [
        { name: 'all', short: 'a', type: 'bool', desc: 'Show all sandboxes (stopped ones too)' },
        FILTER,
        LIST_FORMAT,
        NO_TRUNC,
        QUIET_NAMES,
      ],
      args: [],
      examples: top ? ['weft ps -a', "weft ps --filter network=web --format '{{.Names}}\t{{.Status}}'"] : [],
      run: (p, io) => sandbox().then((m) => m.ps(p, io)),
    },
    {
      path: [...prefix, 'stop'],
      summary: 'Stop sandboxes: end their command and leave their networks (kept, exited)',
      flags: [{ name: 'time', short: 't', type: 'int', value: 'SECONDS', min: 0, defaultText: '10', desc: 'Seconds to wait before killing the command' }],
      args: [NAMES],
      run: (p, io) => sandbox().then((m) => m.stop(p, io)),
    },
    {
      path: [...prefix, 'start'],
      summary: 'Start stopped sandboxes: attach their networks again and start their command',
      flags: [],
      args: [NAMES],
      run: (p, io) => sandbox().then((m) => m.start(p, io)),
    },
    {
      path: [...prefix, 'rm'],
      aliases: top ? [] : ['remove'],
      summary: 'Remove sandboxes (their namespace, endpoints and DNS names)',
      flags: [{ name: 'force', short: 'f', type: 'bool', desc: 'Remove even if its command is still running (it is killed)' }],
      args: [NAMES],
      run: (p, io) => sandbox().then((m) => m.rm(p, io)),
    },
    ...(top
      ? []
      : [
          {
            path: [...prefix, 'inspect'],
            summary: 'Show the details of sandboxes as JSON',
            flags: [INSPECT_FORMAT],
            args: [NAMES],
            run: (p: Parsed, io: Io) => sandbox().then((m) => m.inspect(p, io)),
          },
        ]),
  ];
}

const commands: readonly CommandSpec[] = [
  // ---- system
  {
    path: ['version'],
    summary: 'Show the client version and, when reachable, the agent version',
    flags: [FORMAT_JSON],
    args: [],
    run: (p, io) => system().then((m) => m.version(p, io)),
  },
  {
    path: ['info'],
    summary: 'Show this node, its role, the cluster, members, networks and the crypto backend',
    flags: [FORMAT_JSON],
    args: [],
    run: (p, io) => system().then((m) => m.info(p, io)),
  },

  { path: ['system', 'events'], ...EVENTS },
  { path: ['events'], ...EVENTS, summary: 'Show events as they happen (same as "weft system events")' },

  // ---- swarm
  {
    path: ['swarm', 'init'],
    summary: 'Create a cluster with this node as its first manager',
    flags: [
      { name: 'advertise-addr', type: 'ip', value: 'IP', desc: 'Address other nodes use to reach this one, IPv4 or IPv6 (the agent\'s --advertise-addr by default)' },
      { name: 'listen-addr', type: 'hostport', value: 'IP:PORT', defaultText: '0.0.0.0:2377, [::]:2377 on an IPv6 agent', desc: 'Control plane listen address (IPv6 in brackets)' },
      { name: 'data-path-addr', type: 'ip', value: 'IP', defaultText: 'the agent\'s --data-path-addr', desc: 'Underlay address for VXLAN traffic, IPv4 or IPv6; must be the address the agent\'s data path is bound to (weft-agent --data-path-addr)' },
      { name: 'data-path-port', type: 'int', value: 'N', min: 1, max: 65535, defaultText: '4789', desc: 'VXLAN UDP port' },
      { name: 'default-addr-pool', type: 'cidr', value: 'CIDR', repeat: true, defaultText: '10.0.0.0/8 and fd57:6566:7400::/48', desc: 'Address pool that network subnets are taken from, IPv4 or IPv6 (IPv6 pools give /64s; a family without a pool keeps its default)' },
      { name: 'default-addr-pool-mask-length', type: 'int', value: 'N', min: 1, max: 32, defaultText: '24', desc: 'Prefix length of the IPv4 subnets taken from the pools' },
      { name: 'key-rotation-interval', type: 'duration', value: 'DURATION', defaultText: '12h', desc: 'How often encrypted networks rotate their keys (e.g. 90s, 30m, 12h)' },
      { name: 'cluster-store', type: 'string', value: 'URL', defaultText: 'the agent\'s --cluster-store, else embedded:', desc: 'Where the swarm\'s state lives: embedded: (one manager) or etcd://HOST:2379[,HOST:2379...] (several managers; etcds:// for TLS)' },
      { name: 'cluster-store-ca', type: 'string', value: 'FILE', desc: 'CA certificate (PEM) of the etcd cluster store' },
      { name: 'cluster-store-cert', type: 'string', value: 'FILE', desc: 'Client certificate (PEM) for the etcd cluster store' },
      { name: 'cluster-store-key', type: 'string', value: 'FILE', desc: 'Key (PEM) of the client certificate' },
    ],
    args: [],
    examples: ['weft swarm init --advertise-addr 192.168.1.10', 'weft swarm init --advertise-addr fd18::10', 'weft swarm init --default-addr-pool 10.20.0.0/16 --default-addr-pool-mask-length 26', 'weft swarm init --cluster-store etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379'],
    run: (p, io) => swarm().then((m) => m.init(p, io)),
  },
  {
    path: ['swarm', 'join'],
    summary: 'Join a cluster as a worker or a manager (the token decides)',
    flags: [
      { name: 'token', type: 'string', value: 'TOKEN', required: true, desc: 'Join token from "weft swarm join-token"' },
      { name: 'advertise-addr', type: 'ip', value: 'IP', desc: 'Address other nodes use to reach this one, IPv4 or IPv6 (the agent\'s --advertise-addr by default)' },
      { name: 'data-path-addr', type: 'ip', value: 'IP', desc: 'Underlay address for VXLAN traffic, IPv4 or IPv6; must be the address the agent\'s data path is bound to (weft-agent --data-path-addr). Every node of a network needs one of the same family' },
      { name: 'listen-addr', type: 'hostport', value: 'IP:PORT', defaultText: '0.0.0.0:2377, [::]:2377 on an IPv6 agent', desc: 'Control plane listen address (when joining as a manager; IPv6 in brackets)' },
      { name: 'cluster-store-ca', type: 'string', value: 'FILE', desc: 'CA certificate (PEM) of the etcd cluster store' },
      { name: 'cluster-store-cert', type: 'string', value: 'FILE', desc: 'Client certificate (PEM) for the etcd cluster store' },
      { name: 'cluster-store-key', type: 'string', value: 'FILE', desc: 'Key (PEM) of the client certificate' },
    ],
    args: [{ name: 'MANAGER_IP:PORT', arity: 'one' }],
    examples: ['weft swarm join --token SWMTKN-1-... 192.168.1.10:2377', 'weft swarm join --token SWMTKN-1-... --advertise-addr fd18::11 [fd18::10]:2377'],
    run: (p, io) => swarm().then((m) => m.join(p, io)),
  },
  {
    path: ['swarm', 'join-token'],
    summary: 'Print (or rotate) the token and command that join a node to this cluster',
    flags: [{ name: 'rotate', type: 'bool', desc: 'Replace the token; the old one stops working' }, { ...QUIET, desc: 'Only display the token' }],
    args: [{ name: 'ROLE', arity: 'one', choices: ['worker', 'manager'] }],
    run: (p, io) => swarm().then((m) => m.joinToken(p, io)),
  },
  {
    path: ['swarm', 'leave'],
    summary: 'Leave the cluster',
    flags: [{ name: 'force', short: 'f', type: 'bool', desc: 'Leave even if this is the last manager (the cluster is lost)' }],
    args: [],
    run: (p, io) => swarm().then((m) => m.leave(p, io)),
  },

  // ---- node
  {
    path: ['node', 'ls'],
    aliases: ['list'],
    summary: 'List the members of the cluster (Weft nodes and foreign memberlist/serf members)',
    flags: [FILTER, LIST_FORMAT, NO_TRUNC, QUIET],
    args: [],
    run: (p, io) => node().then((m) => m.ls(p, io)),
  },
  {
    path: ['node', 'inspect'],
    summary: 'Show the details of nodes as JSON',
    flags: [INSPECT_FORMAT],
    args: [{ name: 'NODE', arity: 'many' }],
    run: (p, io) => node().then((m) => m.inspect(p, io)),
  },
  {
    path: ['node', 'rm'],
    aliases: ['remove'],
    summary: 'Remove nodes from the cluster',
    flags: [{ name: 'force', short: 'f', type: 'bool', desc: 'Remove a node that is still up' }],
    args: [{ name: 'NODE', arity: 'many' }],
    run: (p, io) => node().then((m) => m.rm(p, io)),
  },
  {
    path: ['node', 'promote'],
    summary: 'Promote nodes to managers (needs a swarm on a shared cluster store)',
    flags: [],
    args: [{ name: 'NODE', arity: 'many' }],
    run: (p, io) => node().then((m) => m.promote(p, io)),
  },
  {
    path: ['node', 'demote'],
    summary: 'Demote managers to workers',
    flags: [],
    args: [{ name: 'NODE', arity: 'many' }],
    run: (p, io) => node().then((m) => m.demote(p, io)),
  },

  // ---- network
  {
    path: ['network', 'create'],
    summary: 'Create a network',
    details:
      'Each --gateway, --ip-range and --aux-address belongs to the --subnet that contains it.\n' +
      '-o com.docker.network.driver.mtu=N and -o com.docker.network.driver.overlay.vxlanid_list=N keep their Docker meaning.',
    flags: [
      { name: 'driver', short: 'd', type: 'string', value: 'DRIVER', defaultText: 'chosen by the agent', desc: 'Driver: overlay, bridge or a plugin name' },
      { name: 'attachable', type: 'bool', desc: 'Let standalone sandboxes (weft run) attach' },
      { name: 'internal', type: 'bool', desc: 'No route out of the network' },
      { name: 'ingress', type: 'bool', desc: "The swarm's routing-mesh network (overlay, one per swarm, not attachable; made as \"ingress\" when a service first publishes a port)" },
      { name: 'opt', short: 'o', type: 'kv', value: 'KEY=VALUE', repeat: true, desc: 'Driver option (e.g. encrypted, com.docker.network.driver.mtu=1400)' },
      { name: 'subnet', type: 'cidr', value: 'CIDR', repeat: true, desc: 'Subnet' },
      { name: 'gateway', type: 'ip', value: 'IP', repeat: true, desc: 'Gateway of the subnet that contains it' },
      { name: 'ip-range', type: 'cidr', value: 'CIDR', repeat: true, desc: 'Allocate addresses from this range of the subnet that contains it' },
      { name: 'aux-address', type: 'kv', value: 'NAME=IP', kvValueRequired: true, repeat: true, desc: 'Address the allocator must not hand out' },
      { name: 'ipv6', type: 'bool', desc: 'Enable IPv6: a dual-stack network (an IPv6 subnet from --subnet, else a /64 of the default IPv6 pool)' },
      { name: 'ipv4', type: 'bool', defaultText: 'true', desc: 'Enable IPv4; --ipv4=false with --ipv6 makes an IPv6-only network (no IPv4 subnet)' },
      { name: 'label', type: 'kv', value: 'KEY=VALUE', repeat: true, desc: 'Metadata label' },
    ],
    args: [{ name: 'NAME', arity: 'one' }],
    examples: ['weft network create -d overlay --attachable --subnet 10.1.0.0/24 web', 'weft network create -d overlay --opt encrypted --label env=prod db', 'weft network create -d overlay --attachable --ipv6 --subnet 10.1.1.0/24 --subnet fd00:1::/64 dual', 'weft network create -d overlay --attachable --ipv4=false --ipv6 --subnet fd00:2::/64 v6only'],
    run: (p, io) => network().then((m) => m.create(p, io)),
  },
  {
    path: ['network', 'ls'],
    aliases: ['list'],
    summary: 'List networks',
    flags: [FILTER, LIST_FORMAT, NO_TRUNC, QUIET],
    args: [],
    run: (p, io) => network().then((m) => m.ls(p, io)),
  },
  {
    path: ['network', 'inspect'],
    summary: 'Show the details of networks as JSON (every endpoint in the cluster included)',
    flags: [INSPECT_FORMAT],
    args: [{ name: 'NAME', arity: 'many' }],
    run: (p, io) => network().then((m) => m.inspect(p, io)),
  },
  {
    path: ['network', 'rm'],
    aliases: ['remove'],
    summary: 'Remove networks',
    flags: [],
    args: [{ name: 'NAME', arity: 'many' }],
    run: (p, io) => network().then((m) => m.rm(p, io)),
  },
  {
    path: ['network', 'prune'],
    summary: 'Remove all networks no sandbox uses',
    details: 'Asks for confirmation when standard input is a terminal, unless --force is given.',
    flags: [{ name: 'force', short: 'f', type: 'bool', desc: 'Do not ask for confirmation' }],
    args: [],
    run: (p, io) => network().then((m) => m.prune(p, io)),
  },
  {
    path: ['network', 'connect'],
    summary: 'Attach a sandbox to a network',
    flags: [
      { name: 'ip', type: 'ip', value: 'IP', desc: 'IPv4 address of the sandbox on this network' },
      { name: 'ip6', type: 'ip', value: 'IP', desc: 'IPv6 address of the sandbox on this network' },
      { name: 'alias', type: 'string', value: 'NAME', repeat: true, desc: 'Extra DNS name of the sandbox on this network' },
    ],
    args: [{ name: 'NETWORK', arity: 'one' }, { name: 'SANDBOX', arity: 'one' }],
    run: (p, io) => network().then((m) => m.connect(p, io)),
  },
  {
    path: ['network', 'disconnect'],
    summary: 'Detach a sandbox from a network',
    flags: [{ name: 'force', short: 'f', type: 'bool', desc: 'Detach even if the sandbox is gone' }],
    args: [{ name: 'NETWORK', arity: 'one' }, { name: 'SANDBOX', arity: 'one' }],
    run: (p, io) => network().then((m) => m.disconnect(p, io)),
  },
  {
    path: ['network', 'peers'],
    summary: "This host's view of a network: VTEPs, endpoints, key epoch, encryption state, counters",
    flags: [FORMAT],
    args: [{ name: 'NAME', arity: 'one' }],
    run: (p, io) => network().then((m) => m.peers(p, io)),
  },
  {
    path: ['network', 'peer', 'add'],
    summary: 'Add a static peer outside Weft (a Linux vxlan device, a hardware VTEP)',
    details:
      'Each --ip must lie in the network\'s subnet of its family. The peer sends to this host\'s VTEP at the port of the path that\n' +
      'carries the network here (4789 on the kernel path, 4790 on the userspace switch: "network inspect" shows DataPlane).',
    flags: [
      { name: 'vtep', type: 'ip', value: 'UNDERLAY_IP', required: true, desc: "Peer's underlay (VTEP) address" },
      { name: 'mac', type: 'mac', value: 'MAC', required: true, desc: 'MAC address behind that VTEP' },
      { name: 'ip', type: 'ip', value: 'IP', required: true, repeat: true, desc: 'Overlay address that owns the MAC: IPv4 or IPv6 (give both, one of each, for a dual-stack peer)' },
    ],
    args: [{ name: 'NAME', arity: 'one' }],
    examples: ['weft network peer add web --vtep 192.168.1.50 --mac 02:42:0a:01:00:32 --ip 10.1.0.50', 'weft network peer add web6 --vtep 192.168.1.50 --mac 02:42:0a:01:00:33 --ip 10.1.0.51 --ip fd00:1::33'],
    run: (p, io) => network().then((m) => m.peerAdd(p, io)),
  },
  {
    path: ['network', 'peer', 'rm'],
    aliases: ['remove'],
    summary: 'Remove a static peer',
    flags: [{ name: 'mac', type: 'mac', value: 'MAC', required: true, desc: 'MAC address of the peer' }],
    args: [{ name: 'NAME', arity: 'one' }],
    run: (p, io) => network().then((m) => m.peerRm(p, io)),
  },

  // ---- sandboxes (Docker's containers)
  ...sandboxCommands([]),
  ...sandboxCommands(['container']),
  {
    path: ['inspect'],
    summary: 'Show the details of sandboxes, networks, services or nodes as JSON',
    flags: [INSPECT_FORMAT],
    args: [{ name: 'NAME', arity: 'many' }],
    examples: ["weft inspect -f '{{range .Networks}}{{.IPAddress}}{{end}}' alpine1"],
    run: (p, io) => sandbox().then((m) => m.inspectAny(p, io)),
  },

  // ---- services
  {
    path: ['service', 'create'],
    summary: 'Create a service: N replicas of a sandbox spread over the cluster, behind one name',
    flags: [
      { name: 'name', type: 'string', value: 'S', required: true, desc: 'Service name (also its DNS name)' },
      { name: 'replicas', type: 'int', value: 'N', min: 0, defaultText: '1', desc: 'Number of tasks' },
      { name: 'network', type: 'string', value: 'NET', repeat: true, desc: 'Network to attach the tasks to' },
      { name: 'publish', short: 'p', type: 'publish', value: 'published=P,target=T[,protocol=udp][,mode=ingress|host]', repeat: true, desc: 'Publish a port (short form P:T[/udp] too)' },
      { name: 'endpoint-mode', type: 'string', value: 'MODE', choices: ['vip', 'dnsrr'], defaultText: 'vip', desc: 'How the service name resolves: one virtual IP, or every task (DNS round robin)' },
    ],
    args: [{ name: 'IMAGE', arity: 'optional' }],
    rest: { name: 'CMD', required: false },
    details: "Docker's grammar: IMAGE [CMD...], or -- CMD... with no image. Weft runs no images: without CMD the image picks the\ncommand (alpine, busybox → /bin/sh; nginx, httpd → an HTTP server on port 80).",
    examples: ['weft service create --name my-nginx --publish target=80,published=80 --replicas=5 --network nginx-net nginx', 'weft service create --name api --replicas 3 --network web --publish published=8080,target=80 -- python3 -m http.server 80'],
    run: (p, io) => service().then((m) => m.create(p, io)),
  },
  {
    path: ['service', 'ls'],
    aliases: ['list'],
    summary: 'List services',
    flags: [FILTER, LIST_FORMAT, NO_TRUNC, QUIET],
    args: [],
    run: (p, io) => service().then((m) => m.ls(p, io)),
  },
  {
    path: ['service', 'ps'],
    summary: 'List the tasks of a service',
    flags: [FILTER, LIST_FORMAT, NO_TRUNC, QUIET],
    args: [{ name: 'SERVICE', arity: 'one' }],
    run: (p, io) => service().then((m) => m.ps(p, io)),
  },
  {
    path: ['service', 'inspect'],
    summary: 'Show the details of services as JSON',
    flags: [INSPECT_FORMAT, { name: 'pretty', type: 'bool', desc: 'Print the information in a human friendly format' }],
    args: [{ name: 'SERVICE', arity: 'many' }],
    run: (p, io) => service().then((m) => m.inspect(p, io)),
  },
  {
    path: ['service', 'scale'],
    summary: 'Change the number of replicas of services',
    flags: [],
    args: [{ name: 'SERVICE=REPLICAS', arity: 'many' }],
    examples: ['weft service scale api=5 worker=2'],
    run: (p, io) => service().then((m) => m.scale(p, io)),
  },
  {
    path: ['service', 'update'],
    summary: "Change a service's networks or replicas",
    flags: [
      { name: 'network-add', type: 'string', value: 'NET', repeat: true, desc: 'Attach the tasks to a network' },
      { name: 'network-rm', type: 'string', value: 'NET', repeat: true, desc: 'Detach the tasks from a network' },
      { name: 'replicas', type: 'int', value: 'N', min: 0, desc: 'Number of tasks' },
    ],
    args: [{ name: 'SERVICE', arity: 'one' }],
    run: (p, io) => service().then((m) => m.update(p, io)),
  },
  {
    path: ['service', 'rm'],
    aliases: ['remove'],
    summary: 'Remove services',
    flags: [],
    args: [{ name: 'SERVICE', arity: 'many' }],
    run: (p, io) => service().then((m) => m.rm(p, io)),
  },

  // ---- stacks
  {
    path: ['stack', 'deploy'],
    summary: 'Deploy (or update) a stack from compose files',
    details: 'The compose files are read here and sent to the agent, which creates the networks and services (named STACK_NAME).',
    flags: [{ name: 'compose-file', short: 'c', type: 'string', value: 'FILE', repeat: true, required: true, desc: 'Compose file ("-" reads standard input); later files override earlier ones' }],
    args: [{ name: 'NAME', arity: 'one' }],
    examples: ['weft stack deploy -c compose.yml shop'],
    run: (p, io) => stack().then((m) => m.deploy(p, io)),
  },
  {
    path: ['stack', 'ls'],
    aliases: ['list'],
    summary: 'List stacks',
    flags: [LIST_FORMAT, QUIET_NAMES],
    args: [],
    run: (p, io) => stack().then((m) => m.ls(p, io)),
  },
  {
    path: ['stack', 'ps'],
    summary: 'List the tasks of a stack',
    flags: [FILTER, LIST_FORMAT, NO_TRUNC, QUIET],
    args: [{ name: 'NAME', arity: 'one' }],
    run: (p, io) => stack().then((m) => m.ps(p, io)),
  },
  {
    path: ['stack', 'rm'],
    aliases: ['remove'],
    summary: 'Remove a stack: its services and networks',
    flags: [],
    args: [{ name: 'NAME', arity: 'many' }],
    run: (p, io) => stack().then((m) => m.rm(p, io)),
  },
];

export const TABLE: Table = { commands, groups };

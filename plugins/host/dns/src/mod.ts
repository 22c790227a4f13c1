/**
 * @weft/dns — the embedded DNS resolver of a Weft network: answers from the replicated
 * `endpoints` table (names, aliases, service VIP or dnsrr, `tasks.NAME`), NXDOMAIN for unknown
 * names of the network, forwarding of the rest to the host's resolvers.
 */
export { dnsPlugin, dnsPlugin as default, dnsService, DnsConfig, type DnsService } from './plugin.ts';
export {
  createResolver,
  DEFAULT_TTL,
  DEFAULT_FORWARD_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_FORWARDS,
  type AnswerResult,
  type DnsCounters,
  type Resolver,
  type ResolverOptions,
} from './resolver.ts';
export {
  EndpointRecord,
  ENDPOINTS_TABLE,
  encodeEndpointRecord,
  decodeEndpointRecord,
  readEndpointRecord,
  recordAddress,
  NameTables,
  NetworkNames,
  type ApplyResult,
  type NameRecord,
  type RecordKind,
  type Resolution,
} from './records.ts';
export { parseResolvConf, parseUpstream, sandboxResolvConf, type ResolvConf, type SandboxResolvConfOptions, type Upstream } from './resolvconf.ts';
export { serveUdp, udpExchange, type Exchange, type ExchangeResult, type UdpAnswerer, type UdpServer } from './udp.ts';

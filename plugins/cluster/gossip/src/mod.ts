export { TABLES_DEFAULTS, NetworkTables, membershipHost } from './tables.ts';
export type { MemberState, TablesHost, Clock, TablesConfig, TablesOptions, TablesCounters, MembershipLike } from './tables.ts';
export { GossipConfig, gossipPlugin } from './plugin.ts';
export { RECONNECT_INTERVAL_MS, startReconnect } from './reconnect.ts';
export type { ReconnectOptions, Reconnect } from './reconnect.ts';

export { USAGE, parseArgs } from './config.ts';
export type { AgentConfig } from './config.ts';
export { createLogger } from './log.ts';
export type { Level } from './log.ts';
export { WEFT_VERSION, createApi } from './api.ts';
export type { ApiDeps } from './api.ts';
export { StartupError, plugins, startAgent } from './agent.ts';
export type { RunningAgent } from './agent.ts';

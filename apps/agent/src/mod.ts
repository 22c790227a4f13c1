export * from './config.ts';
export * from './log.ts';
export * from './api.ts';
export * from './agent.ts';

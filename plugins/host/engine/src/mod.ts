export * from './engine.ts';
export * from './host.ts';
export * from './plugin.ts';
export * from './ports.ts';

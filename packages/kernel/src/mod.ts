/**
 * @weft/kernel — contracts only: driver and service interfaces, io-ts codecs with Docker's field
 * names, coded errors, the plugin registry and the invocation runtime. No I/O, no plugins.
 */
export * from './errors.ts';
export * from './semver.ts';
export * from './codecs.ts';
export * from './methods.ts';
export * from './services.ts';
export * from './plugin.ts';
export * from './store.ts';
export * from './events.ts';
export * from './registry.ts';
export * from './runtime.ts';
export * from './records.ts';

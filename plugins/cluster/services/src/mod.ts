/** @weft/services — replicated services, tasks and stacks on top of the engine's sandboxes. */
export * from './records.ts';
export * from './placement.ts';
export { servicesPlugin } from './plugin.ts';
export { ServicesConfig, INGRESS_NETWORK, STARTUP_GRACE_MS, ORPHAN_GRACE_MS } from './config.ts';
export type { ServicesOptions } from './config.ts';
export * from './stack.ts';
export * from './routes.ts';
export * from './ingress.ts';

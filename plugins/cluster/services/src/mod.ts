/** @weft/services — replicated services, tasks and stacks on top of the engine's sandboxes. */
export * from './records.ts';
export * from './placement.ts';
export * from './plugin.ts';
export * from './stack.ts';
export * from './routes.ts';
export * from './ingress.ts';

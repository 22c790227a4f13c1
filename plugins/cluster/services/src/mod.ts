/** @weft/services — replicated services, tasks and stacks on top of the engine's sandboxes. */
export { servicesPlugin, specKey } from './plugin.ts';
export { ServicesConfig, INGRESS_NETWORK, STARTUP_GRACE_MS, ORPHAN_GRACE_MS } from './config.ts';
export type { ServicesOptions } from './config.ts';
export { CLUSTER_NETWORK, TASKS_TABLE, STATUS_TABLE, VIPS_TABLE, TaskAssignment, VipEntry, TaskState, TaskStatus, attachedNetworks, encodeJson, decodeJson, Retained, publishedPorts } from './records.ts';
export type { TaskRecord, ServiceRecord } from './records.ts';
export { HISTORY_PER_SLOT, taskName, plan } from './placement.ts';
export type { PlanInput } from './placement.ts';
export { STACK_LABEL, splitCommand, planStack, deployStack, listStacks, removeStack } from './stack.ts';
export { ComposeFile, readCompose, interpolate, referencedVariables, mergeCompose, dropExtensions } from './compose.ts';
export type { ComposeNetwork, ComposePlan } from './stack.ts';
export { serviceRoutes } from './routes.ts';
export type { ServiceRoute } from './routes.ts';
export { INGRESS_TABLE, IngressEntry, createIngress } from './ingress.ts';
export type { Ingress } from './ingress.ts';

/**
 * @weft/sys — host access for the data path: one small syscall interface (`Sys`) with a Node
 * adapter (koffi) and a Deno adapter (Deno.dlopen), and runtime-neutral helpers on top: TAP
 * devices, UDP sockets for batched I/O, setns, iproute2, and a root test harness.
 */
export * from './types.ts';
export * from './host.ts';
export * from './tun.ts';
export * from './netns.ts';
export * from './udp.ts';
export * from './ip.ts';
export * from './netdev.ts';
export * from './harness.ts';

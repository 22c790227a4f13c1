export * from "./tables.ts";
export * from "./plugin.ts";
export * from "./reconnect.ts";

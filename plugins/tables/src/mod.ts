export * from "./tables.ts";
export * from "./plugin.ts";

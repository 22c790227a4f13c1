/** The client's version (kept equal to package.json's by a test, so start-up reads no file). */
export const CLI_VERSION = '0.1.0';
/** The local API version this client speaks (`API_VERSION` in @weft/api; a test keeps them equal). */
export const CLI_API_VERSION = '1.0';
/** The runtime running this client: `node v20.20.2`, `deno 2.9.6`, or `bun 1.4.4` (the single-file binary). */
export function clientRuntime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

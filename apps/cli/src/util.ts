/** Drops undefined properties, so request bodies satisfy `exactOptionalPropertyTypes` and send no nulls. */
export function compact<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Runs `fn` for each name in order; reports failures as `Error: ...` lines and returns 1 if any failed (Docker's `rm A B`). */
export async function eachName(names: readonly string[], errOut: (s: string) => void, fn: (name: string) => Promise<void>): Promise<number> {
  let rc = 0;
  for (const n of names) {
    try {
      await fn(n);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      // Same line as main's: the agent's hint (what to do) follows the message.
      const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
      const hint = (e as { hint?: unknown }).hint;
      const extra = typeof hint === 'string' && hint !== '' && !e.message.includes(hint) ? ` (${oneLine(hint)})` : '';
      errOut(`Error: ${oneLine(e.message)}${extra}\n`);
      rc = 1;
    }
  }
  return rc;
}

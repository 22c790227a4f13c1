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
      errOut(`Error: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      rc = 1;
    }
  }
  return rc;
}

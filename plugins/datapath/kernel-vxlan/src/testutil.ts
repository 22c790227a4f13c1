/** Helpers shared by the root tests of @weft/kernel-vxlan. */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import { rootSkipReason } from '@weft/sys';

export const skip = rootSkipReason();

/** A uvu test that is skipped, saying why, when not root. */
export const rootTest = (name: string, fn: () => Promise<void>): void => {
  if (skip !== undefined) test(name, () => console.log(`  skipped "${name}": ${skip}`));
  else test(name, fn);
};

/** Namespaces under /run/netns whose names start with `prefix`. */
export function namespacesWith(prefix: string): string[] {
  try {
    return fs.readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Deletes every namespace whose name starts with `prefix` (what a data path under test left). */
export function dropNamespaces(prefix: string): void {
  for (const n of namespacesWith(prefix)) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
}

/**
 * Who owns the database: one process at a time (watches and leases live in that process). The
 * owner is a record in the database itself, checked and written in one LMDB write transaction —
 * LMDB's writer lock serialises two processes opening at once, so exactly one wins — and it names
 * the process by PID, its start time and the boot, so a PID reused after a crash or a reboot is
 * not taken for the owner.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface Owner {
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22); absent off Linux. */
  readonly start?: string;
  /** /proc/sys/kernel/random/boot_id; absent off Linux. */
  readonly boot?: string;
  /** For messages only: a container's host name may change across restarts. */
  readonly host: string;
}

function readOr(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function startOf(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces; fields follow the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19];
}

const bootId = (): string | undefined => readOr('/proc/sys/kernel/random/boot_id')?.trim();

export function currentOwner(): Owner {
  const start = startOf(process.pid);
  const boot = bootId();
  return { pid: process.pid, host: os.hostname(), ...(start !== undefined ? { start } : {}), ...(boot !== undefined ? { boot } : {}) };
}

export const sameOwner = (a: Owner, b: Owner): boolean => a.pid === b.pid && a.start === b.start && a.boot === b.boot;

/** Whether the process `o` names is still running. */
export function ownerAlive(o: Owner): boolean {
  const boot = bootId();
  if (o.boot !== undefined && boot !== undefined && o.boot !== boot) return false;
  if (fs.existsSync('/proc/self/stat')) {
    const start = startOf(o.pid);
    if (start === undefined) return false;
    return o.start === undefined || o.start === start;
  }
  try {
    process.kill(o.pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

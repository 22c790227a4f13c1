/** setns(2) for the calling thread: run a control-plane step inside another network namespace. */
import { check, cstr } from './host.ts';
import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY, type Sys } from './types.ts';

/** `/run/netns/NAME` for a bare name, the path itself otherwise. */
export const netnsPath = (nameOrPath: string): string => (nameOrPath.includes('/') ? nameOrPath : `/run/netns/${nameOrPath}`);

/**
 * Runs `fn` with the calling thread switched into `ns` (a name or path), then switches back.
 * Sockets and TAPs opened inside stay bound to that namespace after the switch back.
 */
export function withNetns<T>(sys: Sys, ns: string | undefined, fn: () => T): T {
  if (ns === undefined) return fn();
  const self = check(sys, sys.open(cstr(sys, '/proc/thread-self/ns/net'), O_RDONLY | O_CLOEXEC), 'open /proc/thread-self/ns/net');
  try {
    const target = check(sys, sys.open(cstr(sys, netnsPath(ns)), O_RDONLY | O_CLOEXEC), `open netns "${ns}"`);
    try {
      check(sys, sys.setns(target, CLONE_NEWNET), `setns "${ns}"`);
    } finally {
      sys.close(target);
    }
    try {
      return fn();
    } finally {
      check(sys, sys.setns(self, CLONE_NEWNET), 'setns back');
    }
  } finally {
    sys.close(self);
  }
}

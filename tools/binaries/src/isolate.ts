/**
 * A command prefix that runs a program where no Weft file but the program itself is visible, as on
 * a host that got only the binaries: a mount namespace of its own (`unshare --mount`) in which
 * each folder of `hide` is covered by an empty tmpfs and each file of `block` (e.g. the node
 * executable) by /dev/null, so neither the repository, its node_modules, Node, Deno nor Bun can
 * be reached.
 *
 * The namespace keeps the propagation it inherits (`--propagation unchanged`), so the network
 * namespaces the agent creates under /run/netns (a shared mount) are seen by everyone, as the
 * demo needs. The mounts that hold what is hidden are made slaves first, so the covering mounts
 * never propagate back to the host; a folder on /run/netns is refused.
 */
import { execFileSync } from 'node:child_process';

const SCRIPT = `set -eu
hide="$1"; block="$2"; shift 2
for p in $hide; do
  t=$(findmnt -n -o TARGET --target "$p")
  case "$t" in /run/netns*) echo "isolate: refusing to hide $p (on $t)" >&2; exit 97;; esac
  mount --make-slave "$t"
  mount -t tmpfs -o size=16k,mode=0755 weft-hidden "$p"
done
for f in $block; do
  [ -e "$f" ] || continue
  t=$(findmnt -n -o TARGET --target "$f")
  case "$t" in /run/netns*) echo "isolate: refusing to block $f (on $t)" >&2; exit 97;; esac
  mount --make-slave "$t"
  mount --bind /dev/null "$f"
done
exec "$@"`;

/** The argv prefix (for WEFT_BIN_WRAPPER): run the rest with `hide` and `block` out of sight. Paths must not contain spaces. */
export function isolatedPrefix(hide: readonly string[], block: readonly string[]): string[] {
  for (const p of [...hide, ...block]) if (/\s/.test(p) || p === '' || !p.startsWith('/')) throw new Error(`isolate: "${p}" must be an absolute path without spaces`);
  return ['unshare', '--mount', '--propagation', 'unchanged', 'sh', '-c', SCRIPT, 'weft-isolated', hide.join(' '), block.join(' ')];
}

/** Runs `cmd` under the prefix; returns its exit status and output (never throws). */
export function runIsolated(prefix: readonly string[], cmd: readonly string[]): { status: number; out: string } {
  const [file, ...args] = [...prefix, ...cmd];
  try {
    const out = execFileSync(file as string, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, out };
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string };
    return { status: err.status ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

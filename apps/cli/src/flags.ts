/** Typed reads of a parsed command line, for handlers. */
import { UsageError, type KeyValue, type Parsed, type PortMapSpec, type PublishSpec } from './spec.ts';

const all = (p: Parsed, name: string) => p.flags.get(name) ?? [];
const last = (p: Parsed, name: string) => all(p, name).at(-1);

export const bool = (p: Parsed, name: string): boolean => last(p, name) === true;
export const str = (p: Parsed, name: string): string | undefined => {
  const v = last(p, name);
  return typeof v === 'string' ? v : undefined;
};
export const strs = (p: Parsed, name: string): string[] => all(p, name).filter((v): v is string => typeof v === 'string');
export const int = (p: Parsed, name: string): number | undefined => {
  const v = last(p, name);
  return typeof v === 'number' ? v : undefined;
};
export const kvs = (p: Parsed, name: string): KeyValue[] => all(p, name) as KeyValue[];
/** Repeated `KEY=VALUE` flags as an object (a later key wins), or undefined when none were given. */
export const record = (p: Parsed, name: string): Record<string, string> | undefined => {
  const list = kvs(p, name);
  return list.length === 0 ? undefined : Object.fromEntries(list.map((kv) => [kv.key, kv.value]));
};
export const publishes = (p: Parsed, name: string): PublishSpec[] => all(p, name) as PublishSpec[];
export const portmaps = (p: Parsed, name: string): PortMapSpec[] => all(p, name) as PortMapSpec[];
export const arg = (p: Parsed, name: string): string => p.args[name]?.[0] ?? '';
export const args = (p: Parsed, name: string): readonly string[] => p.args[name] ?? [];
/** `table` (default) or `json`. */
export const format = (p: Parsed): 'table' | 'json' => (str(p, 'format') === 'json' ? 'json' : 'table');

/** Docker's --ip is an IPv4 address and --ip6 an IPv6 one (both well-formed, checked by the parser): the other family is a usage error. */
export function checkFamilies(p: Parsed): void {
  const ip = str(p, 'ip');
  const ip6 = str(p, 'ip6');
  if (ip !== undefined && ip.includes(':')) throw new UsageError(`invalid --ip ${ip}: an IPv6 address; give it with --ip6`, p.cmd.path);
  if (ip6 !== undefined && !ip6.includes(':')) throw new UsageError(`invalid --ip6 ${ip6}: an IPv4 address; give it with --ip`, p.cmd.path);
}

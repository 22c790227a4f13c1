/**
 * `weft system events` (also `weft events`): Docker's `docker events`. Streams the agent's
 * events as they happen (`GET /events`), the recorded ones from `--since` first; ends at
 * `--until`, or on Ctrl-C.
 */
import type { Io, Parsed } from '../spec.ts';
import { UsageError } from '../spec.ts';
import { loadApi } from '../agent.ts';
import { kvs, str } from '../flags.ts';

const UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Docker's `--since`/`--until` values as the API's seconds since the epoch: a Unix timestamp
 * (`1700000000`, `1700000000.5`), a date (`2024-05-01`, RFC 3339 `2024-05-01T10:00:00Z`), or a
 * Go duration before now (`10m`, `1h30m`).
 */
export function apiTime(flag: string, v: string, now: number, path: readonly string[]): string {
  if (/^\d{1,12}(\.\d{1,9})?$/.test(v)) return v;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
    return ((now - ms) / 1000).toFixed(3);
  }
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) {
    throw new UsageError(`invalid --${flag} ${JSON.stringify(v)}: give a Unix timestamp (1700000000), a date or time (2024-05-01, 2024-05-01T10:00:00Z) or a duration before now (10m, 1h30m)`, path);
  }
  return (t / 1000).toFixed(3);
}

/** `2024-05-01T10:00:00.123456789Z network create 3f2a… (name=web, type=overlay)`: Docker's line. */
export function eventLine(json: string): string {
  const e = JSON.parse(json) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
  const nano = /"timeNano":(\d+)/.exec(json)?.[1] ?? '0';
  const secs = nano.length > 9 ? nano.slice(0, -9) : '0';
  const frac = nano.padStart(10, '0').slice(-9);
  const when = `${new Date(Number(secs) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
  const attrs = Object.entries(e.Actor.Attributes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
  return `${when} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length > 0 ? ` (${attrs.join(', ')})` : ''}\n`;
}

export async function events(p: Parsed, io: Io): Promise<number> {
  const now = Date.now();
  const since = str(p, 'since');
  const until = str(p, 'until');
  const filters: Record<string, string[]> = {};
  for (const { key, value } of kvs(p, 'filter')) (filters[key] ??= []).push(value);
  const json = str(p, 'format') === 'json';
  const a = await loadApi();
  const s = a.streamEvents(a.socketFromHost(p.host), {
    ...(since !== undefined ? { since: apiTime('since', since, now, p.cmd.path) } : {}),
    ...(until !== undefined ? { until: apiTime('until', until, now, p.cmd.path) } : {}),
    ...(Object.keys(filters).length > 0 ? { filters } : {}),
  }, (line) => io.out(json ? `${line}\n` : eventLine(line)));
  await s.done;
  return 0;
}

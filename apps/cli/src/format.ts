/** Output helpers: Docker-style tables, JSON, short IDs, relative times. */
import type { Io } from './spec.ts';

/**
 * Columns laid out like Docker's tables (Go tabwriter with minwidth 10, padding 3): each column
 * is as wide as its widest cell plus 3 spaces, at least 10; the last column is not padded.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(10, h.length + 3, ...rows.map((r) => (r[i] ?? '').length + 3)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 10)))
      .join('')
      .trimEnd();
  return `${[headers, ...rows].map(line).join('\n')}\n`;
}

/** Docker prints `inspect` output as an indented JSON array. */
export const inspectJson = (items: readonly unknown[]): string => `${JSON.stringify(items, null, 4)}\n`;
export const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** Docker's TruncateID: listings show the first 12 characters of an ID (the agent accepts unique prefixes). */
export const shortId = (id: string): string => id.slice(0, 12);

export const capital = (s: string): string => (s === '' ? s : s[0]?.toUpperCase() + s.slice(1));

/** `5 minutes ago`, like Docker's CREATED column. */
export function ago(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'} ago`;
  if (s < 1) return 'Less than a second ago';
  if (s < 60) return unit(s, 'second');
  if (s < 3600) return unit(Math.round(s / 60), 'minute');
  if (s < 48 * 3600) return unit(Math.round(s / 3600), 'hour');
  if (s < 14 * 86400) return unit(Math.round(s / 86400), 'day');
  if (s < 60 * 86400) return unit(Math.round(s / 604800), 'week');
  return unit(Math.round(s / 2592000), 'month');
}

/** `"python3 -m h…"`, like Docker's COMMAND column. */
export function command(cmd: readonly string[], max = 20): string {
  const s = cmd.join(' ');
  return JSON.stringify(s.length > max ? `${s.slice(0, max - 1)}…` : s);
}

/**
 * Shows `label...` on stderr when `work` takes longer than a second: a ticking line on a
 * terminal, one plain line otherwise (logs stay readable). One line at a time: a `generic` wait
 * (every agent request has one) stays quiet while a labelled step is under way.
 */
let labelled = 0;
let showing = false;
export async function progress<T>(io: Io, label: string, work: Promise<T>, generic = false): Promise<T> {
  const start = Date.now();
  let shown = false;
  let tick: ReturnType<typeof setInterval> | undefined;
  if (!generic) labelled++;
  const timer = setTimeout(() => {
    if (showing || (generic && labelled > 0)) return;
    showing = shown = true;
    if (io.stderrIsTTY) {
      const frames = ['|', '/', '-', '\\'];
      let n = 0;
      const draw = () => io.err(`\r${frames[n++ % frames.length]} ${label}... ${Math.floor((Date.now() - start) / 1000)}s`);
      draw();
      tick = setInterval(draw, 200);
    } else io.err(`${label}...\n`);
  }, 1000);
  try {
    return await work;
  } finally {
    if (!generic) labelled--;
    if (shown) showing = false;
    clearTimeout(timer);
    if (tick !== undefined) clearInterval(tick);
    if (shown && io.stderrIsTTY) io.err('\r\x1b[K');
  }
}

/** Structured logs on stderr, as text (`time level msg k=v`) or JSON lines. */
import type { Logger } from '@weft/kernel';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;

export function createLogger(level: Level, format: 'text' | 'json', write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), base: Record<string, unknown> = {}): Logger {
  const min = LEVELS[level];
  const emit = (lv: Level, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lv] < min) return;
    const time = new Date().toISOString();
    const all = { ...base, ...fields };
    if (format === 'json') write(JSON.stringify({ time, level: lv, msg, ...all }));
    else {
      const kv = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${time} ${lv.toUpperCase().padEnd(5)} ${msg}${kv === '' ? '' : ` ${kv}`}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/**
 * @weft/progress — progress and an estimate of the time left for long runs: a redrawn status
 * line on a terminal, one plain line per step otherwise.
 */
export interface ProgressOptions {
  readonly title: string;
  /** Units of work in the whole run (inputs, benches, endpoints). */
  readonly total: number;
  readonly out?: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly now?: () => number;
}

export interface Progress {
  /** A step of `units` starts (the previous one is counted as done). */
  step(label: string, units?: number): void;
  /** `units` more done within the current step. */
  advance(units: number): void;
  /** The run is over: the status line is cleared (terminal) or a last line says how long it took. */
  done(): void;
}

/** `45s`, `3m05s`, `1h02m`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function createProgress(o: ProgressOptions): Progress {
  const out = o.out ?? process.stderr;
  const tty = out.isTTY === true;
  const now = o.now ?? Date.now;
  const t0 = now();
  const total = Math.max(0, o.total);
  let doneUnits = 0;
  let stepStart = 0;
  let stepUnits = 0;
  let steps = 0;
  let label = '';
  let lastDraw = 0;
  const status = (): string => {
    const el = now() - t0;
    const pct = total > 0 ? Math.min(100, Math.floor((100 * doneUnits) / total)) : 0;
    const left = doneUnits > 0 && total > doneUnits ? ` · ~${duration((el / doneUnits) * (total - doneUnits))} left` : '';
    return `[${o.title}] ${steps} ${label} ${pct}% · ${duration(el)}${left}`;
  };
  const draw = (force: boolean) => {
    if (!tty) return;
    const t = now();
    if (!force && t - lastDraw < 200) return;
    lastDraw = t;
    out.write(`\r\x1b[K${status()}`);
  };
  return {
    step(l, units = 1) {
      if (steps > 0) doneUnits = stepStart + stepUnits;
      steps++;
      label = l;
      stepStart = doneUnits;
      stepUnits = units;
      if (tty) draw(true);
      else out.write(`${status()}\n`);
    },
    advance(units) {
      doneUnits = Math.min(stepStart + stepUnits, doneUnits + units);
      draw(false);
    },
    done() {
      doneUnits = total;
      if (tty) out.write('\r\x1b[K');
      out.write(`[${o.title}] done in ${duration(now() - t0)}\n`);
    },
  };
}

/** The chart specifications (Vega-Lite) and their rendering to SVG. */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

type Rows = readonly Record<string, unknown>[];
type Data = Readonly<Record<string, { readonly rows: Rows }>>;

const base = { width: 520, height: 260, background: 'white', config: { font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { orient: 'bottom' } } } as const;

/** Each chart: the data series it reads, and its Vega-Lite spec over those rows. */
export const CHARTS: Readonly<Record<string, { readonly series: string; readonly spec: (rows: Rows) => TopLevelSpec }>> = {
  'datapath-stages': {
    series: 'datapathStages',
    spec: (rows) => ({
      ...base,
      title: 'Data path: Weft TCP throughput by stage (range of runs)',
      data: { values: [...rows] },
      layer: [
        { mark: { type: 'bar', color: '#4c78a8' }, encoding: { y: { field: 'stage', type: 'nominal', sort: null, title: null }, x: { field: 'min', type: 'quantitative', title: 'TCP Gbit/s' }, x2: { field: 'max' } } },
        { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { y: { field: 'stage', type: 'nominal', sort: null }, x: { field: 'max', type: 'quantitative' }, text: { field: 'xKernel', type: 'quantitative', format: '.2f' } } },
      ],
    }),
  },
  'rtt-warm-ticks': {
    series: 'warmTicks',
    spec: (rows) => ({
      ...base,
      title: 'Round trip over kernel vxlan against warm ticks (pings 10 ms apart)',
      data: { values: [...rows] },
      layer: [
        { mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'warmUs', type: 'quantitative', title: 'warm tick (µs; 0 = off)' }, y: { field: 'rttOverKernelUs', type: 'quantitative', title: 'Weft − kernel RTT (µs)', scale: { zero: true } } } },
        { mark: { type: 'line', color: '#e45756' }, encoding: { x: { field: 'warmUs', type: 'quantitative' }, y: { aggregate: 'median', field: 'rttOverKernelUs', type: 'quantitative' } } },
      ],
    }),
  },
  'encrypted-throughput': {
    series: 'encryptedThroughput',
    spec: (rows) => ({
      ...base,
      title: 'TCP throughput: plaintext, encrypted, wireguard-go (same runs)',
      data: { values: [...rows] },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'run', type: 'ordinal', title: 'run' },
        y: { field: 'gbps', type: 'quantitative', title: 'TCP Gbit/s' },
        color: { field: 'path', type: 'nominal', title: null },
      },
    }),
  },
  'gossip-convergence': {
    series: 'gossipConvergence',
    spec: (rows) => ({
      ...base,
      title: "One update to 99.99 % of nodes: Weft's simulator against memberlist's model",
      data: { values: [...rows] },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'n', type: 'quantitative', scale: { type: 'log' }, title: 'cluster size N (log)' },
        y: { field: 'seconds', type: 'quantitative', title: 'seconds', scale: { zero: true } },
        color: { field: 'who', type: 'nominal', title: null },
      },
    }),
  },
  'attach-rate': {
    series: 'attachRate',
    spec: (rows) => ({
      ...base,
      title: 'Attach rate over N bare endpoints on one host',
      data: { values: [...rows] },
      transform: [{ calculate: 'datum.endpoints / datum.seconds', as: 'perSecond' }],
      mark: { type: 'point', filled: true, size: 80 },
      encoding: {
        x: { field: 'endpoints', type: 'quantitative', scale: { type: 'log' }, title: 'endpoints attached (log)' },
        y: { field: 'perSecond', type: 'quantitative', title: 'attaches per second (mean over the run)', scale: { zero: true } },
        color: { field: 'run', type: 'nominal', title: null },
      },
    }),
  },
  'attach-rate-by-1000': {
    series: 'attachRateBy1000',
    spec: (rows) => ({
      ...base,
      title: 'Attach rate of each successive 1,000 bare endpoints on one host',
      data: { values: [...rows] },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'endpoints', type: 'quantitative', title: 'endpoints attached', scale: { domain: [1000, 10000] } },
        y: { field: 'perSecond', type: 'quantitative', title: 'attaches per second over those 1,000', scale: { zero: true } },
        color: { field: 'run', type: 'nominal', title: null, sort: null },
      },
    }),
  },
  failover: {
    series: 'failover',
    spec: (rows) => ({
      ...base,
      title: 'A host cut off for 30 s: detection and recovery',
      data: { values: [...rows] },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'what', type: 'nominal', sort: null, title: null },
        x: { field: 'seconds', type: 'quantitative', title: 'seconds' },
        color: { field: 'phase', type: 'nominal', title: null },
      },
    }),
  },
};

/** One SVG from a Vega-Lite spec, rendered headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Every chart whose series is in `data`: [name, svg]. A missing series is an error naming it. */
export async function renderAll(data: Data): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const [name, c] of Object.entries(CHARTS)) {
    const s = data[c.series];
    if (s === undefined || !Array.isArray(s.rows)) throw new Error(`chart "${name}" needs the series "${c.series}" (an object with "rows") in the data file`);
    out.push([name, await renderSvg(c.spec(s.rows))]);
  }
  return out;
}

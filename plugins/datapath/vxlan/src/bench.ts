/**
 * Data-path benchmark (root): builds two hosts joined by a veth underlay and measures, in one
 * run, TCP throughput (iperf3), ping RTT (median) and 64-byte UDP packets/s between two
 * sandboxes through Weft, through Weft with the low-latency settings (`weftlow`, LOW_LATENCY:
 * warm ticks and a budgeted busy-poll), through Weft on an encrypted network (`weftenc`: the
 * @weft/sodium cipher plugin; `weftgcm`: the @weft/aes-gcm one), through Linux kernel
 * vxlan devices, through wireguard-go between the two hosts (`wireguard`, userspace WireGuard on
 * a TUN, configured over its UAPI socket), and over the bare veth underlay. `weftmetrics` is
 * `weft` while the controller reads every counter (`stats()`, what a Prometheus scrape of the
 * agent reads) every `--scrape-ms` (default 100: 150 times Prometheus' default 15 s); `--pairs N`
 * measures it properly, in adjacent on/off windows of one setup (see pairedMetrics): the ratio
 * to `weft` in the same run is what metrics cost the data path.
 *
 * IPv6: the `weft` and `weftenc` networks are dual-stack (fd00:7::/64 beside 10.7.0.0/24), and
 * `--v6-pairs N` (default 5; 0 turns it off) measures TCP over IPv6 against IPv4 between the same
 * two sandboxes on the same network, in N pairs of adjacent `--v6-seconds` (default 2) iperf3
 * windows (v4 then v6, then v6 then v4, alternately): the median of the pairs' v6 ÷ v4 is the
 * `weft6` ratio (`weftenc6` on the encrypted network).
 *
 *   node --import tsx src/bench.ts [--seconds 5] [--pings 200] [--offload 0|1] [--threads 1|2] [--gather 0|1] [--nice N] [--tcp 0|1] [--spin µs] [--warm µs] [--repeat N] [--scrape-ms N] [--pairs N] [--v6-pairs N] [--v6-seconds S] [--only weft,weftmetrics,weftlow,weftenc,weftgcm,wireguard,kernel,veth]
 *
 * The cipher plugins are loaded through the kernel by package name, as the agent does: the data
 * path gets only the `cipher` service, and its threads load the module the service names.
 *
 * Prints a table with ratios and, last, one line of JSON. The two hosts share this machine's
 * cores with iperf3 and whatever else runs: treat figures as indicative.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import { rootSkipReason, twoHosts, withLab, type Lab } from '@weft/sys';
import { connectPair } from '@weft/testing';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, formatError, initialRing, toKeyRing, type Cipher, type Kernel, type PluginEntry } from '@weft/kernel';
import { createVxlanDataPath, LOW_LATENCY, type VxlanDataPath } from './mod.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const seconds = Number(opt('seconds', '5'));
const pings = Number(opt('pings', '200'));
const offload = opt('offload', '1') !== '0';
const only = opt('only', 'weft,weftmetrics,weftlow,weftenc,weftgcm,wireguard,kernel,veth').split(',');
const scrapeMs = Number(opt('scrape-ms', '100'));
/** `--pairs N`: with weftmetrics, N pairs of 1-second windows, scraping on/off alternately, on one setup. */
const pairs = Number(opt('pairs', '0'));
/** `--v6-pairs N`: on weft and weftenc, N pairs of adjacent v4/v6 TCP windows on one setup. */
const v6Pairs = Number(opt('v6-pairs', '5'));
const v6Seconds = Number(opt('v6-seconds', '2'));
if (!Number.isInteger(v6Pairs) || v6Pairs < 0 || v6Pairs > 100) {
  console.error(`Error: --v6-pairs ${opt('v6-pairs', '5')} must be a whole number of pairs from 0 (off) to 100`);
  process.exit(2);
}
if (!(v6Seconds >= 1 && v6Seconds <= 60)) {
  console.error(`Error: --v6-seconds ${opt('v6-seconds', '2')} must be a number of seconds from 1 to 60`);
  process.exit(2);
}
/** The rows that also measure IPv6 against IPv4 (dual-stack networks). */
const V6_MODES = ['weft', 'weftenc'] as const;
/** The cipher plugin (package name) each encrypted row loads. */
const CIPHER_PLUGINS = { weftenc: '@weft/sodium', weftgcm: '@weft/aes-gcm' } as const;

/** Loads the cipher plugin `pkg` (its default export) into a kernel of its own; the `cipher` service. */
async function cipherService(pkg: string): Promise<{ cipher: Cipher; kernel: Kernel }> {
  const plugin = ((await import(pkg)) as { default: PluginEntry['plugin'] }).default;
  const kernel = createKernel();
  // WEFT_BENCH_SODIUM_BACKEND (e.g. libsodium-ffi) picks @weft/sodium's backend; default auto.
  const backend = process.env['WEFT_BENCH_SODIUM_BACKEND'];
  const r = await kernel.load([{ plugin, config: pkg === '@weft/sodium' && backend !== undefined && backend !== '' ? { backend } : {} }]);
  if (isLeft(r)) throw new Error(`Cannot load the cipher plugin ${pkg}: ${r.left.map(formatError).join('; ')}`);
  return { cipher: kernel.service('cipher')!, kernel };
}
const spinUs = Number(opt('spin', '0'));
const warmUs = Number(opt('warm', '0'));
const threads = opt('threads', '1') === '2' ? 2 : 1;
const gather = opt('gather', '0') !== '0';
const nice = Number(opt('nice', '0'));
const withTcp = opt('tcp', '1') !== '0';
const repeat = Number(opt('repeat', '1'));
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) {
  console.error(`Error: --repeat ${opt('repeat', '1')} must be a whole number of runs from 1 to 100`);
  process.exit(2);
}

interface Result {
  tcpGbps: number;
  /** Median RTT of pings 10 ms apart: the CPUs go idle between them. */
  rttMedianUs: number;
  /** Median RTT of pings 1 ms apart: the CPUs stay awake. */
  rttBusyUs: number;
  udpPps: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `cmd` in `ns` without blocking the event loop (timers such as the scraper keep firing); its stdout. */
function execAsync(lab: Lab, ns: string, cmd: string, argv: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = lab.spawn(ns, cmd, [...argv]);
    let out = '';
    // An iperf3 test now and then never ends (seen once in 160 one-second windows): killed, and
    // the caller tries the window again, rather than the bench waiting forever.
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${argv.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code}`));
    });
  });
}

/** Metrics on ÷ off, one ratio per pair of adjacent 1-second windows, and the scrape rate reached while on. */
interface Paired {
  readonly tcp: number[];
  readonly udp: number[];
  readonly scrapesPerSecond: number;
}
/** Set by the weftmetrics row of the current run when `--pairs` is given. */
let paired: Paired | undefined;

/**
 * Metrics on vs off on one setup: `pairs` pairs of adjacent 1-second windows (on then off, then
 * off then on, alternately), TCP and 64-byte UDP, each iperf3 run without blocking the event loop
 * so the scraper really reads every `--scrape-ms` while traffic flows. Adjacent windows share the
 * machine's state, so the ratio of a pair cancels the slow drift that separate setups suffer.
 */
async function pairedMetrics(lab: Lab, client: string, server: string, dst: string, scrape: () => void): Promise<Paired> {
  let srv = lab.spawn(server, 'iperf3', ['-s', '-B', dst]);
  try {
    await sleep(300);
    let scrapes = 0;
    let onMs = 0;
    const once = async (on: boolean, udp: boolean): Promise<number> => {
      const t0 = performance.now();
      const timer = on ? setInterval(() => { scrape(); scrapes++; }, scrapeMs) : undefined;
      try {
        const out = await execAsync(lab, client, 'iperf3', udp ? ['-c', dst, '-u', '-l', '64', '-b', '0', '-t', '1', '-J'] : ['-c', dst, '-t', '1', '-J'], 15_000);
        const j = JSON.parse(out) as { end: { sum_received?: { bits_per_second: number }; sum?: { packets: number; lost_packets: number; seconds: number } } };
        return udp ? (j.end.sum!.packets - j.end.sum!.lost_packets) / j.end.sum!.seconds : j.end.sum_received!.bits_per_second / 1e9;
      } finally {
        if (timer !== undefined) clearInterval(timer);
        if (on) onMs += performance.now() - t0;
      }
    };
    /** A window whose iperf3 hung or failed is tried again (up to 3 times) with a fresh server. */
    const window = async (on: boolean, udp: boolean): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(on, udp);
        } catch (e) {
          if (attempt >= 3) throw e;
          console.error(`  pairs: ${(e as Error).message}; trying the window again`);
          await lab.kill(srv);
          srv = lab.spawn(server, 'iperf3', ['-s', '-B', dst]);
          await sleep(300);
        }
      }
    };
    const tcp: number[] = [];
    const udp: number[] = [];
    for (let i = 0; i < pairs; i++) {
      for (const [list, isUdp] of [[tcp, false], [udp, true]] as const) {
        const onFirst = i % 2 === 0;
        const a = await window(onFirst, isUdp);
        const b = await window(!onFirst, isUdp);
        list.push(onFirst ? a / b : b / a);
      }
    }
    return { tcp, udp, scrapesPerSecond: scrapes / (onMs / 1000) };
  } finally {
    await lab.kill(srv);
  }
}

/** TCP over IPv6 vs IPv4 on one network: per pair v6 ÷ v4, and every window's Gbit/s. */
interface V6Paired {
  readonly ratios: number[];
  readonly v4: number[];
  readonly v6: number[];
}
/** Set by the weft/weftenc rows of the current run when `--v6-pairs` > 0. */
let v6Paired: Record<string, V6Paired> = {};

/**
 * TCP over IPv6 against IPv4 between the same two sandboxes of one dual-stack network: `v6Pairs`
 * pairs of adjacent `v6Seconds` iperf3 windows, v4 first in even pairs and v6 first in odd ones,
 * so drift and the order within a pair cancel out in the median of the pairs' ratios.
 */
async function pairedV6(lab: Lab, client: string, server: string, dst4: string, dst6: string): Promise<V6Paired> {
  // One unbound server answers on both families.
  const srv = lab.spawn(server, 'iperf3', ['-s', '-p', '5202']);
  try {
    await sleep(300);
    lab.exec(client, 'ping', ['-c', '2', '-i', '0.1', '-W', '2', dst6]);
    const window = (dst: string): number => {
      const out = lab.exec(client, 'iperf3', ['-c', dst, '-p', '5202', '-t', String(v6Seconds), '-J'], { timeoutMs: (v6Seconds + 20) * 1000 });
      return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
    };
    const r: V6Paired = { ratios: [], v4: [], v6: [] };
    for (let i = 0; i < v6Pairs; i++) {
      const v4First = i % 2 === 0;
      const a = window(v4First ? dst4 : dst6);
      const b = window(v4First ? dst6 : dst4);
      const [g4, g6] = v4First ? [a, b] : [b, a];
      r.v4.push(g4);
      r.v6.push(g6);
      r.ratios.push(g6 / g4);
    }
    return r;
  } finally {
    await lab.kill(srv);
  }
}

async function measure(lab: Lab, client: string, server: string, dst: string): Promise<Result> {
  const srv = lab.spawn(server, 'iperf3', ['-s', '-B', dst]);
  try {
    await sleep(300);
    lab.exec(client, 'ping', ['-c', '3', '-i', '0.1', '-W', '2', dst]);
    const tcp = withTcp
      ? (JSON.parse(lab.exec(client, 'iperf3', ['-c', dst, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 })) as {
          end: { sum_received: { bits_per_second: number } };
        })
      : { end: { sum_received: { bits_per_second: NaN } } };
    const medianRtt = (interval: string): number => {
      const out = lab.exec(client, 'ping', ['-c', String(pings), '-i', interval, '-W', '1', dst], { timeoutMs: 60_000 });
      const rtts = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
      return rtts[Math.floor(rtts.length / 2)] ?? NaN;
    };
    const rttMedianUs = medianRtt('0.01');
    const rttBusyUs = medianRtt('0.001');
    const udp = JSON.parse(lab.exec(client, 'iperf3', ['-c', dst, '-u', '-l', '64', '-b', '0', '-t', String(Math.min(seconds, 3)), '-J'], { timeoutMs: 30_000 })) as {
      end: { sum: { packets: number; lost_packets: number; seconds: number } };
    };
    const s = udp.end.sum;
    return {
      tcpGbps: tcp.end.sum_received.bits_per_second / 1e9,
      rttMedianUs,
      rttBusyUs,
      udpPps: (s.packets - s.lost_packets) / s.seconds,
    };
  } finally {
    await lab.kill(srv);
  }
}

/** WireGuard keys as UAPI wants them (hex), from Node's X25519. */
function wgKeys(): { priv: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64url').toString('hex');
  return { priv: hex(privateKey.export({ format: 'jwk' }).d), pub: hex(publicKey.export({ format: 'jwk' }).x) };
}

/** Sends one UAPI `set` to wireguard-go's control socket; resolves on errno=0. */
function uapiSet(sock: string, body: string): Promise<void> {
  return new Promise((res, rej) => {
    const c = connect(sock);
    let out = '';
    c.on('data', (d) => {
      out += d.toString();
      if (out.endsWith('\n\n')) {
        c.end();
        if (out.includes('errno=0')) res();
        else rej(new Error(`wireguard-go UAPI: ${out.trim()}`));
      }
    });
    c.on('error', rej);
    c.write(`set=1\n${body}\n`);
  });
}

/** wireguard-go on a TUN in each host namespace (MTU 1420), peers over the veth underlay; same measure(). */
async function wireguard(lab: Lab, h1: string, h2: string, a1: string, a2: string): Promise<Result> {
  try {
    execFileSync('wireguard-go', ['--version'], { stdio: 'ignore' });
  } catch {
    console.log('wireguard-go not installed: skipping the WireGuard reference');
    return { tcpGbps: NaN, rttMedianUs: NaN, rttBusyUs: NaN, udpPps: NaN };
  }
  // UAPI sockets live in /var/run/wireguard/<ifname>.sock, shared by all namespaces: unique names.
  const tag = (process.pid % 100000).toString(36);
  const names = [`wgb${tag}a`, `wgb${tag}b`] as const;
  const keys = [wgKeys(), wgKeys()] as const;
  const hosts = [h1, h2] as const;
  const addrs = [a1, a2] as const;
  const procs = hosts.map((h, i) => lab.spawn(h, 'wireguard-go', ['-f', names[i]!], { env: { ...process.env, LOG_LEVEL: 'error' } }));
  try {
    for (let i = 0; i < 2; i++) {
      const sock = `/var/run/wireguard/${names[i]}.sock`;
      for (let t = 0; t < 100; t++) {
        try {
          execFileSync('test', ['-S', sock]);
          break;
        } catch {
          await sleep(50);
        }
      }
      const o = 1 - i;
      await uapiSet(sock, `private_key=${keys[i]!.priv}\nlisten_port=51820\nreplace_peers=true\npublic_key=${keys[o]!.pub}\nendpoint=${addrs[o]}:51820\nreplace_allowed_ips=true\nallowed_ip=10.6.0.${2 + o}/32\n`);
      lab.exec(hosts[i]!, 'ip', ['addr', 'add', `10.6.0.${2 + i}/24`, 'dev', names[i]!]);
      lab.exec(hosts[i]!, 'ip', ['link', 'set', names[i]!, 'mtu', '1420', 'up']);
    }
    return await measure(lab, h1, h2, '10.6.0.3');
  } finally {
    for (const p of procs) await lab.kill(p);
    for (const n of names) rmSync(`/var/run/wireguard/${n}.sock`, { force: true });
  }
}

/** One run: every selected path measured on a fresh pair of hosts. */
async function oneRun(): Promise<Record<string, Result>> {
  const results: Record<string, Result> = {};
  paired = undefined;
  v6Paired = {};
  await withLab('bench', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const mtu = 1450;
    if (only.includes('veth')) results['veth'] = await measure(lab, h1, h2, a2);
    if (only.includes('kernel')) {
      // Kernel vxlan devices created in the hosts (their sockets stay there) and moved into sandboxes.
      const k1 = lab.netns('k1');
      const k2 = lab.netns('k2');
      const sides = [[h1, k1, a1, a2, '02:42:0a:08:00:02', '10.8.0.2'], [h2, k2, a2, a1, '02:42:0a:08:00:03', '10.8.0.3']] as const;
      for (const [h, k, local, , mac, addr] of sides) {
        lab.exec(h, 'ip', ['link', 'add', 'kvx', 'address', mac, 'mtu', String(mtu), 'type', 'vxlan', 'id', '100', 'dstport', '4790', 'local', local, 'nolearning', 'dev', 'ul0']);
        lab.exec(h, 'ip', ['link', 'set', 'kvx', 'netns', k]);
        lab.exec(k, 'ip', ['addr', 'add', `${addr}/24`, 'dev', 'kvx']);
        lab.exec(k, 'ip', ['link', 'set', 'kvx', 'up']);
      }
      for (const [, k, , remote] of sides) {
        const [, , , , pmac, paddr] = sides.find((s) => s[1] !== k)!;
        lab.exec(k, 'bridge', ['fdb', 'append', pmac, 'dev', 'kvx', 'dst', remote]);
        lab.exec(k, 'ip', ['neigh', 'add', paddr, 'lladdr', pmac, 'dev', 'kvx', 'nud', 'permanent']);
      }
      results['kernel'] = await measure(lab, k1, k2, '10.8.0.3');
    }
    for (const mode of ['weft', 'weftmetrics', 'weftlow', 'weftenc', 'weftgcm'] as const) {
      if (!only.includes(mode)) continue;
      const enc = mode === 'weftenc' || mode === 'weftgcm';
      const w1 = lab.netns(`${mode}1`);
      const w2 = lab.netns(`${mode}2`);
      const dps: VxlanDataPath[] = [];
      const ciphers: Cipher[] = [];
      const kernels: Kernel[] = [];
      try {
        if (enc) {
          // One ring on both hosts, as the control plane would install it.
          const ring = toKeyRing(initialRing(1));
          for (let i = 0; i < 2; i++) {
            const { cipher: c, kernel } = await cipherService(CIPHER_PLUGINS[mode]);
            kernels.push(kernel);
            c.setKeyRing(ring);
            ciphers.push(c);
          }
        }
        // weftlow: the low-latency settings (LOW_LATENCY) instead of --warm/--spin.
        const lat = mode === 'weftlow' ? LOW_LATENCY : { spinUs, warmUs };
        dps.push(await createVxlanDataPath({ dataPathAddr: a1, netns: h1, offload, ...lat, threads, gather, nice, ...(enc ? { cipher: ciphers[0]! } : {}) }));
        dps.push(await createVxlanDataPath({ dataPathAddr: a2, netns: h2, offload, ...lat, threads, gather, nice, ...(enc ? { cipher: ciphers[1]! } : {}) }));
        const [d1, d2] = dps as [VxlanDataPath, VxlanDataPath];
        // Encrypted: the envelope's 28 bytes come off the overlay MTU (1450 − 28), as the overlay driver does.
        // weft, weftenc with --v6-pairs: dual-stack, IPv6 measured against IPv4 on this network.
        const v6 = v6Pairs > 0 && (V6_MODES as readonly string[]).includes(mode);
        const net = { id: 'bench', vni: 4200, mtu: enc ? mtu - (ciphers[0]?.overhead ?? 28) : mtu, encrypted: enc, internal: false, gateways: v6 ? ['10.7.0.1/24', 'fd00:7::1/64'] : ['10.7.0.1/24'] };
        await connectPair(
          net,
          { dataPath: d1, vtep: a1, port: { endpointId: 'e1', mac: '02:42:0a:07:00:02', ipv4: '10.7.0.2/24', ...(v6 ? { ipv6: 'fd00:7::2/64' } : {}), ifname: 'wftb1', dstName: 'eth0', netns: w1 } },
          { dataPath: d2, vtep: a2, port: { endpointId: 'e2', mac: '02:42:0a:07:00:03', ipv4: '10.7.0.3/24', ...(v6 ? { ipv6: 'fd00:7::3/64' } : {}), ifname: 'wftb2', dstName: 'eth0', netns: w2 } },
        );
        // weftmetrics: read every counter of both hosts while measuring, as /metrics scrapes do.
        let scrapes = 0;
        const scraper = mode !== 'weftmetrics' ? undefined : setInterval(() => {
          for (const d of [d1, d2]) JSON.stringify(d.stats!());
          scrapes++;
        }, scrapeMs);
        try {
          results[mode] = await measure(lab, w1, w2, '10.7.0.3');
        } finally {
          if (scraper !== undefined) clearInterval(scraper);
        }
        // (measure runs its tools synchronously, so the scraper fires only between them: see --pairs.)
        if (mode === 'weftmetrics') console.log(`  weftmetrics: ${scrapes} scrapes of both hosts' counters (timer every ${scrapeMs} ms; the tools block the loop)`);
        if (mode === 'weftmetrics' && pairs > 0) {
          paired = await pairedMetrics(lab, w1, w2, '10.7.0.3', () => {
            for (const d of [d1, d2]) JSON.stringify(d.stats!());
          });
          console.log(`  metrics on ÷ off, ${pairs} adjacent pairs of 1 s windows: TCP median ${median(paired.tcp).toFixed(3)} [${Math.min(...paired.tcp).toFixed(3)} .. ${Math.max(...paired.tcp).toFixed(3)}], UDP-64 median ${median(paired.udp).toFixed(3)} [${Math.min(...paired.udp).toFixed(3)} .. ${Math.max(...paired.udp).toFixed(3)}], ${paired.scrapesPerSecond.toFixed(1)} scrapes/s while on (target: within 3 %)`);
        }
        if (v6) {
          const p = await pairedV6(lab, w1, w2, '10.7.0.3', 'fd00:7::3');
          v6Paired[mode] = p;
          const f = (xs: number[]) => `${median(xs).toFixed(3)} [${Math.min(...xs).toFixed(3)} .. ${Math.max(...xs).toFixed(3)}]`;
          console.log(`  ${mode}6: TCP over IPv6 ÷ IPv4, same network, ${v6Pairs} alternating pairs of ${v6Seconds} s windows: median ${f(p.ratios)} (target ≥ 0.90); IPv6 ${f(p.v6)} Gbit/s, IPv4 ${f(p.v4)} Gbit/s`);
        }
        if (process.env['WEFT_BENCH_COUNTERS'] === '1') console.log(JSON.stringify({ h1: d1.counters(), h2: d2.counters() }, null, 1));
      } finally {
        for (const d of dps) await d.close();
        for (const k of kernels) await k.stop();
      }
    }
    if (only.includes('wireguard')) results['wireguard'] = await wireguard(lab, h1, h2, a1, a2);
  });
  return results;
}

/** The run's ratios, each taken within the run (the targets compare paths measured together). */
function summarize(results: Record<string, Result>) {
  const k = results['kernel'];
  const v = results['veth'];
  const w = results['weft'];
  const l = results['weftlow'];
  const e = results['weftenc'];
  const a = results['weftgcm'];
  const g = results['wireguard'];
  const mo = results['weftmetrics'];
  return {
    metricsOnVsOffTcp: mo !== undefined && w !== undefined ? mo.tcpGbps / w.tcpGbps : null,
    metricsOnVsOffUdpPps: mo !== undefined && w !== undefined ? mo.udpPps / w.udpPps : null,
    metricsOnRttOverOffUs: mo !== undefined && w !== undefined ? mo.rttMedianUs - w.rttMedianUs : null,
    metricsPairedTcp: paired !== undefined ? median(paired.tcp) : null,
    metricsPairedUdpPps: paired !== undefined ? median(paired.udp) : null,
    weftV6VsV4Tcp: v6Paired['weft'] !== undefined ? median(v6Paired['weft'].ratios) : null,
    encryptedV6VsV4Tcp: v6Paired['weftenc'] !== undefined ? median(v6Paired['weftenc'].ratios) : null,
    weftVsKernelTcp: w !== undefined && k !== undefined ? w.tcpGbps / k.tcpGbps : null,
    weftVsVethTcp: w !== undefined && v !== undefined ? w.tcpGbps / v.tcpGbps : null,
    weftRttOverKernelUs: w !== undefined && k !== undefined ? w.rttMedianUs - k.rttMedianUs : null,
    weftBusyRttOverKernelUs: w !== undefined && k !== undefined ? w.rttBusyUs - k.rttBusyUs : null,
    weftLowLatencyRttOverKernelUs: l !== undefined && k !== undefined ? l.rttMedianUs - k.rttMedianUs : null,
    weftLowLatencyVsKernelTcp: l !== undefined && k !== undefined ? l.tcpGbps / k.tcpGbps : null,
    weftVsKernelUdpPps: w !== undefined && k !== undefined ? w.udpPps / k.udpPps : null,
    encryptedTcpGbps: e?.tcpGbps ?? null,
    plaintextTcpGbps: w?.tcpGbps ?? null,
    wireguardGoTcpGbps: g?.tcpGbps ?? null,
    encryptedVsWireguardGoTcp: e !== undefined && g !== undefined ? e.tcpGbps / g.tcpGbps : null,
    encryptedVsPlaintextTcp: e !== undefined && w !== undefined ? e.tcpGbps / w.tcpGbps : null,
    aesGcmTcpGbps: a?.tcpGbps ?? null,
    aesGcmVsSodiumTcp: a !== undefined && e !== undefined ? a.tcpGbps / e.tcpGbps : null,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const skip = rootSkipReason();
  if (skip !== undefined) {
    console.log(`bench skipped: ${skip}`);
    return;
  }
  const runs: { results: Record<string, Result>; summary: ReturnType<typeof summarize>; v6: Record<string, V6Paired> }[] = [];
  for (let i = 0; i < repeat; i++) {
    if (repeat > 1) console.log(`run ${i + 1} of ${repeat}`);
    const results = await oneRun();
    printRun(results);
    runs.push({ results, summary: summarize(results), v6: v6Paired });
  }
  const last = runs[runs.length - 1]!;
  if (repeat === 1) {
    console.log(JSON.stringify({ offload, threads, gather, nice, spinUs, warmUs, seconds, v6Pairs, v6Seconds, results: last.results, v6: last.v6, ...last.summary }));
    return;
  }
  // Medians over the runs, of each run's own ratios.
  const keys = Object.keys(last.summary) as (keyof ReturnType<typeof summarize>)[];
  const med: Record<string, number | null> = {};
  console.log(`median of ${repeat} runs (each ratio taken within its run; range in brackets):`);
  for (const key of keys) {
    const xs = runs.map((r) => r.summary[key]).filter((x): x is number => x !== null && Number.isFinite(x));
    med[key] = xs.length === 0 ? null : median(xs);
    if (xs.length > 0) console.log(`  ${key.padEnd(26)} ${med[key]!.toFixed(2).padStart(8)}  [${Math.min(...xs).toFixed(2)} .. ${Math.max(...xs).toFixed(2)}]`);
  }
  console.log(JSON.stringify({ offload, threads, gather, nice, spinUs, warmUs, seconds, v6Pairs, v6Seconds, repeat, runs: runs.map((r) => ({ results: r.results, v6: r.v6, ...r.summary })), ...med }));
}

function printRun(results: Record<string, Result>): void {
  const k = results['kernel'];
  const v = results['veth'];
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : '-');
  console.log(`offload=${offload ? 'on' : 'off'} threads=${threads} gather=${gather} nice=${nice} spinUs=${spinUs} warmUs=${warmUs} seconds=${seconds} pings=${pings}`);
  console.log('path     TCP Gbit/s  RTT median µs  (1 ms apart)  UDP-64 pps   TCP vs kernel  vs veth   RTT - kernel µs (1 ms apart)');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(8)} ${r.tcpGbps.toFixed(2).padStart(10)}  ${r.rttMedianUs.toFixed(0).padStart(13)}  ${r.rttBusyUs.toFixed(0).padStart(12)}  ${r.udpPps.toFixed(0).padStart(10)}   ` +
        `${ratio(r.tcpGbps, k?.tcpGbps).padStart(13)}  ${ratio(r.tcpGbps, v?.tcpGbps).padStart(7)}   ${k !== undefined ? `${(r.rttMedianUs - k.rttMedianUs).toFixed(0).padStart(15)} (${(r.rttBusyUs - k.rttBusyUs).toFixed(0)})` : '-'}`,
    );
  }
  const w = results['weft'];
  const e = results['weftenc'];
  const a = results['weftgcm'];
  const g = results['wireguard'];
  if (e !== undefined) {
    console.log(`encrypted Weft TCP: ${ratio(e.tcpGbps, g?.tcpGbps)} × wireguard-go (target ≥ 4), ${ratio(e.tcpGbps, w?.tcpGbps)} × Weft plaintext (target ≥ 0.5)`);
  }
  if (a !== undefined) console.log(`encrypted Weft TCP with aes-gcm: ${ratio(a.tcpGbps, e?.tcpGbps)} × with sodium, ${ratio(a.tcpGbps, w?.tcpGbps)} × Weft plaintext`);
  for (const [mode, p] of Object.entries(v6Paired)) {
    console.log(`${mode}6: TCP over IPv6 ${median(p.ratios).toFixed(2)} × IPv4 on the same network (median of ${p.ratios.length} alternating pairs; target ≥ 0.90)`);
  }
  const mo = results['weftmetrics'];
  if (mo !== undefined && w !== undefined) {
    console.log(`metrics on (counters read every ${scrapeMs} ms) vs off: TCP ${ratio(mo.tcpGbps, w.tcpGbps)} ×, UDP-64 ${ratio(mo.udpPps, w.udpPps)} ×, RTT ${(mo.rttMedianUs - w.rttMedianUs).toFixed(0)} µs (target: within 3 %)`);
  }
}

await main();

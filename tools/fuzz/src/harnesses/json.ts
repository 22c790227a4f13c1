/**
 * JSON at the edges: Docker's plugin protocol (packages/plugin-socket → kernel) and the local
 * API (apps/agent/src/api.ts). Both run against a real kernel with the real IPAM, the
 * example-static driver and the engine on an in-memory sandbox host (no namespaces are made).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import fc from 'fast-check';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, silentLogger, ErrorCategories, type Kernel } from '@weft/kernel';
import { ipamPlugin } from '@weft/ipam';
import { exampleStatic } from '@weft/example-static';
import { enginePlugin, type SandboxHost } from '@weft/engine';
import { servePluginSocket, pluginHandler, postUnix, type Gateway, type PluginHandler } from '@weft/plugin-socket';

/** POST `text` as is (postUnix JSON-encodes its body, which would turn every text into a JSON string). */
function postRaw(socketPath: string, p: string, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: p, method: 'POST', agent: false, headers: { 'Content-Length': Buffer.byteLength(text) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (e) => (/EPIPE|ECONNRESET/.test(String(e)) ? resolve({ status: 413, body: 'reset while sending (over the limit)' }) : reject(e)));
    req.end(text);
  });
}
import { createApi } from '../../../../apps/agent/src/api.ts';
import type { AgentConfig } from '../../../../apps/agent/src/config.ts';
import { HOSTILE_JSON_TEXT, jsonTextMix, must, prototypeClean, type Harness } from '../lib.ts';

const NID = 'a'.repeat(63) + '1';
const EID = 'e'.repeat(64);

const NETWORK_DRIVER = ['GetCapabilities', 'CreateNetwork', 'DeleteNetwork', 'CreateEndpoint', 'DeleteEndpoint', 'EndpointOperInfo', 'Join', 'Leave', 'DiscoverNew', 'DiscoverDelete', 'ProgramExternalConnectivity', 'RevokeExternalConnectivity', 'AllocateNetwork', 'FreeNetwork'];
const IPAM_DRIVER = ['GetCapabilities', 'GetDefaultAddressSpaces', 'RequestPool', 'ReleasePool', 'RequestAddress', 'ReleaseAddress'];
export const PLUGIN_METHODS = [...NETWORK_DRIVER.map((m) => `NetworkDriver.${m}`), ...IPAM_DRIVER.map((m) => `IpamDriver.${m}`), 'Plugin.Activate'];

export const PLUGIN_BODIES: readonly Record<string, unknown>[] = [
  { NetworkID: NID, Options: { 'com.docker.network.generic': { 'weft.vni': '4097' } }, IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.99.0.0/24', Gateway: '10.99.0.1/24' }], IPv6Data: [] },
  { NetworkID: NID, EndpointID: EID, Interface: { Address: '10.99.0.2/24', AddressIPv6: '', MacAddress: '' }, Options: {} },
  { NetworkID: NID, EndpointID: EID, SandboxKey: '/var/run/docker/netns/abc', Options: {} },
  { AddressSpace: 'LocalDefault', Pool: '10.98.0.0/16', SubPool: '', Options: {}, V6: false },
  { PoolID: 'LocalDefault/10.98.0.0/16', Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } },
  { PoolID: 'LocalDefault/10.98.0.0/16', Address: '10.98.0.5' },
  { DiscoveryType: 1, DiscoveryData: { Address: '10.0.0.2', BindAddress: '10.0.0.2' } },
];

async function pluginKernel(): Promise<Kernel> {
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([{ plugin: ipamPlugin() }, { plugin: exampleStatic('weft') }]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return k;
}

const CATEGORIES = new Set<string>(ErrorCategories);

/** One request through the gateway's handler (no HTTP); checks the outcome. */
async function pluginCall(handle: PluginHandler, method: string, raw: string): Promise<'ok' | 'bad-json' | 'error'> {
  let status: number;
  let body: unknown;
  try {
    [status, body] = await handle('POST', `/${method}`, raw);
  } catch (e) {
    // (Finding K1, fixed: kernel `decode` no longer overflows the stack on deeply nested bodies.)
    throw new Error(`the gateway's handler threw for ${method} instead of answering: ${String(e)}; body ${raw.trim().slice(0, 200)}`);
  }
  if (status === 200) return 'ok';
  if (status === 404 && body === '404 page not found\n') return 'error'; // a method the driver does not implement, as Docker expects
  must(typeof body === 'object' && body !== null && typeof (body as { Err?: unknown }).Err === 'string', `${method}: status ${status} without an Err message`);
  const b = body as { Err: string; Category?: string };
  if (b.Category === undefined) {
    must(status === 400 && b.Err.includes('not valid JSON'), `${method}: status ${status} without a category: ${b.Err}`);
    return 'bad-json';
  }
  must(CATEGORIES.has(b.Category), `${method}: error category ${b.Category}`);
  must(b.Category !== 'Internal', `${method}: Internal error for a client body: ${b.Err}; body ${raw.trim().slice(0, 200)}`);
  return 'error';
}

export const pluginJson: Harness = {
  name: 'plugin-json',
  what: 'Docker plugin-protocol bodies (every NetworkDriver.* / IpamDriver.* method) through the gateway\'s own handler (pluginHandler, no HTTP), against the real IPAM and a driver; hostile JSON (20 000-deep arrays, 500 KB strings, __proto__ keys, wrong types, mutated valid bodies); kernel.invoke never throws, every refusal is a non-Internal WeftError, no prototype pollution',
  async: true,
  async make() {
    let k = await pluginKernel();
    const handlerFor = (kernel: Kernel) => pluginHandler({ kernel, networkDriver: 'weft', ipamDriver: 'ipam' });
    let handle = handlerFor(k);
    let n = 0;
    const out = { ok: 0, badJson: 0, refused: 0 };
    return {
      arb: fc.tuple(fc.constantFrom(...PLUGIN_METHODS), jsonTextMix(PLUGIN_BODIES)),
      async check([method, raw]: [string, string]) {
        // A fresh kernel now and then keeps the IPAM's state (pools a valid body allocated) bounded.
        if (++n % 20_000 === 0) {
          await k.stop();
          k = await pluginKernel();
          handle = handlerFor(k);
        }
        const r = await pluginCall(handle, method, raw);
        if (r === 'ok') out.ok++;
        else if (r === 'bad-json') out.badJson++;
        else out.refused++;
        must(prototypeClean(), 'Object.prototype was polluted');
      },
      counts: () => ({ ...out }),
      close: () => k.stop(),
      after: (c) => must((c.refused ?? 0) > 0 && (c.badJson ?? 0) > 0, 'one outcome only'),
    };
  },
};

/** The same through the real unix socket and HTTP server (slower: a connection per input). */
export const pluginSocket: Harness = {
  name: 'plugin-socket',
  what: 'the same bodies POSTed as raw text over the real gateway unix socket (servePluginSocket), plus oversized (5 MiB) bodies; every answer an HTTP status with a JSON or text body, 413 over the limit, the server keeps answering Plugin.Activate',
  async: true,
  scale: 0.02,
  async make() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-fuzz-gw-'));
    const sock = path.join(dir, 'p.sock');
    const k = await pluginKernel();
    const gw: Gateway = await servePluginSocket({ kernel: k, socketPath: sock, networkDriver: 'weft', ipamDriver: 'ipam', maxBody: 1 << 20 });
    const status: Record<string, number> = {};
    const big = 'x'.repeat(5 << 20);
    let n = 0;
    return {
      arb: fc.tuple(fc.constantFrom(...PLUGIN_METHODS), jsonTextMix(PLUGIN_BODIES)),
      async check([method, raw]: [string, string]) {
        const body = ++n % 500 === 0 ? big : raw;
        const r = await postRaw(sock, `/${method}`, body);
        must(r.status >= 200 && r.status < 600, `status ${r.status}`);
        must(r.status !== 500 || !/internal error/.test(r.body), `internal error for ${method}: ${r.body.slice(0, 200)}`);
        status[r.status] = (status[r.status] ?? 0) + 1;
        if (n % 100 === 0) must((await postUnix(sock, '/Plugin.Activate', {}, 10_000)).status === 200, 'Plugin.Activate stopped answering');
      },
      counts: () => ({ requests: gw.requests(), ...Object.fromEntries(Object.entries(status).map(([s, c]) => [s.startsWith('known') ? s : `http${s}`, c])) }),
      async close() {
        await gw.close();
        await k.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Local API

function memoryHost(): SandboxHost {
  const ns = new Set<string>();
  let pid = 1_000_000;
  return {
    netnsPath: (n) => `/nonexistent/netns/${n}`,
    netnsExists: (n) => ns.has(n),
    createNetns: (n) => void ns.add(n),
    deleteNetns: (n) => void ns.delete(n),
    writeFiles: (n) => `/nonexistent/etc/${n}/resolv.conf`,
    removeFiles: () => {},
    spawn: () => pid++,
    alive: () => false,
    kill: () => {},
  };
}

async function apiKernel(tmp: string): Promise<Kernel> {
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([
    { plugin: ipamPlugin() },
    { plugin: exampleStatic('static') },
    { plugin: enginePlugin(memoryHost()), config: { node: 'fuzz', ipam: 'ipam', drivers: { static: 'static', bridge: 'static', overlay: 'static' }, logDir: path.join(tmp, 'logs'), nsPrefix: 'wft-fuzz-' } },
  ]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return k;
}

const config = (tmp: string): AgentConfig => ({
  socket: path.join(tmp, 'api.sock'), stateDir: tmp, nodeName: 'fuzz', advertiseAddr: '192.0.2.1', listenAddr: '0.0.0.0', listenPort: 2377, gossipAddr: '0.0.0.0', gossipPort: 7946,
  dataPathAddr: '192.0.2.1', dataPathPort: 4789, dataPathPortUserspace: 4790, dataPlane: 'auto', dataPathLatency: 'low', cipher: 'chacha20', gossipJoin: [], gossipKeys: [], os: 'linux', dockerPlugin: undefined, logLevel: 'error', logFormat: 'text', clusterStore: { URL: 'embedded:' }, metricsAddr: undefined, netnsPrefix: '',
});

const API_ROUTES: readonly [string, string][] = [
  ['GET', '/_ping'], ['GET', '/version'], ['GET', '/info'], ['GET', '/plugins'], ['POST', '/swarm/init'], ['POST', '/swarm/join'], ['GET', '/swarm/join-token?role=worker'],
  ['POST', '/swarm/leave?force=1'], ['GET', '/nodes'], ['GET', '/nodes/x'], ['DELETE', '/nodes/x'], ['GET', '/networks'], ['POST', '/networks/create'], ['POST', '/networks/prune'],
  ['GET', '/networks/n1'], ['DELETE', '/networks/n1'], ['POST', '/networks/n1/connect'], ['POST', '/networks/n1/disconnect'], ['GET', '/networks/n1/peers'], ['POST', '/networks/n1/peers'],
  ['DELETE', '/networks/n1/peers/02:42:0a:00:00:02'], ['GET', '/sandboxes'], ['POST', '/sandboxes/create'], ['GET', '/sandboxes/s1'], ['DELETE', '/sandboxes/s1?force=true'],
];
const API_BODIES: readonly Record<string, unknown>[] = [
  { Name: 'n1', Driver: 'static', IPAM: { Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] }, Options: {}, Labels: {} },
  { Name: 's1', Networks: ['n1'], Command: ['sleep', '1'] },
  { Sandbox: 's1', IPv4Address: '10.77.0.9' },
  { Node: 'h2', VTEP: '192.0.2.2', MAC: '02:42:0a:00:00:02', IP: '10.77.0.2' },
  { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '192.0.2.1' },
  { Token: 'WFTTKN-1-x-y', RemoteAddrs: ['192.0.2.9:2377'] },
];
/** Path segments that break naive routers: bad percent-encoding, dot segments, huge, unicode. */
const HOSTILE_SEGMENTS = ['%', '%E0%A4%A', '%ff', '%00', '..', '.', '%2e%2e', 'a'.repeat(5000), '\u00e9', '\ud83d\ude00', '%2F', ' ', '__proto__', 'constructor'];

export const apiJson: Harness = {
  name: 'api-json',
  what: 'the local API router createApi(...).handle(method, url, body) on every route with hostile paths (bad %-encoding, dot segments, 5000-char ids), wrong methods and hostile JSON bodies, over the real engine/IPAM on an in-memory sandbox host; handle never rejects, statuses in 200/400/404/405/409/5xx, no prototype pollution',
  async: true,
  async make() {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-fuzz-api-'));
    let k = await apiKernel(tmp);
    let api = createApi({ kernel: k, config: config(tmp), log: silentLogger });
    const status: Record<string, number> = {};
    let n = 0;
    const urlArb = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...API_ROUTES.map((r) => r[1])) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...API_ROUTES.map((r) => r[1])), fc.constantFrom(...HOSTILE_SEGMENTS)).map(([u, s]) => u.replace(/(n1|s1|x)(?=\/|$|\?)/, s)) },
      { weight: 1, arbitrary: fc.webUrl().map((u) => u.replace(/^https?:\/\/[^/]*/, '')) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`) },
    );
    return {
      arb: fc.tuple(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'get'), urlArb, fc.oneof(jsonTextMix(API_BODIES), fc.constant(''))),
      async check([method, url, raw]: [string, string, string]) {
        if (++n % 20_000 === 0) {
          await k.stop();
          k = await apiKernel(tmp);
          api = createApi({ kernel: k, config: config(tmp), log: silentLogger });
        }
        let st: number;
        try {
          [st] = await api.handle(method, url, raw);
        } catch (e) {
          // (Finding K2, fixed: malformed paths are a 400, never a rejection.)
          throw new Error(`handle(${JSON.stringify(method)}, ${JSON.stringify(url.slice(0, 80))}) rejected with ${String(e)}`);
        }
        must([200, 400, 403, 404, 405, 409, 500, 501, 503].includes(st), `status ${st}`);
        status[st] = (status[st] ?? 0) + 1;
        must(prototypeClean(), 'Object.prototype was polluted');
      },
      counts: () => Object.fromEntries(Object.entries(status).map(([s, c]) => [s.startsWith('known') ? s : `http${s}`, c])),
      async close() {
        await k.stop();
        fs.rmSync(tmp, { recursive: true, force: true });
      },
    };
  },
};

export { HOSTILE_JSON_TEXT };

/**
 * Two agents on Deno (`deno run` of apps/agent/src/main.ts, whatever runtime runs this test) form a
 * swarm and carry an encrypted overlay: sandboxes on both hosts ping each other by name, and the
 * underlay carries no plaintext. Root only.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCluster, denoExecutable, eventually, formSwarm, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `dn${process.pid % 1000}`;

if (!root) {
  test('Deno agents (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root to include the multi-host tests'));
} else {
  test('two agents on Deno: a swarm, an encrypted overlay, ping by name, no plaintext on the underlay', async () => {
    const c = await createCluster(2, { tag, subnet: 41, runtime: 'deno' });
    try {
      const m = await formSwarm(c, 30_000);
      const w = c.hosts[1] as Host;
      // Both agents are Deno processes (nsenter execs the runtime: the PID is the agent's).
      const deno = fs.realpathSync(denoExecutable());
      for (const h of c.hosts) assert.is(fs.realpathSync(`/proc/${h.agent!.pid}/exe`), deno, `${h.name} runs on Deno`);
      const info = await m.client.info();
      assert.match(info.CryptoBackend, /sodium/, `the cipher runs on libsodium (addon or FFI): ${info.CryptoBackend}`);
      console.log(`  Deno agents: cipher backend ${info.CryptoBackend}`);

      await m.client.networkCreate({ Name: `${tag}sec`, Driver: 'overlay', Attachable: true, Options: { encrypted: '' }, IPAM: { Config: [{ Subnet: '10.141.0.0/24' }] } });
      await m.client.sandboxCreate({ Name: `${tag}-a`, Networks: [{ Name: `${tag}sec` }] });
      await w.client.sandboxCreate({ Name: `${tag}-b`, Networks: [{ Name: `${tag}sec` }] });
      const byName = (from: string, to: string) => c.inSandbox(from, ['ping', '-c', '1', '-W', '1', to]).code === 0;
      await eventually(() => byName(`${tag}-a`, `${tag}-b`), 20_000, `${tag}-a pings ${tag}-b by name`);
      await eventually(() => byName(`${tag}-b`, `${tag}-a`), 10_000, `${tag}-b pings ${tag}-a by name`);

      // Sealed on the wire: a marker payload never shows in the VXLAN datagrams on the underlay.
      const pcap = path.join(c.dir, 'deno-underlay.pcap');
      const cap = spawn('ip', ['netns', 'exec', c.underlay, 'tcpdump', '-i', 'br0', '--immediate-mode', '-U', '-w', pcap, 'udp', 'and', '(', 'port', '4789', 'or', 'port', '4790', ')'], { stdio: 'ignore' }); // both VXLAN ports: encrypted networks ride the switch's (4790)
      try {
        await new Promise((r) => setTimeout(r, 1000));
        const r = c.inSandbox(`${tag}-a`, ['ping', '-c', '4', '-i', '0.2', '-p', '5745465444454e4f', `${tag}-b`]);
        assert.is(r.code, 0, r.out);
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        cap.kill('SIGINT');
        await new Promise((r) => cap.once('exit', r));
      }
      const bytes = fs.readFileSync(pcap);
      assert.ok(bytes.length > 24 + 8 * 16, `datagrams were captured (${bytes.length} bytes of pcap)`);
      assert.not.ok(bytes.includes(Buffer.from('WEFTDENO')), 'no plaintext on the underlay');
    } finally {
      await c.destroy();
    }
  });
}

test.run();

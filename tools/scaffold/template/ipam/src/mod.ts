/** template-ipam: a Weft IpamDriver for explicit IPv4 pools. State lives in ctx.store. */
import { left } from 'fp-ts/lib/Either.js';
import { definePlugin, errors, getJson, putJson } from '@weft/kernel';

interface Pool {
  cidr: string;
  refs: number;
  used: number[];
  last: number;
}

const toInt = (s: string) => s.split('.').reduce((a, p) => a * 256 + Number(p), 0) >>> 0;
const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const bounds = (cidr: string) => {
  const [b, l] = cidr.split('/');
  const size = 2 ** (32 - Number(l));
  const start = (toInt(b!) - (toInt(b!) % size)) >>> 0;
  return { start, size, len: Number(l) };
};
const key = (id: string) => `pools/${id}`;

export function templateIpam(pluginName = 'template-ipam') {
  return definePlugin({
    manifest: { name: pluginName, version: '0.1.0', kernel: '^0.1.0', provides: ['IpamDriver'] },
    handlers: {
      IpamDriver: {
        GetDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'local', GlobalDefaultAddressSpace: 'global' }),
        RequestPool: async (req, ctx) => {
          const cidr = req.Pool ?? '';
          if (cidr === '' && (req.SubPool ?? '') !== '') return left(errors.badRequest(ctx.plugin, `A sub-pool (${req.SubPool}) needs a pool; pass --subnet as well`, { path: 'SubPool', value: req.SubPool }));
          if (cidr === '' || req.V6 === true || cidr.includes(':')) return left(errors.unsupported(ctx.plugin, 'Only explicit IPv4 pools are supported; pass --subnet', { path: 'Pool', value: cidr }));
          const b = bounds(cidr);
          const sub = req.SubPool ?? '';
          if (sub !== '') {
            const s = bounds(sub);
            if (s.start < b.start || s.start + s.size > b.start + b.size) return left(errors.badRequest(ctx.plugin, `Sub-pool ${sub} is not inside pool ${cidr}`, { path: 'SubPool', value: sub }));
          }
          for (const k of await ctx.store.keys('pools/')) {
            const p = await getJson<Pool>(ctx.store, k);
            if (p === undefined || p.cidr === cidr) continue;
            const o = bounds(p.cidr);
            if (o.start < b.start + b.size && b.start < o.start + o.size) return left(errors.conflict(ctx.plugin, `Pool ${cidr} overlaps pool ${p.cidr}`, { path: 'Pool', value: cidr }));
          }
          const id = cidr;
          const p = (await getJson<Pool>(ctx.store, key(id))) ?? { cidr, refs: 0, used: [], last: 0 };
          p.refs++;
          await putJson(ctx.store, key(id), p);
          return { PoolID: id, Pool: cidr, Data: {} };
        },
        ReleasePool: async (req, ctx) => {
          const p = await getJson<Pool>(ctx.store, key(req.PoolID));
          if (p === undefined) return left(errors.notFound(ctx.plugin, `Pool "${req.PoolID}" not found`));
          if (--p.refs === 0) await ctx.store.delete(key(req.PoolID));
          else await putJson(ctx.store, key(req.PoolID), p);
          return {};
        },
        RequestAddress: async (req, ctx) => {
          const p = await getJson<Pool>(ctx.store, key(req.PoolID));
          if (p === undefined) return left(errors.notFound(ctx.plugin, `Pool "${req.PoolID}" not found`));
          const b = bounds(p.cidr);
          let off: number;
          if (req.Address !== undefined && req.Address !== '') {
            off = toInt(req.Address) - b.start;
            if (off < 0 || off >= b.size) return left(errors.badRequest(ctx.plugin, `Address ${req.Address} is not in pool ${p.cidr}`, { path: 'Address', value: req.Address }));
            if (p.used.includes(off)) return left(errors.conflict(ctx.plugin, `Address ${req.Address} is already allocated in pool ${p.cidr}`));
          } else {
            const serial = req.Options?.['com.docker.network.ipam.serial'] === 'true';
            const first = serial ? p.last + 1 : 1;
            off = -1;
            for (let i = 0; i < b.size - 2; i++) {
              const c = 1 + ((first - 1 + i) % (b.size - 2));
              if (!p.used.includes(c)) { off = c; break; }
            }
            if (off < 0) return left(errors.unavailable(ctx.plugin, `Pool ${p.cidr} is exhausted: ${p.used.length} of ${b.size - 2} addresses in use`));
          }
          p.used.push(off);
          p.last = off;
          await putJson(ctx.store, key(req.PoolID), p);
          return { Address: `${toIp(b.start + off)}/${b.len}`, Data: {} };
        },
        ReleaseAddress: async (req, ctx) => {
          const p = await getJson<Pool>(ctx.store, key(req.PoolID));
          if (p === undefined) return left(errors.notFound(ctx.plugin, `Pool "${req.PoolID}" not found`));
          const off = toInt(req.Address.split('/')[0]!) - bounds(p.cidr).start;
          const i = p.used.indexOf(off);
          if (i < 0) return left(errors.notFound(ctx.plugin, `Address ${req.Address} is not allocated in pool ${p.cidr}`));
          p.used.splice(i, 1);
          await putJson(ctx.store, key(req.PoolID), p);
          return {};
        },
      },
    },
  });
}

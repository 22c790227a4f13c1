/** IP text <-> bytes (4 bytes IPv4, 16 bytes IPv6 / IPv4-mapped). */
export function ipToBytes(ip: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4 !== null) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    return Uint8Array.from(b);
  }
  if (!ip.includes(':')) return undefined;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const parse = (s: string | undefined): number[] | undefined => {
    if (s === undefined || s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4b = ipToBytes(g);
        if (v4b === undefined || v4b.length !== 4) return undefined;
        out.push(((v4b[0] as number) << 8) | (v4b[1] as number), ((v4b[2] as number) << 8) | (v4b[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parse(head);
  const t = parse(tail);
  if (h === undefined || t === undefined) return undefined;
  const groups = ip.includes('::') ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    if (mapped) return Array.from(b.subarray(12)).join('.');
    const g: string[] = [];
    for (let i = 0; i < 16; i += 2) g.push((((b[i] as number) << 8) | (b[i + 1] as number)).toString(16));
    return g.join(':');
  }
  return '';
}

/** Parse a seed: `host`, `host:port`, `name/host:port`, `[v6]:port`. */
export function parseSeed(seed: string, defaultPort: number): { addr: string; port: number; name?: string } | undefined {
  let s = seed.trim();
  let name: string | undefined;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    name = s.slice(0, slash);
    s = s.slice(slash + 1);
  }
  let host = s;
  let port = defaultPort;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6 !== null) {
    host = v6[1] as string;
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if (s.split(':').length === 2) {
    const [h, p] = s.split(':') as [string, string];
    host = h;
    port = Number(p);
  }
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || ipToBytes(host) === undefined) return undefined;
  return name === undefined ? { addr: host, port } : { addr: host, port, name };
}

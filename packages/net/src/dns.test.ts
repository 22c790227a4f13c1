import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  parseDnsMessage, buildDnsResponse, buildDnsError, buildDnsFormErr, buildDnsQuery, classifyDnsQuery, dnsNameEquals,
  normalizeDnsName, validateDnsName, DNS_TYPE, DNS_RCODE, type DnsMessage,
} from './dns.ts';
import { ipv4, ipv6, parseIPv6, formatIP } from './ip.ts';
import { unwrap } from './result.ts';
import { hex, toHex } from './_testutil.ts';

// What `dig web.mynet` sends: id abcd, RD and AD set, one question, EDNS(0) with
// a 1232-byte UDP size and an 8-byte client cookie option.
const digQuery = hex(`
  abcd 0120 0001 0000 0000 0001
  03 776562 05 6d796e6574 00 0001 0001
  00 0029 04d0 00 00 0000 000c 000a 0008 0102030405060708
`);

test('parse a dig-style query', () => {
  const q = unwrap(parseDnsMessage(digQuery));
  assert.is(q.id, 0xabcd);
  assert.equal([q.qr, q.opcode, q.rd, q.ad, q.cd, q.tc, q.rcode], [false, 0, true, true, false, false, 0]);
  assert.equal(q.questions, [{ name: 'web.mynet', type: DNS_TYPE.A, class: 1 }]);
  assert.equal(q.edns, { udpSize: 1232, extendedRcode: 0, version: 0, dnssecOk: false });
  assert.equal(q.additionals, []);
  assert.equal(classifyDnsQuery(q), { action: 'answer', question: q.questions[0] });
});

test('A answer: header flags, question copy, compressed owner, OPT echo', () => {
  const q = unwrap(parseDnsMessage(digQuery));
  const r = unwrap(buildDnsResponse(q, { answers: [{ type: DNS_TYPE.A, ttl: 600, data: ipv4(0x0a000002) }] }));
  assert.is(
    toHex(r),
    toHex(hex(`
      abcd 8580 0001 0001 0000 0001
      03 776562 05 6d796e6574 00 0001 0001
      c00c 0001 0001 00000258 0004 0a000002
      00 0029 04d0 00 00 0000 0000
    `)),
  );
  const back = unwrap(parseDnsMessage(r));
  assert.equal([back.qr, back.aa, back.rd, back.ra, back.tc, back.rcode], [true, true, true, true, false, 0]);
  assert.is(back.answers[0]!.name, 'web.mynet');
  assert.is(formatIP(back.answers[0]!.address!), '10.0.0.2');
  assert.is(back.answers[0]!.ttl, 600);
});

test('AAAA answer and NODATA', () => {
  const q = unwrap(parseDnsMessage(unwrap(buildDnsQuery({ id: 7, name: 'db.mynet', type: DNS_TYPE.AAAA }))));
  assert.is(q.edns, undefined);
  const r = unwrap(parseDnsMessage(unwrap(buildDnsResponse(q, {
    answers: [{ type: DNS_TYPE.AAAA, ttl: 0, data: ipv6(unwrap(parseIPv6('fd00::5'))) }],
  }))));
  assert.is(formatIP(r.answers[0]!.address!), 'fd00::5');
  assert.is(r.answers[0]!.rdata.length, 16);
  assert.is(r.edns, undefined, 'no OPT in the response when the query had none');
  // AAAA asked for a name that only has an A record: NOERROR with no answers.
  const nodata = unwrap(parseDnsMessage(unwrap(buildDnsResponse(q, {}))));
  assert.equal([nodata.rcode, nodata.answers.length, nodata.questions.length, nodata.aa], [DNS_RCODE.NOERROR, 0, 1, true]);
});

test('NXDOMAIN, SERVFAIL, REFUSED', () => {
  const q = unwrap(parseDnsMessage(digQuery));
  for (const rc of [DNS_RCODE.NXDOMAIN, DNS_RCODE.SERVFAIL, DNS_RCODE.REFUSED]) {
    const r = unwrap(parseDnsMessage(buildDnsError(q, rc)));
    assert.equal([r.id, r.qr, r.rcode, r.answers.length, r.questions], [0xabcd, true, rc, 0, q.questions]);
    assert.is(r.aa, rc === DNS_RCODE.NXDOMAIN);
    assert.ok(r.edns !== undefined);
  }
});

test('question case is echoed; names compare case-insensitively', () => {
  const raw = unwrap(buildDnsQuery({ id: 1, name: 'WeB.MyNeT.', type: DNS_TYPE.A }));
  const q = unwrap(parseDnsMessage(raw));
  assert.is(q.questions[0]!.name, 'WeB.MyNeT');
  assert.ok(dnsNameEquals(q.questions[0]!.name, 'web.mynet.'));
  assert.is(normalizeDnsName('WeB.MyNeT.'), 'web.mynet');
  assert.is(normalizeDnsName('.'), '.');
  const r = unwrap(buildDnsResponse(q, { answers: [{ name: 'web.mynet', type: DNS_TYPE.A, ttl: 1, data: ipv4(1) }] }));
  const back = unwrap(parseDnsMessage(r));
  assert.is(back.questions[0]!.name, 'WeB.MyNeT');
  assert.is(back.answers[0]!.name, 'WeB.MyNeT', 'owner written as a pointer to the question');
});

test('parse an upstream response with compression (for forwarding)', () => {
  // www.example.com CNAME example.com; example.com A 93.184.215.14
  const resp = hex(`
    1234 8180 0001 0002 0000 0000
    03 777777 07 6578616d706c65 03 636f6d 00 0001 0001
    c00c 0005 0001 00000e10 0002 c010
    c010 0001 0001 00000e10 0004 5db8d70e
  `);
  const m = unwrap(parseDnsMessage(resp));
  assert.equal([m.qr, m.ra, m.rcode], [true, true, 0]);
  assert.is(m.answers[0]!.name, 'www.example.com');
  assert.is(m.answers[0]!.target, 'example.com');
  assert.is(m.answers[1]!.name, 'example.com');
  assert.is(formatIP(m.answers[1]!.address!), '93.184.215.14');
  assert.equal(classifyDnsQuery(m), { action: 'drop' });
});

test('malformed names: loops, forward pointers, bad label types, overlong', () => {
  const header = '0001 0100 0001 0000 0000 0000';
  const cases: [string, string][] = [
    ['self pointer', `${header} c00c 0001 0001`],
    ['forward pointer', `${header} c00e 0001 0001 00`],
    ['pointer loop via label', `${header} 01 61 c00c 0001 0001`],
    ['0x40 label type', `${header} 40 0001 0001`],
    ['truncated label', `${header} 05 6162`],
    ['missing terminator', `${header} 01 61`],
    ['truncated question', `${header} 00 0001`],
    ['pointer past end', `${header} c0`],
  ];
  for (const [why, bytes] of cases) {
    const r = parseDnsMessage(hex(bytes));
    assert.not.ok(r.ok, why);
    if (!r.ok) assert.ok(r.error.startsWith('invalid DNS message: '), r.error);
  }
  // 256-byte name: 4 x (63 + 1) bytes of labels plus the root is over 255.
  const long = '3f' + '61'.repeat(63);
  assert.not.ok(parseDnsMessage(hex(`${header} ${long}${long}${long}${long} 00 0001 0001`)).ok);
  const ok3 = parseDnsMessage(hex(`${header} ${long}${long}${long} 3d${'61'.repeat(61)} 00 0001 0001`));
  assert.ok(ok3.ok, '255-byte name is fine');
  assert.equal(parseDnsMessage(hex('0001 0100 00')), { ok: false, error: 'invalid DNS message: 5 bytes is shorter than the 12-byte header' });
});

test('label escapes round trip', () => {
  const raw = hex('0001 0100 0001 0000 0000 0000 03 612e62 02 0a5c 00 0010 0001');
  const q = unwrap(parseDnsMessage(raw));
  assert.is(q.questions[0]!.name, 'a\\.b.\\010\\\\');
  const r = unwrap(buildDnsResponse(q, { rcode: DNS_RCODE.NXDOMAIN }));
  assert.equal([...r.subarray(12, raw.length)], [...raw.subarray(12)]);
});

test('classify: opcode, question count, EDNS version', () => {
  const base = unwrap(parseDnsMessage(digQuery));
  assert.equal(classifyDnsQuery({ ...base, opcode: 2 }), { action: 'reject', rcode: DNS_RCODE.NOTIMP });
  assert.equal(classifyDnsQuery({ ...base, questions: [] }), { action: 'reject', rcode: DNS_RCODE.FORMERR });
  const v1: DnsMessage = { ...base, edns: { udpSize: 1232, extendedRcode: 0, version: 1, dnssecOk: true } };
  assert.equal(classifyDnsQuery(v1), { action: 'reject', rcode: DNS_RCODE.BADVERS });
  // BADVERS (16) goes in the OPT extended RCODE: header 0, ext 1; DO is copied.
  const r = unwrap(parseDnsMessage(buildDnsError(v1, DNS_RCODE.BADVERS)));
  assert.is(r.rcode, DNS_RCODE.BADVERS);
  assert.ok(r.edns?.dnssecOk);
});

test('FORMERR from unparseable bytes', () => {
  const junk = hex('beef 0100 0001 0000 0000 0000 05 61');
  assert.not.ok(parseDnsMessage(junk).ok);
  const r = unwrap(parseDnsMessage(buildDnsFormErr(junk)!));
  assert.equal([r.id, r.qr, r.rd, r.rcode, r.questions.length], [0xbeef, true, true, DNS_RCODE.FORMERR, 0]);
  assert.is(buildDnsFormErr(junk.subarray(0, 11)), undefined);
  assert.is(buildDnsFormErr(hex('beef 8100 0000 0000 0000 0000')), undefined, 'never answer a response');
});

test('truncation sets TC and keeps counts consistent', () => {
  const q = unwrap(parseDnsMessage(unwrap(buildDnsQuery({ id: 9, name: 'many.mynet', type: DNS_TYPE.A }))));
  const answers = Array.from({ length: 100 }, (_, i) => ({ type: DNS_TYPE.A, ttl: 60, data: ipv4(0x0a000000 + i) }));
  const raw = unwrap(buildDnsResponse(q, { answers }));
  assert.ok(raw.length <= 512);
  const r = unwrap(parseDnsMessage(raw));
  assert.ok(r.tc);
  assert.ok(r.answers.length > 0 && r.answers.length < 100);
  const tcp = unwrap(parseDnsMessage(unwrap(buildDnsResponse(q, { answers, maxSize: 65535 }))));
  assert.equal([tcp.tc, tcp.answers.length], [false, 100]);
});

test('PTR / CNAME / raw records; invalid records are reported', () => {
  const q = unwrap(parseDnsMessage(unwrap(buildDnsQuery({ id: 3, name: '2.0.0.10.in-addr.arpa', type: DNS_TYPE.PTR }))));
  const r = unwrap(parseDnsMessage(unwrap(buildDnsResponse(q, {
    answers: [
      { type: DNS_TYPE.PTR, ttl: 600, data: 'web.mynet' },
      { name: 'alias.mynet', type: DNS_TYPE.CNAME, ttl: 600, data: 'web.mynet' },
      { name: 'txt.mynet', type: DNS_TYPE.TXT, ttl: 5, data: hex('026869') },
    ],
  }))));
  assert.equal(r.answers.map((a) => [a.name, a.type, a.target ?? toHex(a.rdata)]), [
    ['2.0.0.10.in-addr.arpa', DNS_TYPE.PTR, 'web.mynet'],
    ['alias.mynet', DNS_TYPE.CNAME, 'web.mynet'],
    ['txt.mynet', DNS_TYPE.TXT, '026869'],
  ]);
  const bad = buildDnsResponse(q, { answers: [{ type: DNS_TYPE.A, ttl: 1, data: ipv6(1n) }] });
  assert.not.ok(bad.ok);
  assert.not.ok(buildDnsResponse(q, { answers: [{ name: 'a'.repeat(64), type: DNS_TYPE.A, ttl: 1, data: ipv4(1) }] }).ok);
  assert.not.ok(buildDnsResponse(q, { answers: [{ type: DNS_TYPE.A, ttl: -1, data: ipv4(1) }] }).ok);
  assert.not.ok(buildDnsQuery({ id: 1, name: `${'a'.repeat(64)}.mynet`, type: 1 }).ok);
  assert.not.ok(validateDnsName('a..b').ok);
  assert.ok(validateDnsName('a.b.').ok);
  assert.not.ok(validateDnsName('a\\300.b').ok);
  assert.ok(validateDnsName('a\\255.b').ok);
});

test('property: query build/parse round trip for generated names', () => {
  const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 6 }).map((ls) => ls.join('.'));
  fc.assert(
    fc.property(name, fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(1, 28, 12), (n, id, type) => {
      const q = unwrap(parseDnsMessage(unwrap(buildDnsQuery({ id, name: n, type, ednsUdpSize: 4096 }))));
      assert.equal([q.id, q.questions[0]!.name, q.questions[0]!.type, q.edns?.udpSize], [id, n, type, 4096]);
    }),
  );
});

test.run();

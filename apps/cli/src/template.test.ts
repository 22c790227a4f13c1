/** Go templates: Docker's documented examples (docs/config/formatting, inspect, ps, network ls), table-driven. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compile, TemplateError } from './template.ts';

const container = {
  Id: 'a87ecb4f327c',
  Name: '/fervent_bohr',
  LogPath: '/var/lib/docker/containers/a87ecb4f327c/a87ecb4f327c-json.log',
  Args: ['-c', 'ls', '/tmp'],
  Config: { Image: 'ubuntu:24.04', Labels: { 'com.example.version': '1.0' } },
  NetworkSettings: {
    Networks: { bridge: { IPAddress: '172.17.0.2', MacAddress: '02:42:ac:11:00:02' }, web: { IPAddress: '10.0.0.5', MacAddress: '02:42:0a:00:00:05' } },
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': [{ HostIp: '0.0.0.0', HostPort: '8443' }] },
  },
  State: { Running: true, ExitCode: 0, Pid: 4242 },
  Mounts: [],
};

/** [template, data, expected output] — from Docker's documentation where it gives one. */
const cases: [string, unknown, string][] = [
  ['{{.LogPath}}', container, container.LogPath],
  ['{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', container, '172.17.0.210.0.0.5'],
  ['{{range .NetworkSettings.Networks}}{{.MacAddress}} {{end}}', container, '02:42:ac:11:00:02 02:42:0a:00:00:05 '],
  ['{{json .Config}}', container, '{"Image":"ubuntu:24.04","Labels":{"com.example.version":"1.0"}}'],
  ['{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}', container, ' 443/tcp -> 8443  80/tcp -> 8080 '],
  ['{{index .Config.Labels "com.example.version"}}', container, '1.0'],
  ['{{join .Args " , "}}', container, '-c , ls , /tmp'],
  ['{{lower "HELLO"}} {{upper .Config.Image}}', container, 'hello UBUNTU:24.04'],
  ['{{split .Config.Image ":"}}', container, '[ubuntu 24.04]'],
  ['{{title .Name}}', { Name: 'fervent bohr' }, 'Fervent Bohr'],
  ['{{println .Name}}', { Name: 'x' }, 'x\n'],
  ['{{.State.Running}} {{.State.Pid}}', container, 'true 4242'],
  ['{{if .State.Running}}up{{else}}down{{end}}', container, 'up'],
  ['{{if eq .State.ExitCode 0}}ok{{else if eq .State.ExitCode 1}}one{{else}}other{{end}}', container, 'ok'],
  ['{{with .Config}}{{.Image}}{{end}}', container, 'ubuntu:24.04'],
  ['{{with .Mounts}}has{{else}}none{{end}}', container, 'none'],
  ['{{range .Mounts}}x{{else}}empty{{end}}', container, 'empty'],
  ['{{len .Args}}', container, '3'],
  ['{{printf "%s has %d args" .Name (len .Args)}}', container, '/fervent_bohr has 3 args'],
  ['{{printf "%-8s|" .Id}}', { Id: 'abc' }, 'abc     |'],
  ['{{.Name | printf "%q"}}', { Name: 'web' }, '"web"'],
  ['{{$n := .Name}}{{range .Args}}{{$n}}:{{.}} {{end}}', { Name: 'n', Args: ['a', 'b'] }, 'n:a n:b '],
  ['{{range $i, $e := .Args}}{{$i}}={{$e}};{{end}}', { Args: ['a', 'b'] }, '0=a;1=b;'],
  ['{{range .Args}}{{$.Name}}{{end}}', { Name: 'r', Args: [1, 2] }, 'rr'],
  ['{{- .Name -}}  \n', { Name: 'x' }, 'x'],
  ['a {{/* a comment */}}b', {}, 'a b'],
  ['{{.Labels}}', { Labels: { b: '2', a: '1' } }, 'map[a:1 b:2]'],
  ['{{.Nil}}', { Nil: null }, '<nil>'],
  ['{{json .}}', { ID: 'f33ba176dd8e', Name: 'bridge', Driver: 'bridge' }, '{"ID":"f33ba176dd8e","Name":"bridge","Driver":"bridge"}'],
  ['{{json "<a&b>"}}', {}, '"\\u003ca\\u0026b\\u003e"'],
  ['{{.ID}}: {{.Driver}}', { ID: 'afaaab448eb2', Driver: 'bridge' }, 'afaaab448eb2: bridge'],
  ['{{.ID}}\t{{.Name}}', { ID: 'a', Name: 'b' }, 'a\tb'],
  ['{{and .A .B}} {{or .A .B}} {{not .A}}', { A: '', B: 'y' }, ' y true'],
  ['{{.Label "com.example.version"}}', { Label: (k: string) => ({ 'com.example.version': '1.0' })[k] ?? '' }, '1.0'],
  ['{{truncate .Id 3}}{{pad .Id 1 1}}', { Id: 'abcdef' }, 'abc abcdef '],
  ['{{slice .Id 0 4}}', { Id: 'abcdef' }, 'abcd'],
];

test('Docker documented examples render as Go does', () => {
  for (const [src, data, want] of cases) assert.is(compile(src).execute(data), want, src);
});

test('a missing field: an error on list contexts, <no value> in inspect (JSON maps)', () => {
  assert.throws(() => compile('{{.Nme}}').execute({ Name: 'x' }), (e: unknown) => e instanceof TemplateError && e.phase === 'exec' && /can't evaluate field Nme/.test(e.message));
  assert.is(compile('{{.Nme}}', { missing: 'novalue' }).execute({ Name: 'x' }), '<no value>');
  assert.is(compile('{{.A.B.C}}', { missing: 'novalue' }).execute({ A: {} }), '<no value>');
});

/** [template, what the parse error says] — never a crash, always Go's words and the line. */
const bad: [string, RegExp][] = [
  ['{{.Name', /template: :1: unclosed action/],
  ['{{if .A}}x', /unexpected EOF/],
  ['{{end}}', /unexpected \{\{end\}\}/],
  ['{{nope .A}}', /function "nope" not defined/],
  ['{{"abc}}', /unclosed action|unterminated quoted string/],
  ['{{(.A}}', /unclosed left paren/],
  ['{{.A)}}', /unexpected right paren/],
  ['{{}}', /missing value for command/],
  ['{{define "x"}}{{end}}', /not supported/],
  ['{{.A | }}', /missing command/],
  ['{{@}}', /unexpected "@"/],
  ['{{/* open', /unclose/],
  ['line1\n{{.A', /template: :2: unclosed action/],
];

test('malformed templates: a TemplateError (parse) with the line and what is wrong', () => {
  for (const [src, re] of bad) {
    try {
      const t = compile(src);
      t.execute({ A: 1 });
      assert.unreachable(`${src} should fail`);
    } catch (e) {
      assert.ok(e instanceof TemplateError, `${src}: ${String(e)}`);
      assert.match((e as Error).message, re, src);
    }
  }
});

test('execution errors: wrong types are TemplateErrors, never crashes', () => {
  const fails: [string, unknown][] = [
    ['{{index .A 5}}', { A: [1] }],
    ['{{len .A}}', { A: 3 }],
    ['{{join .A ","}}', { A: 'x' }],
    ['{{range .A}}{{end}}', { A: 'str' }],
    ['{{$x}}', {}],
    ['{{.A.B}}', { A: 'str' }],
    ['{{lt .A "x"}}', { A: 1 }],
    ['{{.A 1}}', { A: 'x' }],
  ];
  for (const [src, data] of fails) {
    assert.throws(() => compile(src).execute(data), (e: unknown) => e instanceof TemplateError && e.phase === 'exec', src);
  }
});

test.run();

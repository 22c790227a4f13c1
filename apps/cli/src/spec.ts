/**
 * The shape of the declarative command table (`commands.ts`). One table drives the parser
 * (`parse.ts`), `--help` (`help.ts`) and `docs/cli.md` (`docs.ts`), so they cannot drift apart.
 * This module has no runtime imports: it is on the start-up path of every command.
 */

/**
 * How a flag's value is read.
 * - `bool`: no value (`--force`, `-d`); `--force=false` is accepted too.
 * - `string`: any text; `choices` restricts it.
 * - `int`: a decimal integer within `min`/`max`.
 * - `duration`: Go-style (`90s`, `30m`, `12h`, `1h30m`), kept as the text the agent expects.
 * - `kv`: `KEY=VALUE` (or `KEY` alone, value `""`, unless `kvValueRequired`).
 * - `ip` / `cidr` / `mac` / `port`: validated addresses (`port` is `HOST:PORT`).
 * - `publish` / `portmap`: `--publish published=P,target=T,...` and `-p [HOST_IP:]HOST_PORT:PORT[/proto]`.
 */
export type FlagType = 'bool' | 'string' | 'int' | 'duration' | 'kv' | 'ip' | 'cidr' | 'mac' | 'hostport' | 'publish' | 'portmap';

export interface FlagSpec {
  /** Long name without the dashes. */
  readonly name: string;
  /** One letter, without the dash. */
  readonly short?: string;
  readonly type: FlagType;
  /** May be given several times; the values are kept in order. */
  readonly repeat?: boolean;
  readonly required?: boolean;
  /** Placeholder shown in help (`CIDR`, `NAME`); defaults from the type. */
  readonly value?: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly kvValueRequired?: boolean;
  /** What happens when the flag is absent, for help only (the handler applies it). */
  readonly defaultText?: string;
  readonly desc: string;
}

export interface ArgSpec {
  readonly name: string;
  /** `one`: exactly one; `optional`: zero or one; `many`: one or more. */
  readonly arity: 'one' | 'optional' | 'many';
  readonly choices?: readonly string[];
}

/** The command after `--` (or after the last positional): `weft run ... -- CMD [ARG...]`. */
export interface RestSpec {
  readonly name: string;
  /** `unless-flag:<name>`: required unless that bool flag is set (`run` without `-d`). */
  readonly required: boolean | `unless-flag:${string}`;
}

/** What a command handler receives. */
export interface Parsed {
  readonly cmd: CommandSpec;
  readonly host: string;
  /** Every occurrence of each given flag, by long name, already converted (see `FlagType`). */
  readonly flags: ReadonlyMap<string, readonly FlagValue[]>;
  /** Positional arguments by `ArgSpec.name`. */
  readonly args: Readonly<Record<string, readonly string[]>>;
  readonly rest: readonly string[];
}

export type FlagValue = boolean | string | number | KeyValue | PublishSpec | PortMapSpec;
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}
/** `--publish published=8080,target=80,protocol=udp,mode=host` (or short `8080:80/udp`). */
export interface PublishSpec {
  readonly published?: number;
  readonly target: number;
  readonly protocol: 'tcp' | 'udp';
  readonly mode: 'ingress' | 'host';
}
/** `-p [HOST_IP:]HOST_PORT:PORT[/tcp|udp]`. */
export interface PortMapSpec {
  readonly hostIp?: string;
  readonly hostPort: number;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
}

/** Where a command's output goes and how it reaches the host; injected so tests run in-process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Entering a network namespace (`weft exec`, `weft run` in the foreground) needs root. */
  readonly isRoot: boolean;
  /**
   * Runs a program with inherited stdout/stderr (and stdin, unless `stdin: 'ignore'`, Docker's
   * run without -i); resolves to its exit status (128+N for signal N).
   */
  spawn(file: string, args: readonly string[], opts?: { readonly stdin?: 'inherit' | 'ignore' }): Promise<number>;
  readFile(path: string): Promise<string>;
  /** Asks a yes/no question on the terminal; only called when `stdinIsTTY`. */
  confirm(question: string): Promise<boolean>;
}

export type Handler = (p: Parsed, io: Io) => Promise<number>;

export interface CommandSpec {
  /** Words after `weft`: `['network', 'create']`. */
  readonly path: readonly string[];
  /** Other names of the last word (`ls` → `list`). */
  readonly aliases?: readonly string[];
  readonly summary: string;
  /** Longer text for `--help` and the docs. */
  readonly details?: string;
  readonly flags: readonly FlagSpec[];
  readonly args: readonly ArgSpec[];
  readonly rest?: RestSpec;
  readonly examples?: readonly string[];
  /** Runs the command; loads its module lazily so start-up stays fast. */
  readonly run: Handler;
}

/** A command group (`network`, `swarm`): `weft network` prints its help. */
export interface GroupSpec {
  readonly path: readonly string[];
  readonly summary: string;
}

/**
 * Thrown by the parser and by handlers for bad usage, printed with the command's usage. Exit
 * status as Docker's CLI: 125 for a flag error (unknown flag, missing or malformed value), 1 for
 * anything else (wrong arguments, unknown command).
 */
export class UsageError extends Error {
  readonly path: readonly string[];
  readonly flag: boolean;
  constructor(message: string, path: readonly string[], flag = false) {
    super(message);
    this.name = 'UsageError';
    this.path = path;
    this.flag = flag;
  }
}

/** A user or agent error the handler already phrased: exit 1 with `Error: <message>`. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

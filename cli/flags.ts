// Flag parsing for the subcommands, on Node's own util.parseArgs, with the checks every command
// needs turned into one-line UserErrors (a missing flag, a number that is not one, a stray argument).
// What the shared flags mean (schedules, classes, seeds, files) is in options.ts.

import { parseArgs } from 'node:util';
import { UserError } from '../core/errors.js';

/** Where a command writes: `print` for results (stdout), `info` for progress and notes (stderr). */
export interface CommandIo {
  print(line: string): void;
  info(line: string): void;
}

export const consoleIo: CommandIo = {
  print: (line) => process.stdout.write(line + '\n'),
  info: (line) => process.stderr.write(line + '\n'),
};

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export interface Flags {
  positionals: string[];
  string(name: string): string | undefined;
  required(name: string): string;
  number(name: string): number | undefined;
  /** An integer from `min` (default 1) to `max` (default: any safe integer). */
  integer(name: string, range?: { min?: number; max?: number }): number | undefined;
  bool(name: string): boolean;
  /** Every value of a flag given `multiple: true` in the spec, in order (none: empty). */
  all(name: string): string[];
}

/**
 * Parses argv against `spec`. A command takes at most `positionals` bare arguments (default none):
 * a stray one is almost always a mistake like `--class 1 2`, which would otherwise drop the 2.
 */
export function parseFlags(argv: string[], spec: Spec, usage: string, positionals = 0): Flags {
  // Errors stay one line: they point at --help instead of repeating the usage.
  const help = `${/^usage: (ditto \S+)/.exec(usage)?.[1] ?? 'ditto <command>'} --help lists the flags`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's messages span lines and end in advice about '--' that does not apply to these commands.
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\n/g, ' ');
    throw new UserError(`${message} (${help})`);
  }
  if (parsed.positionals.length > positionals) {
    const stray = parsed.positionals[positionals]!;
    const hint = /^-?[\d.,]+$/.test(stray) ? ': to give several values to one flag, separate them with commas (--class 1,2)' : '';
    throw new UserError(`unexpected argument "${stray}"${hint || ` (${help})`}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const string = (name: string) => values[name] as string | undefined;
  const number = (name: string) => {
    const v = string(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UserError(`--${name} must be a number, got "${v}"`);
    return n;
  };
  return {
    positionals: parsed.positionals,
    string,
    required(name) {
      const v = string(name);
      if (v === undefined || v === '') throw new UserError(`missing --${name} (${help})`);
      return v;
    },
    number,
    integer(name, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
      const n = number(name);
      if (n === undefined) return n;
      if (!Number.isInteger(n) || n < min) {
        throw new UserError(`--${name} must be ${min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer from ${min}`}, got "${string(name)}"`);
      }
      if (n > max) throw new UserError(`--${name} ${string(name)} is more than ${max}, the most ditto accepts here: check the value`);
      return n;
    },
    bool: (name) => values[name] === true,
    all: (name) => (values[name] as string[] | undefined) ?? [],
  };
}

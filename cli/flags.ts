// Flag parsing for the subcommands, on Node's own util.parseArgs, with the checks every command
// needs turned into one-line UserErrors (a missing flag, a number that is not one).

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
  integer(name: string): number | undefined;
  bool(name: string): boolean;
}

export function parseFlags(argv: string[], spec: Spec, usage: string): Flags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UserError(`${(e as Error).message.split('\n')[0]}\n${usage}`);
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
      if (v === undefined || v === '') throw new UserError(`missing --${name}\n${usage}`);
      return v;
    },
    number,
    integer(name) {
      const n = number(name);
      if (n !== undefined && (!Number.isInteger(n) || n <= 0)) throw new UserError(`--${name} must be a positive integer, got "${string(name)}"`);
      return n;
    },
    bool: (name) => values[name] === true,
  };
}

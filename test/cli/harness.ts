// What the CLI tests share: running `main` with captured output, and the check that a user mistake
// ends in exit code 1 with one line that names it and no stack trace.

import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import type { CommandIo } from '../../cli/flags.js';

export function capture(): { io: CommandIo; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { io: { print: (l) => out.push(l), info: (l) => err.push(l) }, out, err };
}

/** Each argv must exit 1 with its last stderr line matching the pattern, and no stack trace. */
export async function expectUserErrors(cases: readonly [string[], RegExp][]): Promise<void> {
  for (const [argv, pattern] of cases) {
    const { io, err } = capture();
    assert.is(await main(argv, io), 1, argv.join(' '));
    assert.match(err.at(-1)!, pattern);
    assert.ok(!err.join('\n').includes('    at '), `no stack trace: ${argv.join(' ')}`);
  }
}

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFlags } from '../../cli/flags.js';
import { UserError } from '../../core/errors.js';

const usage = 'usage: ditto sample [--flags]';
const spec = { cache: { type: 'string' }, n: { type: 'string' } } as const;

function userError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'), String(pattern));
}

test('stray arguments are refused, with a hint for lists', () => {
  userError(() => parseFlags(['--cache', 'fora', '2'], spec, usage), /unexpected argument "2": .*separate them with commas/);
  userError(() => parseFlags(['oops'], spec, usage), /unexpected argument "oops" \(ditto sample --help lists the flags\)/);
  userError(() => parseFlags(['--bogus'], spec, usage), /Unknown option '--bogus' \(ditto sample --help lists the flags\)/);
  assert.equal(parseFlags(['one'], spec, usage, 1).positionals, ['one']);
});

test('integers: range checked, one-line errors', () => {
  const n = (v: string, range?: { min?: number; max?: number }) => parseFlags(['--n', v], spec, usage).integer('n', range);
  assert.is(n('3'), 3);
  assert.is(n('0', { min: 0 }), 0);
  userError(() => n('0'), /--n must be a positive integer, got "0"/);
  userError(() => n('1e12', { max: 10 }), /--n 1e12 is more than 10/);
  userError(() => n('x'), /--n must be a number, got "x"/);
  userError(() => parseFlags([], spec, usage).required('n'), /missing --n \(ditto sample --help lists the flags\)/);
});

test.run();

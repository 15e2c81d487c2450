// The check every "mistakes are refused" test makes: the call throws a UserError whose message
// matches and is one line (what the CLI prints), and does not quietly accept the input.

import * as assert from 'uvu/assert';
import { UserError } from '../core/errors.js';

export function refuses(fn: () => unknown, pattern: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (error === undefined) assert.unreachable(`accepted; expected ${pattern}`);
  assert.instance(error, UserError);
  assert.match((error as Error).message, pattern);
  assert.not.match((error as Error).message, /\n/);
}

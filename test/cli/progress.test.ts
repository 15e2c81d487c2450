// cli/progress.ts: a bar only where stderr is a terminal, and a no-op otherwise.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { progress } from '../../cli/progress.js';

test('off a terminal the bar is a no-op and says it is not shown', () => {
  const bar = progress('sampling', 10, false);
  assert.is(bar.shown, false);
  bar.update(3, 'model');
  bar.stop();
});

test('on a terminal the bar says it is shown (so that sampling waits for each step)', () => {
  const bar = progress('sampling', 10, true);
  assert.is(bar.shown, true);
  bar.update(10);
  bar.stop();
});

test.run();

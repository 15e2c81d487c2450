import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import { reuseWeights } from '../../../predictors/l2p.js';
import { parseScheduleFile, readScheduleFile, writeScheduleFile } from '../../../predictors/search/schedule-file.js';

test('written and read back: the schedule, the method, the weights; one W row per line', () => {
  const path = join(tmpdir(), `ditto-schedule-${process.pid}.json`);
  const weights = reuseWeights(6);
  weights[3]![1] = 0.25;
  writeScheduleFile(path, { full_steps: [0, 2, 5], method: 'l2p', steps: 6, score_db: 31.5, official: null, weights });
  const loaded = readScheduleFile(path, 6);
  assert.equal(loaded.schedule.fullSteps, [0, 2, 5]);
  assert.ok(loaded.schedule.isFull(2) && !loaded.schedule.isFull(3));
  assert.is(loaded.method, 'l2p');
  assert.equal(loaded.weights, weights);
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes('\n   [0, 0.25, 0, 1, 0, 0],\n'), text);
  assert.equal(JSON.parse(text).official, null);
});

test('refused in one line: not JSON, unknown method, other step count, bad steps, wrong W', () => {
  const cases: [string, RegExp][] = [
    ['[0, 1]', /expected a JSON object/],
    ['{"full_steps": [0, 1], "method": "magic", "steps": 4}', /"method" must be one of fora, taylorseer, foca, l2p, l2p-direct/],
    ['{"full_steps": [0, 1], "method": "fora", "steps": 5}', /searched for 5 sampling steps, but this run takes 4: pass --steps 5/],
    ['{"full_steps": [1, 2], "method": "fora", "steps": 4}', /S\.json: the full steps must start at step 0/],
    ['{"full_steps": [0, 2, 2], "method": "fora", "steps": 4}', /strictly increasing/],
    ['{"full_steps": "0,1", "method": "fora", "steps": 4}', /"full_steps" must be a list/],
    ['{"full_steps": [0, 1], "method": "l2p", "steps": 4, "weights": [[1]]}', /W is 1x1, made for 1 sampling steps, but this run has 4/],
    ['{"full_steps": [0', /not JSON/],
  ];
  for (const [text, pattern] of cases) {
    let error: unknown;
    try {
      parseScheduleFile(text, 'S.json', 4);
    } catch (e) {
      error = e;
    }
    assert.instance(error, UserError, text);
    assert.match((error as Error).message, pattern);
  }
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { explicitSchedule, fullSchedule, paperSchedule, PAPER_SCHEDULES, parseStepList, speedup, taylorSeerSchedule } from '../../predictors/schedule.js';

test("the paper's schedules are docs/method.md's lists, with their speedups", () => {
  assert.equal(paperSchedule(5).fullSteps, [0, 1, 2, 4, 6, 9, 14, 23, 30, 37, 44]);
  assert.equal(paperSchedule(6).fullSteps, [0, 1, 2, 4, 7, 14, 23, 31, 38, 45]);
  assert.equal(paperSchedule(7).fullSteps, [0, 1, 2, 4, 9, 17, 26, 35, 43]);
  assert.equal(paperSchedule(8).fullSteps, [0, 1, 2, 4, 10, 20, 31, 41]);
  assert.equal(paperSchedule(10).fullSteps, [0, 1, 2, 4, 12, 24, 38]);
  assert.equal(paperSchedule(16).fullSteps, [0, 1, 2, 4, 16, 32]);
  const speed = Object.keys(PAPER_SCHEDULES).map((n) => speedup(paperSchedule(Number(n))).toFixed(2));
  assert.equal(speed, ['4.55', '5.00', '5.56', '6.25', '7.14', '8.33']);
  for (const n of Object.keys(PAPER_SCHEDULES)) assert.not.ok(paperSchedule(Number(n)).isFull(49), 'step 49 is never computed');
});

test('an unknown N is refused with the supported ones listed', () => {
  assert.throws(() => paperSchedule(9), (e: Error) => e instanceof UserError && /N = 5, 6, 7, 8, 10, 16/.test(e.message));
  assert.throws(() => paperSchedule(5, 20), (e: Error) => e instanceof UserError && /50 steps/.test(e.message));
});

test("TaylorSeer's schedule: steps 0 1 2, then every N (the official counter)", () => {
  assert.equal(taylorSeerSchedule(5, 20).fullSteps, [0, 1, 2, 7, 12, 17]);
  assert.equal(taylorSeerSchedule(1, 5).fullSteps, [0, 1, 2, 3, 4]);
  assert.equal(taylorSeerSchedule(4, 2).fullSteps, [0, 1]);
  // simulate cal_type: full when step < 3 or the counter reaches N - 1
  const n = 6, steps = 50, full: number[] = [];
  let counter = 0;
  for (let s = 0; s < steps; s++) {
    if (s < 3 || counter === n - 1) {
      full.push(s);
      counter = 0;
    } else counter++;
  }
  assert.equal(taylorSeerSchedule(n, steps).fullSteps, full);
  assert.throws(() => taylorSeerSchedule(0, 10), (e: Error) => e instanceof UserError);
});

test('explicit lists: start at 0, strictly increasing, inside the step count', () => {
  const s = explicitSchedule([0, 3, 4, 9], 12);
  assert.ok(s.isFull(3) && !s.isFull(5));
  assert.throws(() => explicitSchedule([1, 3], 10), (e: Error) => e instanceof UserError && /start at step 0/.test(e.message));
  assert.throws(() => explicitSchedule([], 10), (e: Error) => e instanceof UserError && /start at step 0/.test(e.message));
  assert.throws(() => explicitSchedule([0, 5, 5], 10), (e: Error) => e instanceof UserError && /strictly increasing/.test(e.message));
  assert.throws(() => explicitSchedule([0, 4, 2], 10), (e: Error) => e instanceof UserError && /strictly increasing/.test(e.message));
  assert.throws(() => explicitSchedule([0, 10], 10), (e: Error) => e instanceof UserError && /outside the 10 steps/.test(e.message));
  assert.equal(fullSchedule(3).fullSteps, [0, 1, 2]);
});

test('step lists parse, and anything else is a one-line error', () => {
  assert.equal(parseStepList('0,1, 2,4'), [0, 1, 2, 4]);
  for (const bad of ['0,,1', '0,a', '-1,2', '1.5', '']) assert.throws(() => parseStepList(bad), (e: Error) => e instanceof UserError);
});

test.run();

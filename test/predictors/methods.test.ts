import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { reuseWeights } from '../../predictors/l2p.js';
import { createPredictor, defaultScheduleKind, parseMethod, resolveSchedule } from '../../predictors/methods.js';

test('methods by name', () => {
  assert.is(createPredictor({ method: 'taylorseer' }, 50).name, 'taylorseer order 2');
  assert.is(createPredictor({ method: 'taylorseer', order: 4 }, 50).name, 'taylorseer order 4');
  assert.is(createPredictor({ method: 'fora' }, 50).name, 'fora');
  assert.is(createPredictor({ method: 'foca' }, 50).name, 'foca');
  assert.is(createPredictor({ method: 'l2p', weights: reuseWeights(50) }, 50).name, 'l2p');
  assert.throws(() => parseMethod('teacache'), (e: Error) => e instanceof UserError && /use one of fora, taylorseer, foca, l2p/.test(e.message));
  assert.throws(() => createPredictor({ method: 'l2p' }, 50), (e: Error) => e instanceof UserError && /--weights/.test(e.message));
  assert.throws(() => createPredictor({ method: 'l2p', weights: reuseWeights(50) }, 30), (e: Error) => e instanceof UserError && /30 steps/.test(e.message));
  assert.throws(() => createPredictor({ method: 'foca', order: 3 }, 50), (e: Error) => e instanceof UserError && /taylorseer only/.test(e.message));
});

test('schedules: l2p takes the paper schedule, the fixed formulas TaylorSeer\'s', () => {
  assert.is(resolveSchedule({ steps: 50, interval: 5 }, defaultScheduleKind('l2p')).label, 'paper N=5');
  assert.is(resolveSchedule({ steps: 50, interval: 5 }, defaultScheduleKind('taylorseer')).label, 'taylorseer N=5');
  assert.is(resolveSchedule({ steps: 50, interval: 5, kind: 'paper' }, 'taylorseer').label, 'paper N=5');
  assert.equal(resolveSchedule({ steps: 10, fullSteps: [0, 4] }, 'paper').fullSteps, [0, 4]);
  assert.throws(() => resolveSchedule({ steps: 50 }, 'paper'), (e: Error) => e instanceof UserError && /either --interval N or --full-steps/.test(e.message));
  assert.throws(() => resolveSchedule({ steps: 50, interval: 5, fullSteps: [0] }, 'paper'), (e: Error) => e instanceof UserError);
  assert.throws(() => resolveSchedule({ steps: 50, interval: 5, kind: 'fast' }, 'paper'), (e: Error) => e instanceof UserError && /unknown --schedule "fast"/.test(e.message));
  assert.throws(() => resolveSchedule({ steps: 50, interval: 9 }, 'paper'), (e: Error) => e instanceof UserError && /N = 5, 6, 7, 8, 10, 16/.test(e.message));
});

test.run();

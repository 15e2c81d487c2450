import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { reuseWeights } from '../../predictors/l2p.js';
import { fitDirect } from '../../predictors/fit/direct.js';
import { createPredictor, defaultScheduleKind, officialSchedule, parseMethod, planMethod, resolveSchedule, scheduledPredictor, scheduledWeights } from '../../predictors/methods.js';
import { explicitSchedule } from '../../predictors/schedule.js';

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

test('the official schedule at a budget: 11/9/7 full steps are paper N=5/7/10, 12/9/7 TaylorSeer N=5/7/10', () => {
  const label = (m: Parameters<typeof officialSchedule>[0], k: number, steps = 50) => officialSchedule(m, k, steps)?.label;
  assert.equal([11, 9, 7].map((k) => label('l2p', k)), ['paper N=5', 'paper N=7', 'paper N=10']);
  assert.equal([11, 9, 7].map((k) => label('l2p-direct', k)), ['paper N=5', 'paper N=7', 'paper N=10']);
  assert.equal([12, 9, 7].map((k) => label('foca', k)), ['taylorseer N=5', 'taylorseer N=7', 'taylorseer N=10']);
  assert.is(label('l2p', 12), undefined, 'no paper schedule has 12 full steps');
  assert.is(label('l2p', 7, 30), undefined, 'the paper schedules are for 50 steps');
  assert.is(label('taylorseer', 4, 10), 'taylorseer N=4');
});

test('per-schedule predictors: l2p-direct is refitted to the schedule, l2p keeps its matrix', () => {
  const S = 8;
  const g = new Float64Array(S * S);
  for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) g[i * S + j] = 1 / (1 + Math.abs(i - j)) + (i === j ? 1 : 0);
  const schedule = explicitSchedule([0, 3, 5], S);
  assert.equal(scheduledWeights('l2p-direct', schedule, { gram: g }), fitDirect(g, S, schedule));
  const w = reuseWeights(S);
  assert.is(scheduledWeights('l2p', schedule, { weights: w }), w);
  assert.is(scheduledWeights('foca', schedule, { weights: w }), undefined);
  assert.is(scheduledPredictor('l2p-direct', schedule, { gram: g }).name, 'l2p');
  assert.is(planMethod('fora', S, { schedule }).predictor.name, 'fora');
  const zeroRow = reuseWeights(S);
  zeroRow[3]!.fill(0);
  assert.throws(() => planMethod('l2p', S, { schedule, weights: zeroRow, weightsSource: 'W.json' }), (e: Error) => e instanceof UserError && /W\.json: row 3 of W is all zero/.test(e.message));
});

test.run();

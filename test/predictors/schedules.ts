// Schedules the predictor tests roll out on: the paper's (uneven gaps 1..9), TaylorSeer's (even after
// step 2), a hand-made irregular one, and seeded random ones.

import { explicitSchedule, paperSchedule, taylorSeerSchedule, type Schedule } from '../../predictors/schedule.js';

function randomSchedule(steps: number, seed: number): Schedule {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296);
  const full = [0];
  for (let t = 1; t < steps; t++) if (u() < 0.35) full.push(t);
  return explicitSchedule(full, steps);
}

export function testSchedules(): Schedule[] {
  return [
    paperSchedule(5),
    paperSchedule(10),
    taylorSeerSchedule(4, 30),
    explicitSchedule([0, 1, 3, 4, 8, 9, 15, 22, 23, 31], 35),
    randomSchedule(40, 7),
    randomSchedule(25, 99),
  ];
}

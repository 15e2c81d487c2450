// Reference numbers below were computed once with /usr/bin/python3 (numpy float64) by running DiT's own
// code paths: np.linspace(1e-4, 0.02, 1000), np.cumprod(1 - betas), the space_timesteps loop
// (cur_idx += frac_stride; round(cur_idx)), and SpacedDiffusion's rebuilt betas + cumprod, then
//   xCoef = sqrt(ab_prev) * sqrt(1/ab), outCoef = sqrt(1 - ab_prev) - sqrt(ab_prev) * sqrt(1/ab - 1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import {
  alphasCumprod,
  ddim,
  ddpmBetas,
  respacedTimesteps,
  roundHalfEven,
} from '../../../models/samplers/ddim.js';

function close(actual: number, expected: number, rel = 1e-12, msg = ''): void {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${msg} expected ${expected}, got ${actual} (diff ${actual - expected})`,
  );
}

test('betas follow numpy.linspace(1e-4, 0.02, 1000) exactly', () => {
  const b = ddpmBetas();
  assert.is(b.length, 1000);
  // numpy reprs of betas[0], [1], [2], [500], [998], [999]
  assert.is(b[0], 0.0001);
  assert.is(b[1], 0.00011991991991991993);
  assert.is(b[2], 0.00013983983983983984);
  assert.is(b[500], 0.010059959959959959);
  assert.is(b[998], 0.01998008008008008);
  assert.is(b[999], 0.02);
});

test('alphas_cumprod spot values', () => {
  const ab = alphasCumprod(ddpmBetas());
  assert.is(ab[0], 0.9999);
  // Same float64 operations in the same order as numpy, so these match bit for bit.
  assert.is(ab[1], 0.9997800920720721);
  assert.is(ab[499], 0.07858724288177824);
  assert.is(ab[999], 4.035829765375676e-5);
});

test('roundHalfEven is Python round()', () => {
  assert.is(roundHalfEven(166.5), 166);
  assert.is(roundHalfEven(499.5), 500);
  assert.is(roundHalfEven(0.5), 0);
  assert.is(roundHalfEven(1.5), 2);
  assert.is(roundHalfEven(832.5), 832);
  assert.is(roundHalfEven(2.4999999999999996), 2);
  assert.is(roundHalfEven(499.49999999999994), 499);
  assert.is(roundHalfEven(3.7), 4);
  assert.is(roundHalfEven(0), 0);
});

test('respacing S = 50', () => {
  assert.equal(
    respacedTimesteps(50),
    [
      0, 20, 41, 61, 82, 102, 122, 143, 163, 183, 204, 224, 245, 265, 285, 306, 326, 347, 367, 387, 408,
      428, 449, 469, 489, 510, 530, 550, 571, 591, 612, 632, 652, 673, 693, 714, 734, 754, 775, 795, 816,
      836, 856, 877, 897, 917, 938, 958, 979, 999,
    ],
  );
});

test('respacing S = 250', () => {
  assert.equal(
    respacedTimesteps(250),
    [
      0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100,
      104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 144, 148, 152, 156, 160, 164, 169, 173, 177, 181,
      185, 189, 193, 197, 201, 205, 209, 213, 217, 221, 225, 229, 233, 237, 241, 245, 249, 253, 257, 261,
      265, 269, 273, 277, 281, 285, 289, 293, 297, 301, 305, 309, 313, 317, 321, 325, 329, 333, 337, 341,
      345, 349, 353, 357, 361, 365, 369, 373, 377, 381, 385, 389, 393, 397, 401, 405, 409, 413, 417, 421,
      425, 429, 433, 437, 441, 445, 449, 453, 457, 461, 465, 469, 473, 477, 481, 485, 489, 493, 497, 502,
      506, 510, 514, 518, 522, 526, 530, 534, 538, 542, 546, 550, 554, 558, 562, 566, 570, 574, 578, 582,
      586, 590, 594, 598, 602, 606, 610, 614, 618, 622, 626, 630, 634, 638, 642, 646, 650, 654, 658, 662,
      666, 670, 674, 678, 682, 686, 690, 694, 698, 702, 706, 710, 714, 718, 722, 726, 730, 734, 738, 742,
      746, 750, 754, 758, 762, 766, 770, 774, 778, 782, 786, 790, 794, 798, 802, 806, 810, 814, 818, 822,
      826, 830, 835, 839, 843, 847, 851, 855, 859, 863, 867, 871, 875, 879, 883, 887, 891, 895, 899, 903,
      907, 911, 915, 919, 923, 927, 931, 935, 939, 943, 947, 951, 955, 959, 963, 967, 971, 975, 979, 983,
      987, 991, 995, 999,
    ],
  );
});

test('respacing S = 4, 2, 1, 1000', () => {
  assert.equal(respacedTimesteps(4), [0, 333, 666, 999]);
  assert.equal(respacedTimesteps(2), [0, 999]);
  assert.equal(respacedTimesteps(1), [0]);
  assert.equal(respacedTimesteps(1000), Array.from({ length: 1000 }, (_, i) => i));
});

test('respacing S = 25 needs round-half-to-even (166.5 -> 166, 832.5 -> 832)', () => {
  // Math.round would keep 167 and 833 here.
  assert.equal(
    respacedTimesteps(25),
    [
      0, 42, 83, 125, 166, 208, 250, 291, 333, 375, 416, 458, 500, 541, 583, 624, 666, 708, 749, 791, 832,
      874, 916, 957, 999,
    ],
  );
});

test('respacing S = 21 needs float accumulation (cur_idx reaches 499.49999999999994, not 499.5)', () => {
  // 10 * 49.95 = 499.5 would round to 500; the accumulated sum rounds to 499.
  assert.equal(
    respacedTimesteps(21),
    [0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 499, 549, 599, 649, 699, 749, 799, 849, 899, 949, 999],
  );
});

test('bad step counts throw UserError', () => {
  for (const s of [0, -1, 1001, 2.5, NaN]) {
    assert.throws(() => respacedTimesteps(s), (e: unknown) => e instanceof UserError, `steps=${s}`);
    assert.throws(() => ddim(s), (e: unknown) => e instanceof UserError, `steps=${s}`);
  }
});

// sqrt and + - * / are correctly rounded in IEEE float64, so the coefficients equal numpy's bit for bit.
test('DDIM 2 steps: model times and coefficients', () => {
  const s = ddim(2);
  assert.is(s.name, 'ddim');
  assert.is(s.predicts, 'eps');
  assert.is(s.steps, 2);
  const a = s.step(0);
  const b = s.step(1);
  assert.is(a.modelTime, 999);
  assert.is(b.modelTime, 0);
  assert.is(a.xCoef, 157.4025865318443);
  assert.is(a.outCoef, -157.38941024957728);
  assert.is(b.xCoef, 1.0000500037503124);
  assert.is(b.outCoef, -0.01000050003749898);
  assert.throws(() => s.step(2), RangeError);
  assert.throws(() => s.step(-1), RangeError);
});

test('DDIM 4 steps: model times descend over the original indices; coefficients', () => {
  const s = ddim(4);
  const expected: [number, number, number][] = [
    [999, 16.4975097247352, -15.502684095828906],
    [666, 5.385859412901786, -4.530743468075472],
    [333, 1.7714889953208044, -1.452283577334682],
    [0, 1.0000500037503124, -0.01000050003749898],
  ];
  expected.forEach(([t, xc, oc], i) => {
    const st = s.step(i);
    assert.is(st.modelTime, t);
    assert.is(st.xCoef, xc, `step${i} xCoef`);
    assert.is(st.outCoef, oc, `step${i} outCoef`);
  });
});

test('DDIM with the true noise as eps recovers x0', () => {
  // If x_T = sqrt(a_T) x0 + sqrt(1 - a_T) eps and the model always returns that eps, each DDIM step
  // lands exactly on the forward process at the next kept step, and the last one on x0 (exact in real
  // arithmetic; float64 leaves ~1e-13, the first step's xCoef being ~157 for S = 2).
  const ab = alphasCumprod(ddpmBetas());
  const x0 = [0.7, -1.3, 0.05, 2.2];
  const eps = [-0.4, 1.1, 0.9, -2.0];
  for (const S of [1, 2, 4, 50, 250, 1000]) {
    const s = ddim(S);
    const tStart = s.step(0).modelTime;
    let x = x0.map((v, j) => Math.sqrt(ab[tStart]!) * v + Math.sqrt(1 - ab[tStart]!) * eps[j]!);
    for (let i = 0; i < s.steps; i++) {
      const { xCoef, outCoef } = s.step(i);
      x = x.map((v, j) => xCoef * v + outCoef * eps[j]!);
    }
    x.forEach((v, j) => close(v, x0[j]!, 1e-12, `S=${S} x0[${j}]`));
  }
});

test.run();

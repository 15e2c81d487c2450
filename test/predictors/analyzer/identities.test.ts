import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Fraction } from '../../../predictors/analyzer/fraction.js';
import { anchorsFor, exactDegree, ORDERS, runIdentities, taylorSeerExact } from '../../../predictors/analyzer/identities.js';

const checks = runIdentities();

test('every identity holds for m = 1..8, on even and uneven anchors', () => {
  const failed = checks.filter((c) => !c.passed);
  assert.equal(failed, []);
  for (const m of ORDERS) {
    for (const kind of ['even', 'uneven']) assert.ok(checks.filter((c) => c.order === m && c.anchors === kind).length >= 7, `m=${m} ${kind}`);
  }
  assert.ok(checks.some((c) => c.method === 'foca' && c.anchors === 'uneven'));
});

test('the checks can fail: wrong weights are caught', () => {
  const w = taylorSeerExact(anchorsFor('even', 2), 44, 2);
  assert.is(exactDegree(w, 44, 4), 1);
  w.set(40, w.get(40)!.add(Fraction.of(1, 1000)));
  assert.is(exactDegree(w, 44, 4), -1, 'the constant is no longer reproduced');
});

test('Newton reproduces exactly degree m; TaylorSeer and FoCa degree 1', () => {
  for (const c of checks.filter((c) => /reproduces/.test(c.name))) {
    const deg = Number(c.detail!.replace('exact to degree ', ''));
    assert.is(deg, c.method === 'newton' ? c.order : 1, `${c.name} m=${c.order}`);
  }
});

test.run();

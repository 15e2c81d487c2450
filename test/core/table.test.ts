import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTable } from '../../core/table.js';

test('tables align, numbers to the right', () => {
  assert.is(formatTable(['name', 'n'], [['a', '1'], ['bbb', '22']]), 'name   n\n----  --\na      1\nbbb   22');
});

test('ratios, exponents, fractions, percentages and "-" count as numbers', () => {
  const table = formatTable(['ratio', 'err', 'w', 'share'], [['1.50x', '1.2e-5', '-1/3', '5%'], ['-', '3.0e+12', '2', '100%']]);
  assert.is(table, 'ratio      err     w  share\n-----  -------  ----  -----\n1.50x   1.2e-5  -1/3     5%\n    -  3.0e+12     2   100%');
});

test('a column with any non-number is left-aligned; shapes and words are not numbers', () => {
  const table = formatTable(['shape', 'err'], [['512x384x1152', '1.2e-5'], ['64x8x12', 'skipped']]);
  assert.is(table, 'shape         err\n------------  -------\n512x384x1152  1.2e-5\n64x8x12       skipped');
});

test('no rows: headers and rule only', () => {
  assert.is(formatTable(['a', 'bb'], []), 'a  bb\n-  --');
});

test.run();

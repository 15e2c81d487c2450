import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTable } from '../../core/table.js';

test('tables align, numbers to the right', () => {
  assert.is(formatTable(['name', 'n'], [['a', '1'], ['bbb', '22']]), 'name   n\n----  --\na      1\nbbb   22');
});

test('a column with any non-number is left-aligned; ratios, exponents and "-" count as numbers', () => {
  const table = formatTable(['k', 'ratio', 'err'], [['x', '1.50x', '1.2e-5'], ['y', '-', 'skipped']]);
  assert.is(table, 'k  ratio  err\n-  -----  -------\nx  1.50x  1.2e-5\ny      -  skipped');
});

test('no rows: headers and rule only', () => {
  assert.is(formatTable(['a', 'bb'], []), 'a  bb\n-  --');
});

test.run();

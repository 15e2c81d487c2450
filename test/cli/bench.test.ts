// `ditto bench` refuses bad input in one line before any benchmark starts.

import { test } from 'uvu';
import { expectUserErrors } from './harness.js';

test('a missing or unknown suite, a flag of another suite, a bad count: one line each', async () => {
  await expectUserErrors([
    [['bench'], /name a benchmark suite first: ditto bench cpu, kernels, models or cache/],
    [['bench', '--json'], /name a benchmark suite first/],
    [['bench', 'gpu'], /unknown benchmark suite "gpu": ditto bench cpu, kernels, models or cache/],
    [['bench', 'toString'], /unknown benchmark suite "toString"/],
    [['bench', 'cpu', '--seeds', '3'], /Unknown option '--seeds'/],
    [['bench', 'kernels', '--no-torch'], /Unknown option '--no-torch'/],
    [['bench', 'cpu', '--runs', '0'], /--runs must be a positive integer, got "0"/],
    [['bench', 'cpu', '--runs', '1e9'], /--runs 1e9 is more than 1000/],
    [['bench', 'cpu', 'extra'], /unexpected argument "extra"/],
    [['bench', 'cache', '--methods', 'fora,nope'], /--methods: unknown method "nope"/],
  ]);
});

test.run();

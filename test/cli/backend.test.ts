// --backend: the parsing, what auto picks, and the one line it prints about its choice.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { autoBackend, createBackend, EMULATED_MIN_BATCH, parseBackend } from '../../cli/backend.js';
import { cpuKernels } from '../../core/cpu/backend.js';
import { UserError } from '../../core/errors.js';
import { WebGpuBackend } from '../../core/webgpu/index.js';
import { testWebGpu } from '../backends.js';

test('parseBackend takes auto, cpu, webgpu and refuses anything else in one line', () => {
  assert.is(parseBackend(undefined), 'auto');
  assert.is(parseBackend('webgpu'), 'webgpu');
  try {
    parseBackend('cuda');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, /unknown backend "cuda": use one of auto, cpu, webgpu/);
  }
});

test('auto: hardware adapters always; emulated ones only against TypeScript CPU kernels, from EMULATED_MIN_BATCH images', () => {
  assert.is(autoBackend(null, 100, 'simd'), 'cpu');
  assert.is(autoBackend({ emulated: false }, 1, 'simd'), 'webgpu');
  assert.is(autoBackend({ emulated: true }, 100, 'simd'), 'cpu');
  assert.is(autoBackend({ emulated: true }, EMULATED_MIN_BATCH - 1, 'ts'), 'cpu');
  assert.is(autoBackend({ emulated: true }, EMULATED_MIN_BATCH, 'ts'), 'webgpu');
});

const gpu = await testWebGpu();

test('auto says in one line which backend it picked, and why', async () => {
  for (const batch of [1, EMULATED_MIN_BATCH]) {
    const lines: string[] = [];
    const backend = await createBackend('auto', (l) => lines.push(l), { batch });
    assert.is(lines.length, 1);
    const expected = autoBackend(gpu?.adapter ?? null, batch, cpuKernels());
    assert.is(backend.name, expected);
    assert.match(lines[0], new RegExp(`^backend: ${expected}`));
    if (expected === 'cpu') assert.match(lines[0], gpu ? /--backend webgpu forces it/ : /no WebGPU adapter/);
    if (expected === 'webgpu' && gpu?.adapter.emulated) assert.match(lines[0], /--backend cpu forces the CPU/);
    if (backend instanceof WebGpuBackend) backend.dispose();
  }
});

test('work that is heavy whatever the batch takes an emulated adapter for one image against the TypeScript kernels, and says why; not against the SIMD ones', async () => {
  const lines: string[] = [];
  const backend = await createBackend('auto', (l) => lines.push(l), { batch: 1, emulatedWins: 'a reason' });
  const emulatedWins = gpu?.adapter.emulated && cpuKernels() === 'ts';
  assert.is(backend.name, gpu && (!gpu.adapter.emulated || emulatedWins) ? 'webgpu' : 'cpu');
  if (emulatedWins) assert.match(lines[0], /^backend: webgpu \(.*: a reason; --backend cpu forces the CPU\)$/);
  else if (gpu?.adapter.emulated) assert.match(lines[0], /^backend: cpu, .*no faster than the SIMD kernels; --backend webgpu forces it\)$/);
  if (backend instanceof WebGpuBackend) backend.dispose();
});

test.run();

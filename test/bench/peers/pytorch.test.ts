// The Python peers' plumbing: without python3 (or torch) each says so in one line; with torch (not in
// CI), the export writes what bench cpu reads, and the served forward answers each request.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsF32 } from '../../../core/safetensors.js';
import { exportDiT, servePyTorch } from '../../../bench/peers/pytorch.js';

const torch = spawnSync(process.env.DITTO_PYTHON ?? '/usr/bin/python3', ['-c', 'import torch']).status === 0;

/** fn with DITTO_PYTHON set to `python`. */
async function withPython<T>(python: string, fn: () => Promise<T> | T): Promise<T> {
  const saved = process.env.DITTO_PYTHON;
  process.env.DITTO_PYTHON = python;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.DITTO_PYTHON;
    else process.env.DITTO_PYTHON = saved;
  }
}

test('no python3: the export and the server each say which interpreter is missing', async () => {
  await withPython('/nonexistent/python3', async () => {
    const exported = exportDiT('DiT-S/8', tmpdir());
    assert.ok('unavailable' in exported && /^\/nonexistent\/python3 not found/.test(exported.unavailable), JSON.stringify(exported));
    const served = await servePyTorch('DiT-S/8', 1, 1);
    assert.ok('unavailable' in served && /^\/nonexistent\/python3 not found/.test(served.unavailable), JSON.stringify(served));
  });
});

test('a python3 without torch: its last error line and how to get torch', async () => {
  // `false` stands in for an interpreter whose script fails at once, with nothing on stderr.
  await withPython('false', async () => {
    const exported = exportDiT('DiT-S/8', tmpdir());
    assert.equal(exported, { unavailable: 'failed (apt-get install python3-torch)' });
    assert.equal(await servePyTorch('DiT-S/8', 1, 1), { unavailable: 'failed (apt-get install python3-torch)' });
  });
});

test('with torch: the ONNX file, the weights and the inputs with PyTorch\'s output; the server runs forwards on request', async () => {
  if (!torch) return;
  const dir = mkdtempSync(join(tmpdir(), 'ditto-pytorch-test-'));
  try {
    const exported = exportDiT('DiT-S/8', dir);
    assert.ok('onnx' in exported, JSON.stringify(exported));
    assert.ok(statSync(exported.onnx).size > statSync(exported.weights).size * 0.9);
    const io = readSafetensorsF32(exported.io).tensors;
    assert.equal([...io.keys()], ['x', 't', 'y', 'out']);
    assert.equal(io.get('out')!.shape, [2, 8, 32, 32]);
    assert.equal([...io.get('t')!.data, ...io.get('y')!.data], [999, 500, 1, 207]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const served = await servePyTorch('DiT-S/8', 1, 1);
  assert.ok(!('unavailable' in served), JSON.stringify(served));
  assert.match(served.version, /^torch \d+\.\d+/);
  assert.is(served.threads, 1);
  await served.forward();
  await served.forward();
  served.close();
});

test.run();

// `ditto bench models` cut down to seconds: DiT-S/8 (16 tokens) instead of DiT-XL/2, one run. Checks
// that every backend gets a row, timed where it exists and with the reason where it does not, and
// that PyTorch is asked for the same model (its row, when torch is installed, times DiT-S/8 too).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runModelBench } from '../../bench/models.js';
import { formatModelTable } from '../../cli/bench-tables.js';
import { testWebGpu } from '../backends.js';

const gpu = await testWebGpu();

test('a small run: one row per backend, the task and its FLOPs, progress lines, the table', async () => {
  const progress: string[] = [];
  const r = await runModelBench({ runs: 1, torch: true, model: 'S/8', onProgress: (l) => progress.push(l) });
  assert.equal(r.tasks.map((t) => t.task), ['DiT-S/8 forward, batch 2, 4x32x32']);
  // DiT-S/8: 16 tokens; the FLOPs are the model's analytic count for two images.
  assert.ok(r.tasks[0]!.gflop > 1 && r.tasks[0]!.gflop < 2, String(r.tasks[0]!.gflop));
  assert.equal(r.rows.map((x) => x.backend), ['ditto cpu', 'ditto webgpu', 'pytorch']);
  assert.ok(r.rows[0]!.seconds! > 0);
  assert.is(r.rows[1]!.seconds !== null, gpu !== null, 'webgpu timed exactly when there is an adapter');
  const torch = r.rows[2]!;
  assert.ok(torch.seconds === null ? /python3|torch/.test(torch.unavailable!) : torch.seconds > 0 && /torch/.test(torch.detail!), JSON.stringify(torch));
  assert.is(progress.length, 3);
  const table = formatModelTable(r);
  assert.match(table, /DiT-S\/8 forward, batch 2/);
  assert.match(table, /ditto cpu/);
});

test('--no-torch leaves PyTorch out and says so', async () => {
  const r = await runModelBench({ runs: 1, torch: false, model: 'S/8' });
  assert.equal(r.rows.at(-1), { task: r.tasks[0]!.task, backend: 'pytorch', seconds: null, unavailable: 'skipped (--no-torch)' });
});

test.run();

// `ditto bench models` cut down to seconds: DiT-S/8 (16 tokens) instead of DiT-XL/2 and a two-level
// VAE on a 4x4 latent, one run. Checks that every backend gets a row per task, timed where it exists
// and with the reason where it does not; and the VAE's FLOP count against PyTorch's own conv shapes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runModelBench, SD_VAE, vaeDecodeMacs } from '../../bench/models.js';
import { formatModelTable } from '../../cli/bench-tables.js';
import { testWebGpu } from '../backends.js';

const gpu = await testWebGpu();
const vae = { config: { latentChannels: 4, zChannels: 4, levelChannels: [32, 64], numResBlocks: 1, outChannels: 3 }, latent: 4 };

test("the SD decoder's multiply-adds: the official Decoder's conv outputs x fan-in, plus attention's two products", () => {
  // Counted by forward hooks on every Conv2d of latent-diffusion's Decoder (kl-f8 config, 4x32x32 latent)
  // plus post_quant_conv, and 2 * (32*32)^2 * 512 for the mid block's QK^T and PV.
  assert.is(vaeDecodeMacs(SD_VAE, 32, 32), 311_093_641_216);
});

test('a small run: one row per backend, the task and its FLOPs, progress lines, the table', async () => {
  const progress: string[] = [];
  const r = await runModelBench({ runs: 1, torch: true, model: 'S/8', vae, onProgress: (l) => progress.push(l) });
  assert.equal(r.tasks.map((t) => t.task), ['DiT-S/8 forward, batch 2, 4x32x32', 'VAE decode, 4x4x4 latent to a 8x8 image']);
  // DiT-S/8: 16 tokens; the FLOPs are the model's analytic count for two images.
  assert.ok(r.tasks[0]!.gflop > 1 && r.tasks[0]!.gflop < 2, String(r.tasks[0]!.gflop));
  assert.equal(r.rows.map((x) => x.backend), ['ditto cpu', 'ditto webgpu', 'pytorch', 'ditto cpu', 'ditto webgpu', 'pytorch']);
  for (const i of [0, 3]) {
    assert.ok(r.rows[i]!.seconds! > 0);
    assert.is(r.rows[i + 1]!.seconds !== null, gpu !== null, 'webgpu timed exactly when there is an adapter');
    const torch = r.rows[i + 2]!;
    assert.ok(torch.seconds === null ? /python3|torch|LDM_REPO/.test(torch.unavailable!) : torch.seconds > 0 && /torch/.test(torch.detail!), JSON.stringify(torch));
  }
  assert.is(progress.length, 6);
  const table = formatModelTable(r);
  assert.match(table, /DiT-S\/8 forward, batch 2/);
  assert.match(table, /ditto cpu/);
});

test('--no-torch leaves PyTorch out and says so', async () => {
  const r = await runModelBench({ runs: 1, torch: false, model: 'S/8', vae });
  for (const t of r.tasks) assert.equal(r.rows.find((x) => x.task === t.task && x.backend === 'pytorch'), { task: t.task, backend: 'pytorch', seconds: null, unavailable: 'skipped (--no-torch)' });
});

test.run();

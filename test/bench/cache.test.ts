// The cache benchmark on the bundled model with a few steps: rows are scored on exactly the images
// it saves (the PSNR of the saved PNGs equals the reported PSNR), and speedups count what ran.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCacheBench } from '../../bench/cache.js';
import { readScheduleFile, writeScheduleFile } from '../../predictors/search/schedule-file.js';
import { psnr, ssim } from '../../bench/metrics.js';
import { readGrayPng } from '../../models/png.js';
import { CpuBackend } from '../../core/cpu/backend.js';
import { openModel } from '../../models/pretrained.js';

const model = openModel(undefined, new CpuBackend());

test('PSNR and SSIM of the saved images equal the reported ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ditto-bench-cache-'));
  const r = await runCacheBench({ model, seeds: 2, intervals: [2], methods: ['fora', 'taylorseer'], steps: 8, cfgScale: model.card.cfgScale, saveImages: dir });
  assert.is(r.rows.length, 2);
  for (const row of r.rows) {
    const p: number[] = [], s: number[] = [];
    for (let i = 0; i < 2; i++) {
      const ref = readGrayPng(join(dir, 'full', `${i}.png`));
      const img = readGrayPng(join(dir, `${row.method}-2`, `${i}.png`));
      p.push(psnr(img, ref));
      s.push(ssim(img, ref));
    }
    assert.ok(Math.abs((p[0] + p[1]) / 2 - row.psnr) < 1e-9, `${row.method} PSNR`);
    assert.ok(Math.abs((s[0] + s[1]) / 2 - row.ssim) < 1e-9, `${row.method} SSIM`);
    // TaylorSeer's schedule at N=2 over 8 steps: 0 1 2, then 4 6 -> 5 model calls, 8/5 fewer FLOPs (plus the forecasts' own).
    assert.equal(row.full_steps, [0, 1, 2, 4, 6]);
    assert.is(row.schedule, 'taylorseer');
    assert.ok(row.flops_speedup > 1.5 && row.flops_speedup < 1.6, `FLOPs speedup ${row.flops_speedup}`);
    assert.ok(row.psnr > 10 && row.rel_l2 > 0, 'a forecast is close to, not equal to, full compute');
  }
});

test('a searched schedule adds a row with its own method; latency divides the reference runs around its group', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ditto-bench-cache-'));
  const path = join(dir, 'S.json');
  writeScheduleFile(path, { full_steps: [0, 3, 5], method: 'foca', steps: 8, score_db: 30 });
  const r = await runCacheBench({
    model, seeds: 2, intervals: [2], methods: ['fora'], steps: 8, cfgScale: model.card.cfgScale, schedules: [{ path, loaded: readScheduleFile(path, 8) }],
  });
  assert.equal(r.rows.map((row) => [row.method, row.interval, row.schedule, row.full_steps]), [['fora', 2, 'taylorseer', [0, 1, 2, 4, 6]], ['foca', null, path, [0, 3, 5]]]);
  // A reference run before the first group and after each of the two groups.
  const refs = r.reference_runs_seconds;
  assert.is(refs.length, 3);
  r.rows.forEach((row, i) => assert.ok(Math.abs(row.latency_speedup - (refs[i]! + refs[i + 1]!) / 2 / row.seconds) < 1e-12, `row ${i}`));
  assert.ok(r.rows[1]!.flops_speedup > 2.5, 'three of eight steps run the model');
});

test('seeds that would overlap the calibration seeds are refused', async () => {
  const error = await runCacheBench({ model, seeds: 2_000_000, intervals: [2], methods: ['fora'], steps: 4, cfgScale: 1 }).catch((e: Error) => e);
  assert.instance(error, Error);
  assert.match((error as Error).message, /--seeds must stay below/);
});

test.run();

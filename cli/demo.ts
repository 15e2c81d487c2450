// `ditto demo` (what `npm start` runs): the bundled MNIST DiT sampled with full compute, TaylorSeer and
// L2P at N=5 and N=10, for one digit of each class. Prints the cache benchmark's table and writes
// out/demo.png, one row per method, one column per class.

import { runCacheBench } from '../bench/cache.js';
import { grid, upscale, type Image8 } from '../models/image.js';
import { BUNDLED_MODEL, openModel } from '../models/pretrained.js';
import { createBackend, parseBackend } from './backend.js';
import { formatCacheTable } from './bench-tables.js';
import { UserError } from '../core/errors.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { checkOutputs } from './options.js';
import { writePng } from '../models/png.js';

export const demoUsage = `usage: ditto demo [--out out/demo.png] [--backend auto|cpu|webgpu] [--json]
  Samples one digit per class with the bundled model: full compute, then TaylorSeer and L2P at N=5 and
  N=10. Prints speedups and fidelity against full compute, and writes an image grid (rows: methods).`;

/** One digit per class of the bundled model. */
const DEMO_SAMPLES = 10;

export async function demoCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, { out: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } }, demoUsage);
  const backendChoice = parseBackend(flags.string('backend'));
  const out = flags.string('out') ?? 'out/demo.png';
  if (!out.endsWith('.png')) throw new UserError(`--out ${out}: the demo writes a .png image`);
  checkOutputs([{ flag: '--out', path: out }], [{ flag: 'the bundled model', path: BUNDLED_MODEL }]);
  const backend = await createBackend(backendChoice, io.info, { batch: DEMO_SAMPLES });
  const model = openModel(undefined, backend);
  const runs: Image8[][] = [];
  const result = await runCacheBench({
    model, seeds: DEMO_SAMPLES, intervals: [5, 10], methods: ['taylorseer', 'l2p'],
    steps: model.card.steps, cfgScale: model.card.cfgScale, repeatReference: false,
    onImages: (_run, images) => runs.push(images),
    onProgress: (line) => io.info(line),
  });
  writePng(out, upscale(grid(runs.flat(), runs[0].length), 3));
  if (flags.bool('json')) {
    io.print(formatJson({ ...result, image: out }));
    return;
  }
  io.print(formatCacheTable(result));
  io.print(`wrote ${out}: rows full compute, ${result.rows.map((r) => `${r.method} N=${r.interval}`).join(', ')}; one column per class`);
}

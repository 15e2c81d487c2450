// `ditto demo` (what `npm start` runs): a bundled MNIST model (the DiT, or with --model mnist-flux the
// FLUX-architecture MMDiT) sampled with full compute, TaylorSeer and L2P at N=5 and N=10, for one digit
// of each class. Prints the cache benchmark's table and writes out/demo.png, one row per method, one
// column per class.

import { runCacheBench } from '../bench/cache.js';
import { grid, upscale, type Image8 } from '../models/image.js';
import { BUNDLED_MODEL, inspectModel, loadModel, resolveModelPath } from '../models/pretrained.js';
import { createBackend, parseBackend } from './backend.js';
import { formatCacheTable } from './bench-tables.js';
import { UserError } from '../core/errors.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { checkInputs, checkOutputs } from './options.js';
import { writePng } from '../models/png.js';

export const demoUsage = `usage: ditto demo [--model mnist-dit|mnist-flux|M] [--out out/demo.png] [--backend auto|cpu|webgpu] [--json]
  Samples one digit per class with a bundled model (default mnist-dit; mnist-flux is the FLUX-architecture
  one): full compute, then TaylorSeer and L2P at N=5 and N=10. Prints speedups and fidelity against full
  compute, and writes an image grid (rows: methods).`;

export async function demoCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, { model: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } }, demoUsage);
  const modelPath = resolveModelPath(flags.string('model'));
  const backendChoice = parseBackend(flags.string('backend'));
  const out = flags.string('out') ?? 'out/demo.png';
  if (!out.endsWith('.png')) throw new UserError(`--out ${out}: the demo writes a .png image`);
  const inputs = [{ flag: modelPath === undefined ? 'the bundled model' : '--model', path: modelPath ?? BUNDLED_MODEL }];
  checkInputs(inputs);
  checkOutputs([{ flag: '--out', path: out }], inputs);
  const { card, info } = inspectModel(modelPath);
  if (!card.dataRange) throw new UserError(`${card.path} has no __metadata__.data_range: the demo draws images and needs a pixel-space model such as mnist-dit or mnist-flux`);
  if (info.numClasses > 100) throw new UserError(`${card.path} has ${info.numClasses} classes: the demo draws one image per class, for models of up to 100`);
  const samples = info.numClasses;
  const backend = await createBackend(backendChoice, io.info, { batch: samples });
  const model = loadModel(card, backend);
  const runs: Image8[][] = [];
  const result = await runCacheBench({
    model, seeds: samples, intervals: [5, 10], methods: ['taylorseer', 'l2p'],
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

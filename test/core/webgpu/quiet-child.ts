// Run as a child process by backend.test.ts, which checks that it writes nothing on stdout: Dawn's
// native code prints there (printf, out of reach of JavaScript) when an error is left to its default
// handling, which would corrupt the CLI's --json output. It samples zero images, runs ops on empty
// tensors and a broken kernel, then reports on stderr, as JSON, what it saw.

import * as op from '../../../core/ops.js';
import { createWebGpuBackend } from '../../../core/webgpu/index.js';
import { openModel } from '../../../models/pretrained.js';
import { generate } from '../../../predictors/pipeline.js';

const gpu = (await createWebGpuBackend()).backend;
if (!gpu) throw new Error('no WebGPU adapter');
const model = openModel(undefined, gpu);
const none = await generate({ model, classes: [], seeds: [], steps: 3, cfgScale: 3, keepOutputs: true });
const e = gpu.upload(new Float32Array(0), [0, 4], 'f32');
const empty = await op.softmax(op.add(op.gelu(e), e)).read();
await gpu.sync();

// The uses of a broken pipeline are uncaptured errors, the kind Dawn prints by default.
const x = gpu.upload(Float32Array.from([1]), [1], 'f32');
gpu.run({ key: 'broken|child', grid: [1, 1, 1], wgsl: () => '@compute @workgroup_size(1) fn main() { let y = undefinedThing; }' }, [x], [1]);
let broken = '';
try {
  await gpu.sync();
} catch (err) {
  broken = (err as Error).message.split('\n')[0];
}
process.stderr.write(`${JSON.stringify({ shape: none.shape, samples: none.samples.length, outputs: none.outputs!.length, empty: empty.length, broken })}\n`);
gpu.dispose();

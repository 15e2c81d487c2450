// `ditto bench <suite>`: benchmarks, each against a peer measured in the same run.

import { UserError } from '../core/errors.js';
import { runCpuBench } from '../bench/cpu.js';
import { parseFlags, type CommandIo } from './flags.js';

export const benchUsage = `usage: ditto bench cpu [--json] [--runs N] [--no-torch]
  cpu      CPU matmul at DiT-S shapes vs TensorFlow.js (tfjs-backend-cpu), and one DiT-S/2 forward
           vs PyTorch (tools/time_dit.py, when python3 with torch is installed)`;

export async function benchCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, { json: { type: 'boolean' }, runs: { type: 'string' }, 'no-torch': { type: 'boolean' } }, benchUsage);
  const suite = flags.positionals[0];
  if (suite !== 'cpu') throw new UserError(`unknown benchmark suite "${suite ?? ''}": use cpu\n${benchUsage}`);
  await runCpuBench({ json: flags.bool('json'), runs: flags.integer('runs') ?? 10, torch: !flags.bool('no-torch') }, io);
}

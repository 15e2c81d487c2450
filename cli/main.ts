#!/usr/bin/env node
// The `ditto` command. Each subcommand lives in its own file; this one dispatches and turns user
// mistakes (UserError) into one line on stderr and exit code 1. Anything else is a bug and keeps its
// stack trace.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../core/errors.js';
import { analyzeCommand, analyzeUsage } from './analyze.js';
import { benchCommand, benchUsage } from './bench.js';
import { fitCommand, fitUsage } from './fit.js';
import { consoleIo, type CommandIo } from './flags.js';
import { calibrateCommand, calibrateUsage } from './calibrate.js';
import { convertCommand, convertUsage } from './convert.js';
import { decodeCommand, decodeUsage } from './decode.js';
import { demoCommand, demoUsage } from './demo.js';
import { forwardCommand, forwardUsage } from './forward.js';
import { sampleCommand, sampleUsage } from './sample.js';
import { searchCommand, searchUsage } from './search.js';
import { predictCommand, predictUsage } from './predict.js';
import { webCommand, webUsage } from './web.js';

const commands: Record<string, { run: (argv: string[], io: CommandIo) => Promise<void>; usage: string; summary: string }> = {
  demo: { run: demoCommand, usage: demoUsage, summary: 'the bundled MNIST model: full compute vs TaylorSeer vs L2P, table and image grid' },
  sample: { run: sampleCommand, usage: sampleUsage, summary: 'draw images from a class-conditional DiT, optionally with a forecasting cache' },
  forward: { run: forwardCommand, usage: forwardUsage, summary: 'one DiT forward pass from a file of inputs (check against PyTorch)' },
  convert: { run: convertCommand, usage: convertUsage, summary: 'a PyTorch .pt checkpoint to safetensors (read without running its pickle)' },
  decode: { run: decodeCommand, usage: decodeUsage, summary: 'latents to images with a Stable Diffusion VAE decoder' },
  predict: { run: predictCommand, usage: predictUsage, summary: 'roll a caching method (fora, taylorseer, foca, l2p) out over a saved trajectory' },
  calibrate: { run: calibrateCommand, usage: calibrateUsage, summary: 'sample full-compute trajectories and fit L2P for a model' },
  search: { run: searchCommand, usage: searchUsage, summary: 'choose which steps run the model for a caching method, from data' },
  fit: { run: fitCommand, usage: fitUsage, summary: 'learn an L2P weight matrix from full-compute trajectories' },
  analyze: { run: analyzeCommand, usage: analyzeUsage, summary: 'prove the forecasting formulas are linear predictors (exact arithmetic)' },
  web: { run: webCommand, usage: webUsage, summary: 'serve the page: the same engine on the browser\'s WebGPU, on 127.0.0.1' },
  bench: { run: benchCommand, usage: benchUsage, summary: 'benchmarks against peers measured in the same run' },
};

function help(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return ['usage: ditto <command> [flags]', '', 'commands:', ...rows, '', 'ditto <command> --help shows its flags.'].join('\n');
}

export async function main(argv: string[], io: CommandIo = consoleIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.print(help());
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    io.info(`ditto: unknown command "${name}": ditto --help lists the commands`);
    return 1;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.print(command.usage);
    return 0;
  }
  try {
    await command.run(rest, io);
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      io.info(`ditto ${name}: error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

// Run when invoked as a program (directly or through npm's bin link), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

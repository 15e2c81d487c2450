// The layers show in the tree, and imports run only downward:
//
//   cli > bench > predictors > models > core > kernels
//
// A module may import its own layer and any layer below it; a type-only import (`import type`) may
// point anywhere, since it leaves nothing in the compiled code. This test reads every source file's
// imports, so a new upward import fails here rather than in a review.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const LAYERS = ['kernels', 'core', 'models', 'predictors', 'bench', 'cli'];
const root = resolve(new URL('../..', import.meta.url).pathname);

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every value import (static or dynamic) of a file, as a path relative to the repository root. */
function valueImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
    if (!m[2]) specs.push(m[3]!);
  }
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(join(root, file, '..'), s)));
}

const layerOf = (path: string) => LAYERS.indexOf(path.split(sep)[0]!);

test('every top-level layer is a folder of the tree', () => {
  const top = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  for (const layer of [...LAYERS, 'test', 'tools', 'assets', 'docs']) assert.ok(top.includes(layer), `${layer}/ exists`);
  const kernelFolders = readdirSync(join(root, 'kernels'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.equal(kernelFolders.sort(), ['cpu', 'webgpu'], 'kernels/ holds one folder per backend');
});

test('imports run only downward (type-only imports aside)', () => {
  const upward: string[] = [];
  for (const layer of LAYERS) {
    for (const file of sources(layer)) {
      for (const target of valueImports(file)) {
        if (layerOf(target) > layerOf(file)) upward.push(`${file} -> ${target}`);
      }
    }
  }
  assert.equal(upward, []);
});

test.run();

// The page bundle: small, and free of Node. Each Node-only platform module has a .browser twin that
// exports the same names, and the bundle holds the twins, never the Node modules.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildPage } from '../../web/build.js';

const dist = fileURLToPath(new URL('../../', import.meta.url));

/** Every twin in dist/ (x.browser.js beside x.js), as the Node module's path relative to dist/. */
function twins(dir = dist, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'test' || e.name === 'page' ? [] : twins(dir, join(rel, e.name)))
    : e.name.endsWith('.browser.js') ? [join(rel, e.name.replace(/\.browser\.js$/, '.js'))] : []);
}

test('the engine bundle is under 300 KB minified and holds the browser twins, not the Node modules', async () => {
  const build = await buildPage();
  assert.ok(build.bytes < 300 * 1024, `${build.bytes} bytes`);
  const found = twins();
  assert.ok(found.length >= 6, found.join(', '));
  for (const node of found) assert.not.ok(build.inputs.includes(`dist/${node}`), `${node} is in the page bundle`);
  assert.ok(build.inputs.includes('dist/core/webgpu/gpu.browser.js'));
});

test('every twin exports the names of its Node module', async () => {
  for (const node of twins()) {
    const [a, b] = await Promise.all([import(join(dist, node)), import(join(dist, node.replace(/\.js$/, '.browser.js')))]);
    assert.equal(Object.keys(b).sort(), Object.keys(a).sort(), node);
  }
});

test.run();

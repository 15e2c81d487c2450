// Bundles the page: dist/web/main.js (compiled by tsc) and everything it imports, into one minified
// ES module, dist/web/page/ditto.js, beside a copy of web/index.html. `npm run build` (and `npm test`)
// run it after tsc; `ditto web` serves the result.
//
// The platform seam: a module with a `.browser.js` twin beside it (core/files, core/host,
// core/checkpoint, core/cpu/threads, core/webgpu/gpu, core/webgpu/polling) is Node's, and the page
// takes the twin instead. The twins export the same names (test/web/build.test.ts checks), so the rest
// of the engine is the same code in both places. Anything else that reaches for Node (a `node:`
// import, the `webgpu` package) fails the build instead of failing in the page.

import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile, Plugin } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository (or installed package) root: dist/web/ is two folders down. */
const root = resolve(here, '../..');
export const PAGE_DIR = join(root, 'dist', 'web', 'page');

/** Replaces each import of a Node module that has a .browser.js twin with the twin. */
const browserTwins: Plugin = {
  name: 'browser-twins',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const twin = resolve(args.resolveDir, args.path).replace(/\.js$/, '.browser.js');
      return existsSync(twin) ? { path: twin } : undefined;
    });
    build.onResolve({ filter: /^(node:|webgpu$)/ }, (args) => ({
      errors: [{ text: `${args.importer} imports ${args.path}, which a web page does not have: put it behind a module with a .browser.ts twin` }],
    }));
  },
};

export interface PageBuild {
  /** Minified bytes of dist/web/page/ditto.js. */
  bytes: number;
  /** Every module in the bundle, relative to the root (dist/...js). */
  inputs: string[];
}

export async function buildPage(): Promise<PageBuild> {
  const esbuild = await import('esbuild');
  mkdirSync(PAGE_DIR, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [join(here, 'main.js')],
    outfile: join(PAGE_DIR, 'ditto.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: root,
    plugins: [browserTwins],
  });
  copyFileSync(join(root, 'web', 'index.html'), join(PAGE_DIR, 'index.html'));
  const meta: Metafile = result.metafile;
  const out = Object.values(meta.outputs)[0];
  return { bytes: out.bytes, inputs: Object.keys(meta.inputs) };
}

// Run as a program by npm's build and test scripts.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildPage().then(
    (b) => console.log(`web page: dist/web/page/ditto.js, ${(b.bytes / 1024).toFixed(0)} KB from ${b.inputs.length} modules`),
    (e: Error) => {
      console.error(`web page build failed: ${e.message}`);
      process.exit(1);
    },
  );
}

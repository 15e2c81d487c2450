// `ditto web`: the URL as the first line, the page and the bundled models served with the headers of a
// cross-origin isolated page, nothing else served, and mistakes in one line.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectUserErrors } from './harness.js';

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

test('serves the page on 127.0.0.1 until stopped, printing the URL first', async () => {
  const child = spawn(process.execPath, [CLI, 'web', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const first = await new Promise<string>((done, fail) => {
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
        if (text.includes('\n')) done(text.split('\n')[0]);
      });
      child.on('exit', (code) => fail(new Error(`ditto web exited with ${code}`)));
    });
    assert.match(first, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(first);
    assert.is(page.status, 200);
    assert.is(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.is(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(await page.text(), /<script type="module" src="ditto.js">/);
    assert.is((await fetch(`${first}ditto.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
    const model = await fetch(`${first}models/mnist-dit.safetensors`);
    assert.is(model.status, 200);
    assert.ok((await model.arrayBuffer()).byteLength > 1_000_000);
    assert.is((await fetch(`${first}models/mnist-dit.l2p.json`)).status, 200);
    for (const path of ['models/../package.json', 'package.json', 'models/nope.safetensors']) assert.is((await fetch(`${first}${path}`)).status, 404, path);
  } finally {
    child.kill();
  }
});

test('mistakes end in one line', async () => {
  const busy = createServer();
  await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
  const port = String((busy.address() as { port: number }).port);
  try {
    await expectUserErrors([
      [['web', '--port', 'http'], /--port must be a number/],
      [['web', '--port', '70000'], /--port 70000 is more than 65535/],
      [['web', '--port', port], new RegExp(`--port ${port}: the port is in use`)],
      [['web', 'extra'], /unexpected argument "extra"/],
    ]);
  } finally {
    busy.close();
  }
});

test.run();

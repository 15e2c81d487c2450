import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readGrayPng, writePng } from '../../models/png.js';
import { grid, toImages } from '../../models/image.js';

test('a gray grid survives a PNG round trip byte for byte', () => {
  const samples = Float32Array.from({ length: 3 * 1 * 4 * 5 }, (_, i) => Math.sin(i) * 1.2);
  const images = toImages(samples, [3, 1, 4, 5]);
  const g = grid(images, 2);
  assert.equal([g.width, g.height], [2 * 7 + 2, 2 * 6 + 2]);
  const path = join(tmpdir(), `ditto-png-${process.pid}.png`);
  writePng(path, g);
  const back = readGrayPng(path);
  assert.equal([back.width, back.height], [g.width, g.height]);
  assert.equal(Array.from(back.data), Array.from(g.data));
});

test.run();

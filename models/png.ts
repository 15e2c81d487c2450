// Writing 8-bit images as PNG files (pngjs does the encoding), atomically like every output.

import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../core/files.js';
import type { Image8 } from './image.js';

export function writePng(path: string, image: Image8): void {
  const png = new PNG({ width: image.width, height: image.height });
  for (let p = 0; p < image.width * image.height; p++) {
    for (let ch = 0; ch < 3; ch++) png.data[p * 4 + ch] = image.data[p * image.channels + (image.channels === 3 ? ch : 0)];
    png.data[p * 4 + 3] = 255;
  }
  writeFileAtomic(path, PNG.sync.write(png, { colorType: image.channels === 3 ? 2 : 0 }));
}

/** Reads a PNG back as 8-bit grayscale (the first channel): how tests and metrics see saved images. */
export function readGrayPng(path: string): Image8 {
  const png = PNG.sync.read(readFileSync(path));
  const data = new Uint8Array(png.width * png.height);
  for (let p = 0; p < data.length; p++) data[p] = png.data[p * 4];
  return { width: png.width, height: png.height, channels: 1, data };
}

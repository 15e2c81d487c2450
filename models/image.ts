// From model space to pictures: samples [N, C, H, W] in the model's data range to 8-bit images, and
// images tiled into a grid. One channel gives grayscale, three give RGB.

export interface Image8 {
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB), interleaved row-major. */
  channels: 1 | 3;
  data: Uint8Array;
}

/**
 * Maps [lo, hi] to 0..255 with rounding and clipping, like torchvision's save_image
 * ((x - lo) / (hi - lo) * 255 + 0.5, clamped, truncated).
 */
export function toImages(samples: Float32Array, shape: readonly number[], range: [number, number] = [-1, 1]): Image8[] {
  const [n, c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new Error(`cannot turn ${c} channels into an image: need 1 (gray) or 3 (RGB)`);
  const [lo, hi] = range;
  const images: Image8[] = [];
  for (let b = 0; b < n; b++) {
    const data = new Uint8Array(h * w * c);
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) {
        const v = ((samples[(b * c + ch) * h * w + p] - lo) / (hi - lo)) * 255 + 0.5;
        data[p * c + ch] = Math.min(255, Math.max(0, Math.floor(v)));
      }
    }
    images.push({ width: w, height: h, channels: c, data });
  }
  return images;
}

/** Tiles equally sized images row by row into a grid with `cols` columns and a `gap`-pixel border. */
export function grid(images: readonly Image8[], cols: number, gap = 2, background = 0): Image8 {
  const { width: w, height: h, channels: c } = images[0];
  const rows = Math.ceil(images.length / cols);
  const width = cols * (w + gap) + gap, height = rows * (h + gap) + gap;
  const data = new Uint8Array(width * height * c).fill(background);
  images.forEach((img, i) => {
    const x0 = gap + (i % cols) * (w + gap), y0 = gap + Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++) data.set(img.data.subarray(y * w * c, (y + 1) * w * c), ((y0 + y) * width + x0) * c);
  });
  return { width, height, channels: c, data };
}

/** Nearest-neighbour enlargement by an integer factor, so 28-pixel digits are visible on a screen. */
export function upscale(image: Image8, k: number): Image8 {
  const { width: w, height: h, channels: c } = image;
  const data = new Uint8Array(w * k * h * k * c);
  for (let y = 0; y < h * k; y++) {
    for (let x = 0; x < w * k; x++) {
      const src = (Math.floor(y / k) * w + Math.floor(x / k)) * c;
      for (let ch = 0; ch < c; ch++) data[(y * w * k + x) * c + ch] = image.data[src + ch];
    }
  }
  return { width: w * k, height: h * k, channels: c, data };
}

// Image fidelity metrics for the caching benchmark, on 8-bit images, in floating point.
//
// PSNR = 10 log10(255^2 / MSE). The official L2P evaluation computes the MSE on uint8 arrays without a
// cast, so squared errors wrap modulo 256 and its PSNR is inflated; here every difference is a float.
//
// SSIM follows Wang et al. 2004 and their reference code (ssim_index.m): an 11x11 Gaussian window with
// sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, local statistics over the 'valid' region only (no padding),
// and the mean of the SSIM map. scikit-image's default (a 7x7 uniform window) gives different numbers.

export interface GrayImage {
  width: number;
  height: number;
  /** Row-major 8-bit values (0..255); any numeric array. */
  data: ArrayLike<number>;
}

function checkSameSize(a: GrayImage, b: GrayImage): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`images differ in size: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  }
}

/** Mean squared error in floating point. */
function mse(a: GrayImage, b: GrayImage): number {
  checkSameSize(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  return s / a.data.length;
}

/** PSNR in dB for 8-bit images; Infinity for identical images. */
export function psnr(a: GrayImage, b: GrayImage): number {
  const e = mse(a, b);
  return e === 0 ? Infinity : 10 * Math.log10((255 * 255) / e);
}

const WINDOW = 11;
const SIGMA = 1.5;

function gaussianWindow(): Float64Array {
  const w = new Float64Array(WINDOW * WINDOW);
  const c = (WINDOW - 1) / 2;
  let sum = 0;
  for (let y = 0; y < WINDOW; y++) {
    for (let x = 0; x < WINDOW; x++) {
      const v = Math.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * SIGMA * SIGMA));
      w[y * WINDOW + x] = v;
      sum += v;
    }
  }
  return w.map((v) => v / sum);
}

/** Mean SSIM (Gaussian 11x11, sigma 1.5, valid region) of two 8-bit grayscale images of at least 11x11. */
export function ssim(a: GrayImage, b: GrayImage): number {
  checkSameSize(a, b);
  const { width: W, height: H } = a;
  if (W < WINDOW || H < WINDOW) throw new Error(`SSIM needs images of at least ${WINDOW}x${WINDOW}, got ${W}x${H}`);
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
  const win = gaussianWindow();
  let total = 0;
  for (let y0 = 0; y0 + WINDOW <= H; y0++) {
    for (let x0 = 0; x0 + WINDOW <= W; x0++) {
      let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (let y = 0; y < WINDOW; y++) {
        for (let x = 0; x < WINDOW; x++) {
          const w = win[y * WINDOW + x];
          const i = (y0 + y) * W + x0 + x;
          const va = a.data[i], vb = b.data[i];
          ma += w * va; mb += w * vb;
          saa += w * va * va; sbb += w * vb * vb; sab += w * va * vb;
        }
      }
      const varA = saa - ma * ma, varB = sbb - mb * mb, cov = sab - ma * mb;
      total += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (varA + varB + C2));
    }
  }
  return total / ((W - WINDOW + 1) * (H - WINDOW + 1));
}

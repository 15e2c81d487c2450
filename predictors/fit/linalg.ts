// The little dense linear algebra fitting needs, on small symmetric positive (semi)definite matrices
// (steps x steps), in float64: a Cholesky factorisation and the two triangular solves.
//
// One fact does a lot of work here: the Cholesky factor of a leading block A[:t,:t] is the leading
// block L[:t,:t] of A's factor. So a single factorisation of the Gram matrix serves all S rows of L2P's
// least-squares problem, and its diagonal gives the projection residuals of the analyzer:
// L[t][t]^2 = ||F(t) - Proj_{span F(0..t-1)} F(t)||^2 (Gram-Schmidt, done on the Gram matrix).

/**
 * The elimination both factorisations below share, column by column: `pivot(j, d)` turns what is left
 * of A[j][j] (A[j][j] minus the squares already in row j of L) into L[j][j], a positive number, 0 to
 * leave column j empty, or null to give up; the column below the diagonal follows from it.
 */
function eliminate(a: Float64Array, n: number, pivot: (j: number, d: number) => number | null): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! ** 2;
    const ljj = pivot(j, d);
    if (ljj === null) return null;
    if (ljj === 0) continue;
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Row-major n x n lower-triangular factor with A = L L^T, or null if a pivot is not positive. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  return eliminate(a, n, (_, d) => (d > 0 ? Math.sqrt(d) : null));
}

/** Solves (L L^T) x = b using the leading t x t block of the n x n factor L. */
export function choleskySolve(l: Float64Array, n: number, b: ArrayLike<number>, t = b.length): Float64Array {
  const y = new Float64Array(t);
  for (let i = 0; i < t; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!;
    y[i] = s / l[i * n + i]!;
  }
  const x = new Float64Array(t);
  for (let i = t - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < t; k++) s -= l[k * n + i]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}

/**
 * Cholesky of A + ridge * mean(diag A) * I. The ridge keeps nearly collinear steps (neighbouring
 * outputs of a sampler are) from blowing the solve up; if a pivot still fails, the ridge grows 100x.
 */
export function regularisedCholesky(a: Float64Array, n: number, ridge: number): { l: Float64Array; ridge: number; lambda: number } {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i]!;
  const scale = trace > 0 ? trace / n : 1;
  for (let r = ridge, tries = 0; tries < 12; r = r === 0 ? 1e-14 : r * 100, tries++) {
    const lambda = r * scale;
    const shifted = Float64Array.from(a);
    for (let i = 0; i < n; i++) shifted[i * n + i] += lambda;
    const l = cholesky(shifted, n);
    if (l) return { l, ridge: r, lambda };
  }
  throw new Error('regularisedCholesky: the matrix is not positive semidefinite');
}

/** The submatrix A[idx, idx] of a row-major n x n matrix. */
export function submatrix(a: Float64Array, n: number, idx: readonly number[]): Float64Array {
  const m = idx.length;
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) out[i * m + j] = a[idx[i]! * n + idx[j]!]!;
  return out;
}

/**
 * Gram-Schmidt residuals from a Gram matrix: r[t] = ||v_t - Proj_{span v_0..v_{t-1}} v_t||, via a
 * Cholesky that tolerates a singular matrix (a vector already in the span gets residual 0 and is
 * skipped, as Gram-Schmidt would).
 */
export function projectionResiduals(g: Float64Array, n: number): Float64Array {
  const res = new Float64Array(n);
  eliminate(g, n, (j, d) => {
    // Below this the residual is rounding noise of the subtraction, not signal: v_j adds no new
    // direction, and column j of L stays 0.
    res[j] = d <= g[j * n + j]! * 1e-13 ? 0 : Math.sqrt(d);
    return res[j]!;
  });
  return res;
}

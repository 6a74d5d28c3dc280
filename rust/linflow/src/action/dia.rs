//! Banded matrices in diagonal (DIA) storage: the layout of finite-difference operators, whose
//! products run as contiguous, vectorizable sweeps along the diagonals.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, CowArray, Ix2};
use rayon::prelude::*;

use super::csr::{CsrIndex, CsrMatrix};
use super::operator::{LinearOperator, default_taylor_term, exact_zeros_product, max_modulus};
use crate::error::{Error, Result};
use crate::scalar::{RealScalar, Scalar};

/// A square `n x n` matrix stored by diagonals, in scipy's `dia_array` layout: diagonal `d` has
/// offset `offsets[d]` (0 the main diagonal, positive above it) and
/// `A[j - offsets[d], j] = data[d, j]` for every column `j` whose row `j - offsets[d]` is in
/// `0..n` (other entries of `data` are ignored; columns past the width of `data` are zero).
///
/// # Example
///
/// ```
/// use linflow::{expm_multiply, CsrMatrix, DiaMatrix};
/// use ndarray::{array, Array2};
///
/// // The second difference [[-2, 1, 0], [1, -2, 1], [0, 1, -2]] by diagonals.
/// let data = array![[1.0_f64, 1.0, 1.0], [-2.0, -2.0, -2.0], [1.0, 1.0, 1.0]];
/// let a = DiaMatrix::new(3, vec![-1, 0, 1], data.view())?;
/// let x = expm_multiply(&a, array![[1.0], [0.0], [-1.0]].view(), 0.5)?;
/// // [1, 0, -1] is an eigenvector with eigenvalue -2.
/// assert!((x[[0, 0]] - (-1f64).exp()).abs() < 1e-15 && x[[1, 0]].abs() < 1e-15);
///
/// // A banded CSR matrix converts: `CsrMatrix::banded`.
/// let csr = CsrMatrix::new((2, 2), &[0usize, 2, 4], &[0usize, 1, 0, 1], &[-2.0, 1.0, 1.0, -2.0])?;
/// assert!(csr.banded(4).is_some());
/// # Ok::<(), linflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DiaMatrix<'a, S: Scalar> {
    n: usize,
    offsets: Vec<isize>,
    data: CowArray<'a, S, Ix2>,
    /// The value of each diagonal when all its entries are equal (constant-coefficient
    /// stencils): products then read only the vectors, not the diagonals.
    constant: Option<Vec<S>>,
}

/// Rows per chunk of the fused sweeps (the accumulator stays in L1).
const CHUNK: usize = 256;
/// Above this many stored diagonal entries times columns, sweeps run on all threads.
const PARALLEL_WORK: usize = 1 << 18;

impl<'a, S: Scalar> DiaMatrix<'a, S> {
    /// Wraps the diagonals `data` (shape `(offsets.len(), width)`) of an `n x n` matrix.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `data` does not have one row per offset,
    /// [`Error::InvalidSparse`] if an offset repeats or is out of `-(n-1)..=n-1`, [`Error::NonFinite`] if a stored entry inside the matrix is NaN or
    /// infinite.
    pub fn new(n: usize, offsets: Vec<isize>, data: ArrayView2<'a, S>) -> Result<Self> {
        Self::checked(n, offsets, CowArray::from(data))
    }

    fn checked(n: usize, offsets: Vec<isize>, data: CowArray<'a, S, Ix2>) -> Result<Self> {
        if data.nrows() != offsets.len() {
            return Err(Error::ShapeMismatch {
                expected: vec![offsets.len(), data.ncols()],
                found: data.shape().to_vec(),
            });
        }
        let limit = n as isize;
        for (d, &off) in offsets.iter().enumerate() {
            if off <= -limit.max(1) || off >= limit.max(1) {
                return Err(Error::InvalidSparse {
                    reason: format!("offset {off} is outside the {n} x {n} matrix"),
                });
            }
            if offsets[..d].contains(&off) {
                return Err(Error::InvalidSparse {
                    reason: format!("offset {off} appears twice"),
                });
            }
        }
        let mut m = Self {
            n,
            offsets,
            data,
            constant: None,
        };
        let mut constant = Some(Vec::with_capacity(m.offsets.len()));
        for d in 0..m.offsets.len() {
            let (lo, hi) = m.rows(d);
            let off = m.offsets[d];
            let entry = |i: usize| m.data[[d, (i as isize + off) as usize]];
            if !(lo..hi).all(|i| entry(i).is_finite()) {
                return Err(Error::NonFinite);
            }
            let first = if lo < hi { entry(lo) } else { S::zero() };
            match constant.as_mut() {
                Some(c) if (lo..hi).all(|i| entry(i) == first) => c.push(first),
                _ => constant = None,
            }
        }
        m.constant = constant;
        Ok(m)
    }

    /// The rows `lo..hi` where diagonal `d` has stored entries.
    #[inline]
    fn rows(&self, d: usize) -> (usize, usize) {
        let off = self.offsets[d];
        let width = self.data.ncols().min(self.n) as isize;
        let lo = (-off).max(0);
        let hi = (self.n as isize).min(width - off).max(lo);
        (lo as usize, hi as usize)
    }

    /// `acc[r] = (A x)_(start + r)` (or `(A^* x)_(start + r)` with `adjoint`) for the rows
    /// `start..start + acc.len()` of a single column `x`.
    fn rows_product(&self, start: usize, x: &[S], acc: &mut [S], adjoint: bool) {
        acc.iter_mut().for_each(|a| *a = S::zero());
        let end = start + acc.len();
        for d in 0..self.offsets.len() {
            let (lo, hi) = self.rows(d);
            let off = self.offsets[d];
            // A[i, i + off] = data[d, i + off] on rows lo..hi; A^*[j, j - off] = conj(data[d, j])
            // on rows j = i + off.
            let (lo, hi, shift) = if adjoint {
                (lo as isize + off, hi as isize + off, -off)
            } else {
                (lo as isize, hi as isize, off)
            };
            let (lo, hi) = ((lo as usize).max(start), (hi as usize).min(end));
            if lo >= hi {
                continue;
            }
            let at = |i: usize| (i as isize + shift) as usize;
            let column = |i: usize| if adjoint { i } else { at(i) };
            let diag = self.data.slice(ndarray::s![d, column(lo)..column(hi)]);
            let xs = &x[at(lo)..at(hi)];
            let out = &mut acc[lo - start..hi - start];
            match (diag.as_slice(), adjoint) {
                (Some(ds), false) => {
                    for ((o, &v), &xv) in out.iter_mut().zip(ds).zip(xs) {
                        *o += v * xv;
                    }
                }
                (Some(ds), true) => {
                    for ((o, &v), &xv) in out.iter_mut().zip(ds).zip(xs) {
                        *o += v.conj() * xv;
                    }
                }
                (None, _) => {
                    for ((o, &v), &xv) in out.iter_mut().zip(diag.iter()).zip(xs) {
                        let v = if adjoint { v.conj() } else { v };
                        *o += v * xv;
                    }
                }
            }
        }
    }

    /// `y = A x` or `y = A^* x`, column by column through contiguous copies.
    fn product(&self, x: ArrayView2<S>, mut y: ArrayViewMut2<S>, adjoint: bool) {
        let mut xs = vec![S::zero(); self.n];
        let mut acc = vec![S::zero(); self.n];
        for c in 0..x.ncols() {
            xs.iter_mut().zip(x.column(c)).for_each(|(d, &v)| *d = v);
            self.rows_product(0, &xs, &mut acc, adjoint);
            y.column_mut(c)
                .iter_mut()
                .zip(&acc)
                .for_each(|(o, &v)| *o = v);
        }
    }

    /// `y = coeff (A x - shift x)` on the rows `s0..s0 + y.len()`, and `f += y` with `f`, in one
    /// pass, returning `(max |y_i|, max |f_i|)`, when every diagonal has entries on all of these
    /// rows and there are at most 8 diagonals (the common finite-difference case); `None`,
    /// doing nothing, otherwise.
    #[inline(always)]
    fn fused_rows(
        &self,
        s0: usize,
        x: &[S],
        coeff: S,
        shift: S,
        y: &mut [S],
        f: Option<&mut [S]>,
    ) -> Option<(f64, f64)> {
        match self.offsets.len() {
            1 => self.fused_rows_n::<1>(s0, x, coeff, shift, y, f),
            2 => self.fused_rows_n::<2>(s0, x, coeff, shift, y, f),
            3 => self.fused_rows_n::<3>(s0, x, coeff, shift, y, f),
            4 => self.fused_rows_n::<4>(s0, x, coeff, shift, y, f),
            5 => self.fused_rows_n::<5>(s0, x, coeff, shift, y, f),
            6 => self.fused_rows_n::<6>(s0, x, coeff, shift, y, f),
            7 => self.fused_rows_n::<7>(s0, x, coeff, shift, y, f),
            8 => self.fused_rows_n::<8>(s0, x, coeff, shift, y, f),
            _ => None,
        }
    }

    #[inline(always)]
    fn fused_rows_n<const N: usize>(
        &self,
        s0: usize,
        x: &[S],
        coeff: S,
        shift: S,
        y: &mut [S],
        f: Option<&mut [S]>,
    ) -> Option<(f64, f64)> {
        let len = y.len();
        let all = self.data.as_slice()?;
        let width = self.data.ncols();
        let mut diags: [&[S]; N] = [&[]; N];
        let mut xsh: [&[S]; N] = [&[]; N];
        for d in 0..N {
            let (lo, hi) = self.rows(d);
            if s0 < lo || s0 + len > hi {
                return None;
            }
            let col = (s0 as isize + self.offsets[d]) as usize;
            diags[d] = &all[d * width + col..d * width + col + len];
            xsh[d] = &x[col..col + len];
        }
        let x0 = &x[s0..s0 + len];
        // y_r = coeff ((A x)_r - shift x_r) and f_r += y_r in one loop, monomorphized for
        // constant diagonals (read as scalars) and stored ones. The norms follow as two
        // vectorized passes over the chunk.
        match self.constant.as_deref() {
            Some(c) => {
                let mut cs = [S::zero(); N];
                cs.copy_from_slice(c);
                Some(fused_loop(y, f, |r| {
                    let mut acc = S::zero();
                    for d in 0..N {
                        // SAFETY: every slice of `xsh` has exactly `len` entries and r < len.
                        acc += cs[d] * unsafe { *xsh[d].get_unchecked(r) };
                    }
                    coeff * (acc - shift * x0[r])
                }))
            }
            None => Some(fused_loop(y, f, |r| {
                let mut acc = S::zero();
                for d in 0..N {
                    // SAFETY: every slice of `diags` and `xsh` has exactly `len` entries (sliced
                    // above) and r < len.
                    acc += unsafe { *diags[d].get_unchecked(r) * *xsh[d].get_unchecked(r) };
                }
                coeff * (acc - shift * x0[r])
            })),
        }
    }

    /// One Taylor term on the rows `start..start + ys.len()` (see `taylor_term`), returning
    /// the two norms; with AVX2 where the processor has it (about a third faster).
    fn sweep(
        &self,
        start: usize,
        xs: &[S],
        coeff: S,
        shift: S,
        ys: &mut [S],
        fs: Option<&mut [S]>,
    ) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2 (checked just above).
            return unsafe { self.sweep_avx2(start, xs, coeff, shift, ys, fs) };
        }
        self.sweep_body(start, xs, coeff, shift, ys, fs)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sweep_avx2(
        &self,
        start: usize,
        xs: &[S],
        coeff: S,
        shift: S,
        ys: &mut [S],
        fs: Option<&mut [S]>,
    ) -> (f64, f64) {
        self.sweep_body(start, xs, coeff, shift, ys, fs)
    }

    /// Chunks of rows: one fused pass where every diagonal covers the chunk; elsewhere the
    /// diagonal products into an accumulator, then `next = coeff (A x - shift x)`,
    /// `sum += next` and both norms as separate loops.
    #[inline(always)]
    fn sweep_body(
        &self,
        start: usize,
        xs: &[S],
        coeff: S,
        shift: S,
        ys: &mut [S],
        fs: Option<&mut [S]>,
    ) -> (f64, f64) {
        // The accumulator of the boundary chunks (not zeroed on every call: most chunks are fused).
        let mut acc: Vec<S> = Vec::new();
        let (mut nn, mut nf) = (0.0f64, 0.0f64);
        let mut fs = fs;
        for (c, y) in ys.chunks_mut(CHUNK).enumerate() {
            let s0 = start + c * CHUNK;
            let f = fs
                .as_deref_mut()
                .map(|fs| &mut fs[c * CHUNK..c * CHUNK + y.len()]);
            if let Some((a, b)) = self.fused_rows(s0, xs, coeff, shift, y, f) {
                nn = nn.max(a);
                nf = nf.max(b);
                continue;
            }
            acc.resize(y.len(), S::zero());
            let acc = &mut acc[..y.len()];
            self.rows_product(s0, xs, acc, false);
            let x = &xs[s0..s0 + y.len()];
            for ((y, &a), &xv) in y.iter_mut().zip(acc.iter()).zip(x) {
                *y = coeff * (a - shift * xv);
            }
            nn = nn.max(max_modulus(y));
            if let Some(fs) = fs.as_deref_mut() {
                let f = &mut fs[c * CHUNK..c * CHUNK + y.len()];
                for (f, &v) in f.iter_mut().zip(y.iter()) {
                    *f += v;
                }
                nf = nf.max(max_modulus(f));
            }
        }
        (nn, nf)
    }

    fn parallel(&self, k: usize) -> bool {
        self.n
            .saturating_mul(self.offsets.len())
            .saturating_mul(k.max(1))
            >= PARALLEL_WORK
            && rayon::current_num_threads() > 1
    }
}

/// `y_r = row(r)` and, with `f`, `f_r += y_r`; returns `(max |y_r|, max |f_r|)`.
#[inline(always)]
fn fused_loop<S: Scalar>(y: &mut [S], f: Option<&mut [S]>, row: impl Fn(usize) -> S) -> (f64, f64) {
    match f {
        Some(f) => {
            let f = &mut f[..y.len()];
            for (r, (out, fr)) in y.iter_mut().zip(f.iter_mut()).enumerate() {
                let v = row(r);
                *out = v;
                *fr += v;
            }
            (max_modulus(y), max_modulus(f))
        }
        None => {
            for (r, out) in y.iter_mut().enumerate() {
                *out = row(r);
            }
            (max_modulus(y), 0.0)
        }
    }
}

impl<S: Scalar, I: CsrIndex> CsrMatrix<'_, S, I> {
    /// The same square matrix in diagonal storage when its entries lie on at most
    /// `max_diagonals` diagonals and the diagonals hold at most about twice the stored entries
    /// (so products cost no more): `None` otherwise. Copies the entries once (duplicates add up).
    pub fn banded(&self, max_diagonals: usize) -> Option<DiaMatrix<'static, S>> {
        let (n, cols) = self.shape();
        if n != cols || n == 0 {
            return None;
        }
        let mut offsets: Vec<isize> = Vec::new();
        for (i, j, _) in self.entries() {
            let off = j as isize - i as isize;
            if !offsets.contains(&off) {
                if offsets.len() == max_diagonals {
                    return None;
                }
                offsets.push(off);
            }
        }
        offsets.sort_unstable();
        if offsets.len().saturating_mul(n) > 2 * self.nnz() + n {
            return None;
        }
        let mut data = Array2::zeros((offsets.len(), n));
        for (i, j, v) in self.entries() {
            let d = offsets
                .binary_search(&(j as isize - i as isize))
                .expect("collected above");
            data[[d, j]] += v;
        }
        DiaMatrix::checked(n, offsets, CowArray::from(data)).ok()
    }
}

impl<S: Scalar> LinearOperator<S> for DiaMatrix<'_, S> {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.n)
    }

    fn apply(&self, x: ArrayView2<S>, y: ArrayViewMut2<S>) -> Result<()> {
        self.product(x, y, false);
        Ok(())
    }

    fn apply_adjoint(&self, x: ArrayView2<S>, y: ArrayViewMut2<S>) -> Result<()> {
        self.product(x, y, true);
        Ok(())
    }

    fn apply_shifted_exact_zeros(
        &self,
        shift: S,
        x: ArrayView2<S>,
        y: ArrayViewMut2<S>,
    ) -> Result<()> {
        let entries = (0..self.offsets.len()).flat_map(|d| {
            let (lo, hi) = self.rows(d);
            let off = self.offsets[d];
            (lo..hi).map(move |i| {
                let j = (i as isize + off) as usize;
                (i, j, self.data[[d, j]])
            })
        });
        exact_zeros_product(entries, shift, x, y);
        Ok(())
    }

    fn trace(&self) -> Option<S> {
        let mut t = S::zero();
        if let Some(d) = self.offsets.iter().position(|&o| o == 0) {
            let (lo, hi) = self.rows(d);
            for i in lo..hi {
                t += self.data[[d, i]];
            }
        }
        Some(t)
    }

    fn norm1_shifted(&self, shift: S) -> Option<f64> {
        let mut cols = vec![0.0f64; self.n];
        let mut diag = vec![S::zero(); self.n];
        for d in 0..self.offsets.len() {
            let (lo, hi) = self.rows(d);
            let off = self.offsets[d];
            for i in lo..hi {
                let j = (i as isize + off) as usize;
                if off == 0 {
                    diag[j] += self.data[[d, j]];
                } else {
                    cols[j] += self.data[[d, j]].modulus().to_f64();
                }
            }
        }
        for (c, d) in cols.iter_mut().zip(diag) {
            *c += (d - shift).modulus().to_f64();
        }
        Some(cols.into_iter().fold(0.0, f64::max))
    }

    fn taylor_term(
        &self,
        coeff: S,
        shift: S,
        prev: ArrayView2<S>,
        next: ArrayViewMut2<S>,
        sum: Option<ArrayViewMut2<S>>,
    ) -> Result<(f64, f64)> {
        let (Some(xs), true, true) = (
            prev.as_slice(),
            prev.ncols() == 1,
            next.is_standard_layout() && sum.as_ref().is_none_or(|f| f.is_standard_layout()),
        ) else {
            return default_taylor_term(self, coeff, shift, prev, next, sum);
        };
        let mut next = next;
        let ys = next.as_slice_mut().expect("standard layout");
        let mut sum = sum;
        let fs = sum
            .as_mut()
            .map(|f| f.as_slice_mut().expect("standard layout"));
        let sweep = |start: usize, ys: &mut [S], fs: Option<&mut [S]>| {
            self.sweep(start, xs, coeff, shift, ys, fs)
        };
        if self.parallel(1) {
            let block = (self.n / (4 * rayon::current_num_threads())).max(CHUNK);
            let join = |a: (f64, f64), b: (f64, f64)| (a.0.max(b.0), a.1.max(b.1));
            Ok(match fs {
                Some(fs) => ys
                    .par_chunks_mut(block)
                    .zip(fs.par_chunks_mut(block))
                    .enumerate()
                    .map(|(b, (y, f))| sweep(b * block, y, Some(f)))
                    .reduce(|| (0.0, 0.0), join),
                None => ys
                    .par_chunks_mut(block)
                    .enumerate()
                    .map(|(b, y)| sweep(b * block, y, None))
                    .reduce(|| (0.0, 0.0), join),
            })
        } else {
            Ok(sweep(0, ys, fs))
        }
    }
}

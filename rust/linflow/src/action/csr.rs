//! Compressed sparse row (CSR) matrices as linear operators, borrowed from the caller's arrays.

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::operator::{LinearOperator, default_taylor_term, exact_zeros_product};
use crate::error::{Error, Result};
use crate::scalar::{RealScalar, Scalar};

mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
    impl Sealed for usize {}
}

/// An index type of CSR arrays: `i32`, `i64` (scipy's choices), `u32`, `u64` or `usize`.
pub trait CsrIndex: Copy + Send + Sync + sealed::Sealed {
    /// The value as an index, `None` if it is negative or does not fit.
    fn to_index(self) -> Option<usize>;
    /// The value as an index, for values already checked by [`CsrIndex::to_index`].
    #[doc(hidden)]
    fn index(self) -> usize;
}

macro_rules! impl_index {
    ($($t:ty),*) => {$(
        impl CsrIndex for $t {
            #[inline]
            fn to_index(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
            #[inline(always)]
            fn index(self) -> usize {
                self as usize
            }
        }
    )*};
}
impl_index!(i32, i64, u32, u64, usize);

/// A sparse matrix in compressed sparse row form, borrowing its three arrays (no copy): the
/// entries of row `i` are `data[k]` at columns `indices[k]` for `k` in `indptr[i]..indptr[i+1]`.
/// Unsorted and duplicate column indices are allowed (duplicates add up), as in scipy.
///
/// # Example
///
/// ```
/// use linflow::{expm_multiply, CsrMatrix};
/// use ndarray::array;
///
/// // [[-1, 1], [0, -2]]
/// let (indptr, indices, data) = ([0_i32, 2, 3], [0_i32, 1, 1], [-1.0_f64, 1.0, -2.0]);
/// let a = CsrMatrix::new((2, 2), &indptr, &indices, &data)?;
/// let x = expm_multiply(&a, array![[0.0], [1.0]].view(), 1.0)?;
/// // exp(A) e_2 = [e^-1 - e^-2, e^-2]
/// assert!((x[[0, 0]] - ((-1f64).exp() - (-2f64).exp())).abs() < 1e-15);
/// assert!((x[[1, 0]] - (-2f64).exp()).abs() < 1e-16);
/// # Ok::<(), linflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CsrMatrix<'a, S: Scalar, I: CsrIndex = usize> {
    rows: usize,
    cols: usize,
    indptr: &'a [I],
    indices: &'a [I],
    data: &'a [S],
}

/// Above this many stored entries times columns, products split the rows across threads.
const PARALLEL_WORK: usize = 1 << 17;

impl<'a, S: Scalar, I: CsrIndex> CsrMatrix<'a, S, I> {
    /// Checks and wraps the arrays of a `rows x cols` CSR matrix.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSparse`] unless `indptr` has `rows + 1` non-decreasing entries starting at 0
    /// with `indptr[rows]` at most the lengths of `indices` and `data`, and every column index
    /// in use is in `0..cols`; [`Error::NonFinite`] if an entry in use is NaN or infinite.
    pub fn new(
        shape: (usize, usize),
        indptr: &'a [I],
        indices: &'a [I],
        data: &'a [S],
    ) -> Result<Self> {
        let (rows, cols) = shape;
        let invalid = |reason: String| Err(Error::InvalidSparse { reason });
        if indptr.len() != rows + 1 {
            return invalid(format!(
                "indptr has {} entries, expected rows + 1 = {}",
                indptr.len(),
                rows + 1
            ));
        }
        let mut prev = 0usize;
        for (i, p) in indptr.iter().enumerate() {
            let Some(p) = p.to_index() else {
                return invalid(format!("indptr[{i}] is negative"));
            };
            if (i == 0 && p != 0) || p < prev {
                return invalid("indptr must start at 0 and be non-decreasing".to_string());
            }
            prev = p;
        }
        if prev > indices.len() || prev > data.len() {
            return invalid(format!(
                "indptr ends at {prev} but indices has {} and data {} entries",
                indices.len(),
                data.len()
            ));
        }
        if let Some(k) = indices[..prev]
            .iter()
            .position(|j| j.to_index().is_none_or(|j| j >= cols))
        {
            return invalid(format!(
                "column index at position {k} is out of range 0..{cols}"
            ));
        }
        if !data[..prev].iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite);
        }
        Ok(Self {
            rows,
            cols,
            indptr,
            indices,
            data,
        })
    }

    /// The number of stored entries.
    pub fn nnz(&self) -> usize {
        self.range(self.rows).start
    }

    /// Every stored entry as `(row, column, value)`.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (usize, usize, S)> + '_ {
        (0..self.rows).flat_map(move |i| {
            self.range(i)
                .map(move |p| (i, self.indices[p].index(), self.data[p]))
        })
    }

    /// The entries of row `i`: positions `indptr[i]..indptr[i + 1]` (`i = rows` gives the empty
    /// range at the end).
    #[inline]
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        // Checked in `new`: every indptr entry is a valid, non-decreasing position.
        let end = self.indptr[(i + 1).min(self.rows)].index();
        let start = if i == self.rows {
            end
        } else {
            self.indptr[i].index()
        };
        start..end
    }

    /// Whether a product with `k` columns is worth splitting across threads.
    fn parallel(&self, k: usize) -> bool {
        self.nnz().saturating_mul(k.max(1)) >= PARALLEL_WORK && rayon::current_num_threads() > 1
    }

    /// Row `i` of `A x` (x row-major with `k` columns) into `acc`.
    #[inline]
    fn row_product(&self, i: usize, x: &[S], k: usize, acc: &mut [S]) {
        acc.iter_mut().for_each(|a| *a = S::zero());
        for p in self.range(i) {
            let v = self.data[p];
            let j = self.indices[p].index();
            let xr = &x[j * k..j * k + k];
            for (a, &xv) in acc.iter_mut().zip(xr) {
                *a += v * xv;
            }
        }
    }

    /// Row `i` of `A x` for a single column `x` of `cols` entries.
    #[inline(always)]
    fn row_dot(&self, i: usize, x: &[S]) -> S {
        assert!(x.len() >= self.cols);
        let r = self.range(i);
        let (data, indices) = (&self.data[r.clone()], &self.indices[r]);
        let mut acc = S::zero();
        for (&v, &j) in data.iter().zip(indices) {
            // SAFETY: `new` checked every index in use to be in 0..cols, and x.len() >= cols.
            acc += v * unsafe { *x.get_unchecked(j.index()) };
        }
        acc
    }
}

/// A block as a row-major slice (copied only if the caller's view is not row-major).
fn row_major<'a, S: Scalar>(x: &'a ArrayView2<'_, S>) -> std::borrow::Cow<'a, [S]> {
    match x.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(x.iter().cloned().collect()),
    }
}

impl<S: Scalar, I: CsrIndex> LinearOperator<S> for CsrMatrix<'_, S, I> {
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    fn apply(&self, x: ArrayView2<S>, mut y: ArrayViewMut2<S>) -> Result<()> {
        let k = x.ncols();
        let xs = row_major(&x);
        let xs: &[S] = &xs;
        let row = |(i, mut out): (usize, ndarray::ArrayViewMut1<S>)| {
            if k == 1 {
                out[0] = self.row_dot(i, xs);
            } else {
                let mut acc = vec![S::zero(); k];
                self.row_product(i, xs, k, &mut acc);
                out.iter_mut().zip(&acc).for_each(|(o, &a)| *o = a);
            }
        };
        if self.parallel(k) {
            y.outer_iter_mut().into_par_iter().enumerate().for_each(row);
        } else {
            y.outer_iter_mut().enumerate().for_each(row);
        }
        Ok(())
    }

    fn apply_adjoint(&self, x: ArrayView2<S>, mut y: ArrayViewMut2<S>) -> Result<()> {
        // y = A^* x: scatter conj(a_ij) x_i into row j of y.
        y.fill(S::zero());
        for i in 0..self.rows {
            for p in self.range(i) {
                let v = self.data[p].conj();
                let j = self.indices[p].index();
                for c in 0..x.ncols() {
                    let add = v * x[[i, c]];
                    y[[j, c]] += add;
                }
            }
        }
        Ok(())
    }

    fn apply_shifted_exact_zeros(
        &self,
        shift: S,
        x: ArrayView2<S>,
        y: ArrayViewMut2<S>,
    ) -> Result<()> {
        exact_zeros_product(self.entries(), shift, x, y);
        Ok(())
    }

    fn trace(&self) -> Option<S> {
        let mut t = S::zero();
        for i in 0..self.rows.min(self.cols) {
            for p in self.range(i) {
                if self.indices[p].to_index() == Some(i) {
                    t += self.data[p];
                }
            }
        }
        Some(t)
    }

    fn norm1_shifted(&self, shift: S) -> Option<f64> {
        // Off-diagonal moduli by column; diagonal entries summed first (duplicates add up).
        let mut cols = vec![0.0f64; self.cols];
        let mut diag = vec![S::zero(); self.rows.min(self.cols)];
        for i in 0..self.rows {
            for p in self.range(i) {
                let j = self.indices[p].index();
                if i == j {
                    diag[j] += self.data[p];
                } else {
                    cols[j] += self.data[p].modulus().to_f64();
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
        mut next: ArrayViewMut2<S>,
        sum: Option<ArrayViewMut2<S>>,
    ) -> Result<(f64, f64)> {
        let k = prev.ncols();
        let (Some(xs), Some(ys)) = (prev.as_slice(), next.as_slice_mut()) else {
            // Not row-major: the generic two-pass version.
            return default_taylor_term(self, coeff, shift, prev, next, sum);
        };
        let mut sum = sum;
        let fs = match sum.as_mut() {
            Some(f) => match f.as_slice_mut() {
                Some(s) => Some(s),
                None => return default_taylor_term(self, coeff, shift, prev, next, sum),
            },
            None => None,
        };
        // One sweep: next_i = coeff (A x - shift x)_i, sum_i += next_i, and both row norms.
        let sweep = |start: usize, ys: &mut [S], fs: Option<&mut [S]>| -> (f64, f64) {
            let (mut nn, mut nf) = (0.0f64, 0.0f64);
            if k == 1 {
                match fs {
                    Some(fs) => {
                        for (r, (y, f)) in ys.iter_mut().zip(fs.iter_mut()).enumerate() {
                            let i = start + r;
                            let v = coeff * (self.row_dot(i, xs) - shift * xs[i]);
                            *y = v;
                            *f += v;
                            let (mv, mf) = (v.modulus().to_f64(), f.modulus().to_f64());
                            if mv > nn {
                                nn = mv;
                            }
                            if mf > nf {
                                nf = mf;
                            }
                        }
                    }
                    None => {
                        for (r, y) in ys.iter_mut().enumerate() {
                            let i = start + r;
                            let v = coeff * (self.row_dot(i, xs) - shift * xs[i]);
                            *y = v;
                            let mv = v.modulus().to_f64();
                            if mv > nn {
                                nn = mv;
                            }
                        }
                    }
                }
            } else {
                let mut acc = vec![S::zero(); k];
                let rows = ys.len() / k;
                let mut fs = fs;
                for r in 0..rows {
                    let i = start + r;
                    self.row_product(i, xs, k, &mut acc);
                    let (mut sn, mut sf) = (0.0, 0.0);
                    for c in 0..k {
                        let v = coeff * (acc[c] - shift * xs[i * k + c]);
                        ys[r * k + c] = v;
                        sn += v.modulus().to_f64();
                        if let Some(fs) = fs.as_deref_mut() {
                            fs[r * k + c] += v;
                            sf += fs[r * k + c].modulus().to_f64();
                        }
                    }
                    nn = nn.max(sn);
                    nf = nf.max(sf);
                }
            }
            (nn, nf)
        };
        if self.parallel(k) {
            // Row blocks in parallel; each reports its own maxima.
            let block = (self.rows / (4 * rayon::current_num_threads())).max(256);
            let maxima = match fs {
                Some(fs) => ys
                    .par_chunks_mut(block * k)
                    .zip(fs.par_chunks_mut(block * k))
                    .enumerate()
                    .map(|(b, (y, f))| sweep(b * block, y, Some(f)))
                    .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1))),
                None => ys
                    .par_chunks_mut(block * k)
                    .enumerate()
                    .map(|(b, y)| sweep(b * block, y, None))
                    .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1))),
            };
            Ok(maxima)
        } else {
            Ok(sweep(0, ys, fs))
        }
    }
}

//! The linear-operator abstraction of the action algorithms, and its dense implementation.

use crate::dense::mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

use crate::error::{Error, Result};
use crate::scalar::{RealScalar, Scalar};

/// A square linear operator `A` that can be applied to blocks of vectors: all that
/// [`expm_multiply`](crate::expm_multiply) needs of `A`.
///
/// Required: the shape, `Y = A X` and `Y = A^* X` (the conjugate transpose, used by the 1-norm
/// estimator of Higham & Tisseur 2000). Provided with defaults, overridable when the operator
/// knows better: the trace and the exact 1-norm (estimated otherwise), and one fused step of the
/// truncated Taylor series.
///
/// # Example
///
/// ```
/// use linflow::{expm_multiply, LinearOperator};
/// use ndarray::{array, ArrayView2, ArrayViewMut2};
///
/// /// The 1-D discrete Laplacian (second difference) with zero boundary values, matrix-free.
/// struct Laplacian(usize);
///
/// impl LinearOperator<f64> for Laplacian {
///     fn shape(&self) -> (usize, usize) {
///         (self.0, self.0)
///     }
///     fn apply(&self, x: ArrayView2<f64>, mut y: ArrayViewMut2<f64>) -> linflow::Result<()> {
///         let n = self.0;
///         for i in 0..n {
///             for c in 0..x.ncols() {
///                 let left = if i > 0 { x[[i - 1, c]] } else { 0.0 };
///                 let right = if i + 1 < n { x[[i + 1, c]] } else { 0.0 };
///                 y[[i, c]] = left - 2.0 * x[[i, c]] + right;
///             }
///         }
///         Ok(())
///     }
///     fn apply_adjoint(&self, x: ArrayView2<f64>, y: ArrayViewMut2<f64>) -> linflow::Result<()> {
///         self.apply(x, y) // symmetric
///     }
///     fn trace(&self) -> Option<f64> {
///         Some(-2.0 * self.0 as f64)
///     }
/// }
///
/// // The sine mode is an eigenvector: exp(tA) v = exp(t lambda) v.
/// let n = 50;
/// let k = std::f64::consts::PI / (n + 1) as f64;
/// let v = ndarray::Array2::from_shape_fn((n, 1), |(i, _)| (k * (i + 1) as f64).sin());
/// let lambda = -4.0 * (k / 2.0).sin().powi(2);
/// let x = expm_multiply(&Laplacian(n), v.view(), 3.0)?;
/// let err = (&x - &(&v * (3.0 * lambda).exp())).iter().fold(0.0_f64, |m, e| m.max(e.abs()));
/// assert!(err < 1e-14);
/// # Ok::<(), linflow::Error>(())
/// ```
pub trait LinearOperator<S: Scalar> {
    /// `(rows, columns)`; the action algorithms need a square operator.
    fn shape(&self) -> (usize, usize);

    /// `y = A x` for a block `x` of shape `(columns, k)` into `y` of shape `(rows, k)`.
    ///
    /// # Errors
    ///
    /// Whatever the operator reports ([`Error::Operator`] for a failure of its own).
    fn apply(&self, x: ArrayView2<S>, y: ArrayViewMut2<S>) -> Result<()>;

    /// `y = A^* x`, the conjugate transpose applied to a block `x` of shape `(rows, k)`.
    ///
    /// # Errors
    ///
    /// As [`LinearOperator::apply`].
    fn apply_adjoint(&self, x: ArrayView2<S>, y: ArrayViewMut2<S>) -> Result<()>;

    /// `trace(A)` when it is cheap to get exactly; `None` (the default) lets the caller estimate
    /// it. It only sets the shift `mu = trace / n` of Al-Mohy & Higham (2011), Section 3.1, so an
    /// approximation costs efficiency, never accuracy.
    fn trace(&self) -> Option<S> {
        None
    }

    /// The matrix itself, when the operator holds it as a dense array; `None` (the default)
    /// otherwise. [`expm_multiply`](crate::expm_multiply) uses it to form `exp(tA)` by scaling
    /// and squaring (about `log2 ||tA||_1` products of `n x n` matrices) where the Taylor steps
    /// (about `||tA||_1` products with a block of `k` columns) would cost more.
    fn as_dense(&self) -> Option<ArrayView2<'_, S>> {
        None
    }

    /// `||A - shift I||_1` exactly when that is cheap; `None` (the default) lets the caller
    /// estimate it.
    fn norm1_shifted(&self, shift: S) -> Option<f64> {
        let _ = shift;
        None
    }

    /// One term of the truncated Taylor series: `next = coeff (A - shift I) prev`, and with
    /// `sum` also `sum += next`. Returns `(||next||_inf, ||sum||_inf)` (the second 0 without
    /// `sum`), the norms that decide when the series is truncated.
    ///
    /// The default applies [`LinearOperator::apply`] and then makes one pass over the block;
    /// an operator may override it to do everything in one sweep (the CSR matrix does).
    ///
    /// # Errors
    ///
    /// As [`LinearOperator::apply`].
    fn taylor_term(
        &self,
        coeff: S,
        shift: S,
        prev: ArrayView2<S>,
        next: ArrayViewMut2<S>,
        sum: Option<ArrayViewMut2<S>>,
    ) -> Result<(f64, f64)> {
        default_taylor_term(self, coeff, shift, prev, next, sum)
    }

    /// `y = (A - shift I) x` where every exact zero of `A - shift I` contributes exactly 0, also
    /// against an infinite entry of `x` (the exact value of 0 times a huge finite number is 0,
    /// where floating point gives `0 * inf = NaN`). [`expm_multiply`](crate::expm_multiply)
    /// calls it only to recompute a result that overflowed, so it need not be fast.
    ///
    /// The default applies [`LinearOperator::apply`] and subtracts `shift x` (skipped for a zero
    /// shift): exact for operators whose products never multiply a zero by an entry of `x`.
    /// Dense, CSR and DIA matrices skip their zeros.
    ///
    /// # Errors
    ///
    /// As [`LinearOperator::apply`].
    fn apply_shifted_exact_zeros(
        &self,
        shift: S,
        x: ArrayView2<S>,
        mut y: ArrayViewMut2<S>,
    ) -> Result<()> {
        self.apply(x.view(), y.view_mut())?;
        if shift != S::zero() {
            Zip::from(&mut y).and(&x).for_each(|y, &v| *y -= shift * v);
        }
        Ok(())
    }
}

impl<S: Scalar, T: LinearOperator<S> + ?Sized> LinearOperator<S> for &T {
    fn shape(&self) -> (usize, usize) {
        (**self).shape()
    }
    fn apply(&self, x: ArrayView2<S>, y: ArrayViewMut2<S>) -> Result<()> {
        (**self).apply(x, y)
    }
    fn apply_adjoint(&self, x: ArrayView2<S>, y: ArrayViewMut2<S>) -> Result<()> {
        (**self).apply_adjoint(x, y)
    }
    fn trace(&self) -> Option<S> {
        (**self).trace()
    }
    fn as_dense(&self) -> Option<ArrayView2<'_, S>> {
        (**self).as_dense()
    }
    fn norm1_shifted(&self, shift: S) -> Option<f64> {
        (**self).norm1_shifted(shift)
    }
    fn taylor_term(
        &self,
        coeff: S,
        shift: S,
        prev: ArrayView2<S>,
        next: ArrayViewMut2<S>,
        sum: Option<ArrayViewMut2<S>>,
    ) -> Result<(f64, f64)> {
        (**self).taylor_term(coeff, shift, prev, next, sum)
    }
    fn apply_shifted_exact_zeros(
        &self,
        shift: S,
        x: ArrayView2<S>,
        y: ArrayViewMut2<S>,
    ) -> Result<()> {
        (**self).apply_shifted_exact_zeros(shift, x, y)
    }
}

/// `y = (A - shift I) x` from the stored entries `(i, j, a_ij)` of `A` (duplicates add up),
/// skipping every exact zero of `A - shift I`: an infinite entry of `x` then meets only the
/// nonzero entries (see [`LinearOperator::apply_shifted_exact_zeros`]). One pass over the
/// entries, row-major `x` not required.
pub(crate) fn exact_zeros_product<S: Scalar>(
    entries: impl Iterator<Item = (usize, usize, S)>,
    shift: S,
    x: ArrayView2<S>,
    mut y: ArrayViewMut2<S>,
) {
    let n = y.nrows();
    let mut diag = vec![S::zero(); n];
    y.fill(S::zero());
    for (i, j, v) in entries {
        if i == j {
            diag[i] += v;
        } else if v != S::zero() {
            Zip::from(y.row_mut(i))
                .and(x.row(j))
                .for_each(|o, &xv| *o += v * xv);
        }
    }
    for (i, d) in diag.into_iter().enumerate() {
        let d = d - shift;
        if d != S::zero() {
            Zip::from(y.row_mut(i))
                .and(x.row(i))
                .for_each(|o, &xv| *o += d * xv);
        }
    }
}

/// The default [`LinearOperator::taylor_term`]: `apply`, then one pass over the block (callable
/// from an override that cannot take its own fast path).
pub(crate) fn default_taylor_term<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    op: &Op,
    coeff: S,
    shift: S,
    prev: ArrayView2<S>,
    mut next: ArrayViewMut2<S>,
    sum: Option<ArrayViewMut2<S>>,
) -> Result<(f64, f64)> {
    op.apply(prev.view(), next.view_mut())?;
    Zip::from(&mut next)
        .and(&prev)
        .for_each(|y, &x| *y = coeff * (*y - shift * x));
    let next_norm = norm_inf(next.view());
    let sum_norm = match sum {
        Some(mut f) => {
            Zip::from(&mut f).and(&next).for_each(|f, &y| *f += y);
            norm_inf(f.view())
        }
        None => 0.0,
    };
    Ok((next_norm, sum_norm))
}

/// `max_i |x_i|` of a slice, in `f64`, with independent lanes so that it vectorizes.
#[inline(always)]
pub(crate) fn max_modulus<S: Scalar>(xs: &[S]) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0f64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            // A plain comparison (not f64::max): it compiles to packed max instructions. NaN
            // never occurs here (inputs are checked finite).
            let m = v.modulus().to_f64();
            *l = if m > *l { m } else { *l };
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0.0f64, |m, v| m.max(v.modulus().to_f64()));
    lanes.into_iter().fold(tail, f64::max)
}

/// `max(acc, x)` with NaN taken as infinity (a norm of entries that overflowed: NaN comes only
/// from `inf - inf` or `0 * inf` once the inputs are checked finite).
pub(crate) fn nan_max(acc: f64, x: f64) -> f64 {
    if x.is_nan() {
        f64::INFINITY
    } else {
        acc.max(x)
    }
}

/// `||X||_inf = max_i sum_j |x_ij|`, in `f64`.
pub(crate) fn norm_inf<S: Scalar>(x: ArrayView2<S>) -> f64 {
    let k = x.ncols();
    match x.as_slice() {
        // One column: the largest modulus, vectorized.
        Some(s) if k == 1 => max_modulus(s),
        Some(s) if k > 0 => s
            .chunks_exact(k)
            .map(|r| r.iter().map(|v| v.modulus().to_f64()).sum::<f64>())
            .fold(0.0, f64::max),
        _ => x
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.modulus().to_f64()).sum::<f64>())
            .fold(0.0, f64::max),
    }
}

/// A dense square matrix as a [`LinearOperator`], borrowed (no copy); products by BLAS `gemm`.
///
/// # Example
///
/// ```
/// use linflow::{expm_multiply, DenseOperator};
/// use ndarray::array;
///
/// let a = array![[0.0_f64, 1.0], [-1.0, 0.0]];
/// let x = expm_multiply(&DenseOperator::new(a.view())?, array![[1.0], [0.0]].view(), 0.5)?;
/// assert!((x[[0, 0]] - 0.5_f64.cos()).abs() < 1e-15);
/// assert!((x[[1, 0]] + 0.5_f64.sin()).abs() < 1e-15);
/// # Ok::<(), linflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct DenseOperator<'a, S: Scalar> {
    a: ArrayView2<'a, S>,
}

impl<'a, S: Scalar> DenseOperator<'a, S> {
    /// Wraps a square matrix.
    ///
    /// # Errors
    ///
    /// [`Error::NotSquare`] if `a` is not square, [`Error::NonFinite`] if it holds NaN or
    /// infinity.
    pub fn new(a: ArrayView2<'a, S>) -> Result<Self> {
        let (rows, cols) = a.dim();
        if rows != cols {
            return Err(Error::NotSquare { rows, cols });
        }
        if !a.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite);
        }
        Ok(Self { a })
    }
}

impl<S: Scalar> LinearOperator<S> for DenseOperator<'_, S> {
    fn shape(&self) -> (usize, usize) {
        self.a.dim()
    }

    fn apply(&self, x: ArrayView2<S>, mut y: ArrayViewMut2<S>) -> Result<()> {
        mat_mul(S::one(), &self.a, &x, S::zero(), &mut y);
        Ok(())
    }

    fn apply_adjoint(&self, x: ArrayView2<S>, mut y: ArrayViewMut2<S>) -> Result<()> {
        // A^* x = conj(A^T conj(x)).
        let xc: Array2<S> = x.mapv(|v| v.conj());
        mat_mul(S::one(), &self.a.t(), &xc, S::zero(), &mut y);
        y.mapv_inplace(|v| v.conj());
        Ok(())
    }

    fn trace(&self) -> Option<S> {
        Some(self.a.diag().iter().fold(S::zero(), |acc, &v| acc + v))
    }

    fn as_dense(&self) -> Option<ArrayView2<'_, S>> {
        Some(self.a)
    }

    fn apply_shifted_exact_zeros(
        &self,
        shift: S,
        x: ArrayView2<S>,
        y: ArrayViewMut2<S>,
    ) -> Result<()> {
        let entries = self.a.indexed_iter().map(|((i, j), &v)| (i, j, v));
        exact_zeros_product(entries, shift, x, y);
        Ok(())
    }

    fn norm1_shifted(&self, shift: S) -> Option<f64> {
        let norm = self
            .a
            .columns()
            .into_iter()
            .enumerate()
            .map(|(j, col)| {
                col.iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let v = if i == j { v - shift } else { v };
                        v.modulus().to_f64()
                    })
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        Some(norm)
    }
}

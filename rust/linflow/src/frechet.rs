//! The Frechet derivative of the matrix exponential and its condition number.
//!
//! The Frechet derivative of `exp` at `A` in the direction `E` is the linear map
//! `L(A, E) = int_0^1 exp(sA) E exp((1-s)A) ds`, the first-order term of
//! `exp(A + E) = exp(A) + L(A, E) + o(||E||)`. It is computed by Al-Mohy & Higham (2009),
//! "Computing the Frechet derivative of the matrix exponential, with an application to condition
//! number estimation", Algorithm 6.4 ("scaling, Pade, squaring"): with `X = 2^-s A`, the `[m/m]`
//! Pade approximant `r_m = p_m / q_m` and its derivative are evaluated together, then
//! `R <- R^2, L <- R L + L R` is applied `s` times. The order `m` and `s` come from `||A||_1` and the
//! thresholds `ell_m` below, which bound the backward error of both `exp` and `L`.
//!
//! The relative condition number in the Frobenius norm is
//! `kappa(A) = ||K(A)||_2 ||A||_F / ||exp(A)||_F`, where `K(A)` is the `n^2 x n^2` matrix of
//! `vec(E) -> vec(L(A, E))`. `||K||_2^2` is the largest eigenvalue of `K^* K`, found here by Lanczos
//! iteration with matrix-free products: `K^* vec(F) = vec(L(A, F^*)^*)` (the adjoint of `L(A, .)`
//! is `L(A^*, .)`, and `L(A^*, F) = L(A, F^*)^*`), so each product costs two derivatives that
//! share one Pade and scaling setup, `O(n^3)` each, instead of the `O(n^5)` Kronecker matrix and
//! `O(n^6)` SVD of forming `K`.
//!
//! Memory: [`expm_frechet`] and its batch keep their workspace (about `20 n^2` scalars) on each
//! calling thread for the next call, when it fits in 32 MiB (`n <= 404` in `f64`); a call with
//! another scalar type replaces it. At `n = 256` this saves the page faults of a fresh
//! workspace, about a tenth of the call.

use crate::dense::mat_mul;
use std::cell::RefCell;

use ndarray::{
    Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, ShapeBuilder, Zip, s,
};
use rayon::prelude::*;

use crate::cache::{Slot, with_slot};
use crate::error::{Error, Result};
use crate::expm::expm;
use crate::expm::norm1;
use crate::expm::pade::{pade_table, squarings_for};
use crate::scalar::{Precision, RealScalar, Scalar};

/// Orders of the Pade approximants Algorithm 6.4 chooses from.
const ORDERS: [usize; 5] = [3, 5, 7, 9, 13];

/// `ell_m` for `u = 2^-53`: the largest `||X||_1` for which the backward errors of both `r_m(X)`
/// and its Frechet derivative are at most `u` (Al-Mohy & Higham 2009, Table 6.1, which prints
/// them to three digits; recomputed by `benches/action_thresholds.py`).
const ELL_DOUBLE: [f64; 5] = [
    0.010813385777848366,
    0.1998063206978949,
    0.7834608472962045,
    1.7824486239692787,
    4.740307543766806,
];

/// `ell_m` for `u = 2^-24`, by the same bound (`benches/action_thresholds.py`).
const ELL_SINGLE: [f64; 5] = [
    0.3080330418453301,
    1.4825326147931448,
    3.2486717552004776,
    5.3354384015206735,
    9.977389695949572,
];

fn ell(precision: Precision, m: usize) -> f64 {
    let i = ORDERS
        .iter()
        .position(|&o| o == m)
        .expect("m is one of ORDERS");
    match precision {
        Precision::Double => ELL_DOUBLE[i],
        Precision::Single => ELL_SINGLE[i],
    }
}

/// Algorithm 6.4, lines 1-12: the smallest order whose threshold `||A||_1` meets, unscaled;
/// otherwise the scaling order with `s = ceil(log2(||A||_1 / ell_m))`. The scaling order is the one
/// with the fewest products per halving of `||A||`: an order-`m` evaluation of `r_m` and its
/// derivative costs 6, 9, 13, 17, 18 products for m = 3, 5, 7, 9, 13 and each squaring 3, so
/// `3 log2(ell_m) - cost` is largest for m = 13 in double precision and m = 7 in single (where
/// `ell_7 = 3.25` and `ell_13 = 9.98`).
fn order_and_scaling(precision: Precision, norm: f64) -> (usize, u32) {
    let (unscaled, scaled): (&[usize], usize) = match precision {
        Precision::Double => (&[3, 5, 7, 9], 13),
        Precision::Single => (&[3, 5], 7),
    };
    for &m in unscaled {
        if norm <= ell(precision, m) {
            return (m, 0);
        }
    }
    (scaled, squarings_for(norm, ell(precision, scaled)))
}

/// [`order_and_scaling`] for `a`. Entries near the largest `f64` have a 1-norm that overflows
/// `f64`: it is then taken as `2^128` times the 1-norm of `2^-128 a` (exact scalings), so that
/// `2^-s A` is still of the size the order needs (`s` up to about 1030: `2^-s` is then a
/// subnormal power of two, and the products `2^-s a_ij` are exact).
fn order_and_scaling_of<S: Scalar>(a: ArrayView2<S>) -> (usize, u32) {
    let norm = norm1(a);
    if norm.is_finite() {
        return order_and_scaling(S::PRECISION, norm);
    }
    const SHIFT: u32 = 128;
    let down = 0.5f64.powi(SHIFT as i32);
    let scaled = a
        .columns()
        .into_iter()
        .map(|c| c.iter().map(|v| v.modulus().to_f64() * down).sum::<f64>())
        .fold(0.0, f64::max);
    let (m, s) = order_and_scaling(S::PRECISION, scaled);
    (m, s + SHIFT)
}

/// How [`expm_frechet_with`] computes the derivative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrechetMethod {
    /// Scaling, Pade and squaring (Al-Mohy & Higham 2009, Algorithm 6.4): about 3/8 of the work
    /// of [`FrechetMethod::BlockEnlarge`].
    #[default]
    Sps,
    /// `exp` of the `2n x 2n` block matrix `[[A, E], [0, A]]`, whose upper right block is
    /// `L(A, E)` (Higham 2008, Theorem 3.6 / Mathias 1996).
    BlockEnlarge,
}

/// `(exp(A), L(A, E))`: the matrix exponential and its Frechet derivative at `A` in the
/// direction `E`, by scaling, Pade and squaring (Al-Mohy & Higham 2009, Algorithm 6.4).
///
/// `L(A, E) = int_0^1 exp(sA) E exp((1-s)A) ds` is the linear term of
/// `exp(A + E) - exp(A)`; for commuting `A` and `E` it is `exp(A) E`. Both results have backward
/// error at most the unit roundoff of `S` (single precision has its own thresholds).
///
/// # Errors
///
/// [`Error::NotSquare`] if `a` or `e` is not square, [`Error::ShapeMismatch`] if their shapes
/// differ, [`Error::NonFinite`] for NaN or infinity, [`Error::Singular`] if the Pade denominator
/// cannot be factored (only for inputs whose exponential overflows).
///
/// # Example
///
/// ```
/// use linflow::expm_frechet;
/// use ndarray::array;
///
/// // For a scalar a: exp(a + e) = exp(a) + exp(a) e + ..., so L(a, e) = exp(a) e.
/// let (x, l) = expm_frechet(array![[0.5_f64]].view(), array![[2.0]].view())?;
/// assert!((x[[0, 0]] - 0.5_f64.exp()).abs() < 1e-15);
/// assert!((l[[0, 0]] - 2.0 * 0.5_f64.exp()).abs() < 1e-15);
///
/// // A nilpotent direction: A = 0 gives L(0, E) = E.
/// let (_, l) = expm_frechet(array![[0.0, 0.0], [0.0, 0.0]].view(), array![[1.0, 2.0], [3.0, 4.0]].view())?;
/// assert_eq!(l, array![[1.0, 2.0], [3.0, 4.0]]);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_frechet<S: Scalar>(
    a: ArrayView2<S>,
    e: ArrayView2<S>,
) -> Result<(Array2<S>, Array2<S>)> {
    expm_frechet_with(a, e, FrechetMethod::Sps)
}

/// [`expm_frechet`] with a choice of method.
///
/// # Errors
///
/// As [`expm_frechet`].
///
/// # Example
///
/// ```
/// use linflow::{expm_frechet_with, FrechetMethod};
/// use ndarray::array;
///
/// let a = array![[1.0_f64, 2.0], [5.0, 6.0]];
/// let e = array![[3.0, 4.0], [7.0, 8.0]];
/// let (x1, l1) = expm_frechet_with(a.view(), e.view(), FrechetMethod::Sps)?;
/// let (x2, l2) = expm_frechet_with(a.view(), e.view(), FrechetMethod::BlockEnlarge)?;
/// let close = |p: &ndarray::Array2<f64>, q: &ndarray::Array2<f64>| {
///     p.iter().zip(q).all(|(u, v)| (u - v).abs() <= 1e-12 * v.abs().max(1.0))
/// };
/// assert!(close(&x1, &x2) && close(&l1, &l2));
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_frechet_with<S: Scalar>(
    a: ArrayView2<S>,
    e: ArrayView2<S>,
    method: FrechetMethod,
) -> Result<(Array2<S>, Array2<S>)> {
    frechet_pair(a, e, method)
}

/// [`expm_frechet_with`] for every pair of matrices of two stacks `(batch, n, n)`, in parallel
/// over the batch (rayon). Returns the stacks of `exp(A_k)` and `L(A_k, E_k)`.
///
/// # Errors
///
/// As [`expm_frechet`] for any pair (the first error found is returned), and
/// [`Error::ShapeMismatch`] if the stacks differ in shape.
///
/// # Example
///
/// ```
/// use linflow::{expm_frechet_batch, FrechetMethod};
/// use ndarray::Array3;
///
/// // Scalars t_k: L(t, 1) = exp(t).
/// let a = Array3::from_shape_fn((3, 1, 1), |(k, _, _)| k as f64);
/// let e = Array3::ones((3, 1, 1));
/// let (x, l) = expm_frechet_batch(a.view(), e.view(), FrechetMethod::Sps)?;
/// assert!((l[[2, 0, 0]] - 2f64.exp()).abs() < 1e-14 && x == l);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_frechet_batch<S: Scalar>(
    a: ArrayView3<S>,
    e: ArrayView3<S>,
    method: FrechetMethod,
) -> Result<(Array3<S>, Array3<S>)> {
    if a.shape() != e.shape() {
        return Err(Error::ShapeMismatch {
            expected: a.shape().to_vec(),
            found: e.shape().to_vec(),
        });
    }
    let (batch, rows, cols) = a.dim();
    if rows != cols {
        return Err(Error::NotSquare { rows, cols });
    }
    let mut x = crate::error::try_zeros(a.raw_dim())?;
    let mut l = crate::error::try_zeros(a.raw_dim())?;
    type Item<'x, S> = (
        (
            (ArrayViewMut2<'x, S>, ArrayViewMut2<'x, S>),
            ArrayView2<'x, S>,
        ),
        ArrayView2<'x, S>,
    );
    let job = |(((xo, lo), ak), ek): Item<'_, S>| frechet_into(ak, ek, method, xo, lo);
    // Serial above order 64, with BLAS's own threads: LAPACK and BLAS calls inside rayon
    // workers need more than their default 2 MiB stacks there (see `expm_batch_into`).
    if batch < 2 || batch * rows * rows * rows < 4096 || rows > BATCH_PARALLEL_MAX {
        for item in x
            .outer_iter_mut()
            .zip(l.outer_iter_mut())
            .zip(a.outer_iter())
            .zip(e.outer_iter())
        {
            job(item)?;
        }
    } else {
        x.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(l.axis_iter_mut(Axis(0)).into_par_iter())
            .zip(a.axis_iter(Axis(0)).into_par_iter())
            .zip(e.axis_iter(Axis(0)).into_par_iter())
            .try_for_each(job)?;
    }
    Ok((x, l))
}

fn check_square<S: Scalar>(a: ArrayView2<S>) -> Result<()> {
    let (rows, cols) = a.dim();
    if rows != cols {
        return Err(Error::NotSquare { rows, cols });
    }
    if !a.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }
    Ok(())
}

fn check_pair<S: Scalar>(a: ArrayView2<S>, e: ArrayView2<S>) -> Result<()> {
    let (rows, cols) = e.dim();
    if rows != cols {
        return Err(Error::NotSquare { rows, cols });
    }
    if a.dim() != e.dim() {
        return Err(Error::ShapeMismatch {
            expected: a.shape().to_vec(),
            found: e.shape().to_vec(),
        });
    }
    check_square(a)?;
    if !e.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }
    Ok(())
}

/// `(exp(a), L(a, e))` for square, equal-shape `a` and `e` (checked here).
fn frechet_pair<S: Scalar>(
    a: ArrayView2<S>,
    e: ArrayView2<S>,
    method: FrechetMethod,
) -> Result<(Array2<S>, Array2<S>)> {
    let mut x = Array2::zeros(a.raw_dim());
    let mut l = Array2::zeros(a.raw_dim());
    frechet_into(a, e, method, x.view_mut(), l.view_mut())?;
    Ok((x, l))
}

/// [`frechet_pair`] into `x_out` and `l_out` (of the shape of `a`).
fn frechet_into<S: Scalar>(
    a: ArrayView2<S>,
    e: ArrayView2<S>,
    method: FrechetMethod,
    mut x_out: ArrayViewMut2<S>,
    mut l_out: ArrayViewMut2<S>,
) -> Result<()> {
    check_pair(a, e)?;
    let n = a.nrows();
    if n == 0 {
        return Ok(());
    }
    match method {
        FrechetMethod::BlockEnlarge => {
            let mut big = Array2::zeros((2 * n, 2 * n));
            big.slice_mut(s![..n, ..n]).assign(&a);
            big.slice_mut(s![..n, n..]).assign(&e);
            big.slice_mut(s![n.., n..]).assign(&a);
            let eb = expm(big.view())?;
            x_out.assign(&eb.slice(s![..n, ..n]));
            l_out.assign(&eb.slice(s![..n, n..]));
        }
        FrechetMethod::Sps => {
            // Triangular input: squaring r_m(2^-s A) loses the cancellation between its large
            // off-diagonal entries (scipy's test matrix with entries up to 3e14 comes out wrong in
            // every entry above the diagonal), while `expm` keeps triangular input exact.
            let triangular = is_triangular(a);
            crate::dense::on_pool(n, || {
                with_cache(n, |pade: &mut Pade<S>, work: &mut Work<S>| {
                    pade.setup(a)?;
                    pade.derivative(e, work)?;
                    square(pade, work, (!triangular).then_some(&mut x_out), &mut l_out);
                    Ok::<(), Error>(())
                })
            })?;
            if triangular {
                x_out.assign(&expm(a)?);
            }
        }
    }
    Ok(())
}

/// Whether `a` is upper or lower triangular (diagonal included).
fn is_triangular<S: Scalar>(a: ArrayView2<S>) -> bool {
    let zero = S::zero();
    let upper = a.indexed_iter().all(|((i, j), &v)| i <= j || v == zero);
    upper || a.indexed_iter().all(|((i, j), &v)| i >= j || v == zero)
}

/// Lines 13-16 of Algorithm 6.4, `L <- R L + L R, R <- R^2` applied `s` times to `R = pade.r` and
/// `L = work.rhs`, the last step written straight into the outputs (`exp(A)` only if wanted). The
/// intermediate squares go to `work.m[0..2]`; the buffers keep their column-major layout.
fn square<S: Scalar>(
    pade: &mut Pade<S>,
    work: &mut Work<S>,
    x_out: Option<&mut ArrayViewMut2<S>>,
    l_out: &mut ArrayViewMut2<S>,
) {
    let (one, zero) = (S::one(), S::zero());
    if pade.s == 0 {
        if let Some(x) = x_out {
            x.assign(&pade.r);
        }
        l_out.assign(&work.rhs);
        return;
    }
    let n = pade.n;
    let [lt, rt, ..] = &mut work.m;
    ensure(lt, n, n);
    ensure(rt, n, n);
    let (mut r, mut rt) = (&mut pade.r, rt);
    let (mut l, mut lt) = (&mut work.rhs, lt);
    for _ in 1..pade.s {
        mat_mul(one, &*r, &*l, zero, &mut *lt);
        mat_mul(one, &*l, &*r, one, &mut *lt);
        std::mem::swap(&mut l, &mut lt);
        mat_mul(one, &*r, &*r, zero, &mut *rt);
        std::mem::swap(&mut r, &mut rt);
    }
    mat_mul(one, &*r, &*l, zero, l_out);
    mat_mul(one, &*l, &*r, one, l_out);
    if let Some(x) = x_out {
        mat_mul(one, &*r, &*r, zero, x);
    }
}

/// How many of the `n x n` matrices of a [`Pade`] and a [`Work`] an order-13 evaluation holds
/// (order 9 holds one more power and one fewer block): the size of the cached workspace is
/// `CACHED_MATRICES n^2` scalars.
const CACHED_MATRICES: usize = 20;

/// Largest workspace (bytes) [`with_cache`] keeps between calls, per thread: `n <= 404` in
/// `f64`, `n <= 286` in `Complex<f64>`. Past it each call allocates its own buffers (their cost,
/// `O(n^2)` page faults, is then small next to the `O(n^3)` products).
const CACHE_BYTES: usize = 32 << 20;

/// The buffers of one Algorithm 6.4 evaluation, kept between calls on a thread.
struct Cache<S: Scalar> {
    pade: Pade<S>,
    work: Work<S>,
}

thread_local! {
    /// This thread's [`Cache`], for the scalar type of its last call (another type replaces it).
    static CACHE: Slot = const { RefCell::new(None) };
}

/// Runs `f` with this thread's cached [`Pade`] and [`Work`] buffers, kept for the next call when
/// `n x n` workspaces fit in [`CACHE_BYTES`] (see [`with_slot`]). Reusing the buffers saves more
/// than their allocation: a fresh workspace page-faults on every page at first touch (measured
/// at n = 256: about 1 ms of a 10 ms call).
fn with_cache<S: Scalar, T>(n: usize, f: impl FnOnce(&mut Pade<S>, &mut Work<S>) -> T) -> T {
    let keep = CACHED_MATRICES * n * n * std::mem::size_of::<S>() <= CACHE_BYTES;
    let make = || Cache {
        pade: Pade::empty(),
        work: Work::new(),
    };
    with_slot(&CACHE, keep, make, |c: &mut Cache<S>| {
        f(&mut c.pade, &mut c.work)
    })
}

/// Makes `buf` a column-major `rows x cols` matrix, reallocating only if it is not one already
/// (the contents are then unspecified).
fn ensure<S: Scalar>(buf: &mut Array2<S>, rows: usize, cols: usize) {
    ensure_layout(buf, rows, cols, true);
}

/// [`ensure`] with a choice of layout: column-major if `fortran`, else row-major.
fn ensure_layout<S: Scalar>(buf: &mut Array2<S>, rows: usize, cols: usize, fortran: bool) {
    let layout_ok = if fortran {
        buf.t().is_standard_layout()
    } else {
        buf.is_standard_layout()
    };
    if buf.dim() != (rows, cols) || !layout_ok {
        *buf = if fortran {
            Array2::zeros((rows, cols).f())
        } else {
            Array2::zeros((rows, cols))
        };
    }
}

/// The contiguous storage of a column-major buffer.
fn flat<S: Scalar>(a: &Array2<S>) -> &[S] {
    a.as_slice_memory_order().expect("buffers are contiguous")
}

fn flat_mut<S: Scalar>(a: &mut Array2<S>) -> &mut [S] {
    a.as_slice_memory_order_mut()
        .expect("buffers are contiguous")
}

/// Whether BLAS can read `a` in place (unit stride along rows or columns).
fn blas_layout<S: Scalar>(a: &ArrayView2<S>) -> bool {
    a.is_standard_layout() || a.t().is_standard_layout()
}

/// `out_k = sum_j coef[k][j] ins[j] + diag[k] I` for column-major `n x n` blocks, all outputs in
/// one pass over the inputs (column by column, so each input column is read from L1 by every
/// output). The sums are accumulated in the order of `ins`. From `n = PAR_COMBINE` on, groups of
/// columns run on rayon's pool (memory-bound work; every element is computed alone, so the bits
/// do not depend on the grouping).
fn combine<S: Scalar>(
    n: usize,
    outs: &mut [&mut [S]],
    ins: &[&[S]],
    coef: &[&[f64]],
    diag: &[f64],
) {
    let coef: Vec<Vec<S::Real>> = coef
        .iter()
        .map(|c| c.iter().map(|&v| S::Real::from_f64(v)).collect())
        .collect();
    let diag: Vec<S> = diag.iter().map(|&d| S::from_f64(d)).collect();
    if n < PAR_COMBINE {
        combine_columns(n, 0, outs, ins, &coef, &diag);
        return;
    }
    let width = n.div_ceil(COMBINE_GROUPS);
    let mut groups: Vec<Vec<&mut [S]>> = (0..n.div_ceil(width)).map(|_| Vec::new()).collect();
    for out in outs.iter_mut() {
        for (group, chunk) in groups.iter_mut().zip(out[..n * n].chunks_mut(width * n)) {
            group.push(chunk);
        }
    }
    groups
        .into_par_iter()
        .enumerate()
        .for_each(|(g, mut chunks)| combine_columns(n, g * width, &mut chunks, ins, &coef, &diag));
}

/// Orders from which [`combine`] shares its columns out on rayon's pool, and into how many groups.
const PAR_COMBINE: usize = 256;
const COMBINE_GROUPS: usize = 4;

/// [`combine`] for the columns `first..` of which `outs` hold the parts (`n` entries per column).
fn combine_columns<S: Scalar>(
    n: usize,
    first: usize,
    outs: &mut [&mut [S]],
    ins: &[&[S]],
    coef: &[Vec<S::Real>],
    diag: &[S],
) {
    let cols = outs.first().map_or(0, |o| o.len() / n);
    for local in 0..cols {
        let col = first + local;
        let range = col * n..(col + 1) * n;
        for (k, out) in outs.iter_mut().enumerate() {
            let out = &mut out[local * n..(local + 1) * n];
            let (c0, col0) = (coef[k][0], &ins[0][range.clone()]);
            for (o, &v) in out.iter_mut().zip(col0) {
                *o = v.scale(c0);
            }
            for (&c, input) in coef[k].iter().zip(ins).skip(1) {
                for (o, &v) in out.iter_mut().zip(&input[range.clone()]) {
                    *o += v.scale(c);
                }
            }
            if diag[k] != S::zero() {
                out[col] += diag[k];
            }
        }
    }
}

fn product<S: Scalar>(a: &Array2<S>, b: &Array2<S>) -> Array2<S> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    mat_mul(S::one(), a, b, S::zero(), &mut c);
    c
}
/// LU of a column-major square matrix, in place, by [`Scalar::getrf`] (linflow's recursive LU,
/// see there why not OpenBLAS's threaded `?getrf`), for [`lu_solve`].
fn lu_factor<S: Scalar>(q: &mut Array2<S>, ipiv: &mut [i32]) -> Result<()> {
    let n = q.nrows();
    let data = q
        .as_slice_memory_order_mut()
        .expect("factor buffers are contiguous");
    let info = S::getrf(n, data, ipiv);
    if info > 0 {
        Err(Error::Singular)
    } else if info < 0 {
        Err(Error::Lapack {
            routine: "getrf2",
            argument: -info,
        })
    } else {
        Ok(())
    }
}

/// `b <- Q^-1 b` for a column-major `b`, given the factors of [`lu_factor`].
fn lu_solve<S: Scalar>(lu: &Array2<S>, ipiv: &[i32], b: &mut Array2<S>) -> Result<()> {
    let (n, nrhs) = b.dim();
    debug_assert!(b.t().is_standard_layout());
    let info = S::getrs(
        n,
        nrhs,
        lu.as_slice_memory_order().expect("contiguous"),
        ipiv,
        b.as_slice_memory_order_mut().expect("contiguous"),
    );
    if info < 0 {
        return Err(Error::Lapack {
            routine: "getrs",
            argument: -info,
        });
    }
    Ok(())
}

/// The Pade part of Algorithm 6.4 for one `A`: everything that does not depend on `E`. Every
/// matrix but `x` is column-major (LAPACK's layout; BLAS takes either), so each `n x n` block, including
/// the halves of the `n x 2n` pairs, is one contiguous slice.
#[derive(Debug, Clone)]
struct Pade<S: Scalar> {
    n: usize,
    m: usize,
    s: u32,
    /// `2^-s`.
    scale: S::Real,
    /// `X = 2^-s A`, row-major if `A` is (the one buffer that follows `A`'s layout).
    x: Array2<S>,
    /// `X^2, X^4, X^6, X^8` (those the order needs).
    powers: [Array2<S>; 4],
    /// `[W | V]`: the odd part `U = X W` and the even part `V` of the numerator
    /// `p_m(X) = V + U`, side by side (order 13 forms both with one product).
    wv: Array2<S>,
    /// Order 13: `[W1 | Z1]` with `W = X^6 W1 + W2`, `V = X^6 Z1 + Z2` (Algorithm 6.4, line 10).
    wz1: Array2<S>,
    /// LU factors of `q_m(X) = V - U` and the pivots.
    lu: Array2<S>,
    ipiv: Vec<i32>,
    /// `r_m(X)`.
    r: Array2<S>,
}

/// How many of `X^2, X^4, X^6, X^8` the order-`m` evaluation uses.
fn powers_needed(m: usize) -> usize {
    match m {
        3 => 1,
        5 => 2,
        9 => 4,
        _ => 3,
    }
}

impl<S: Scalar> Pade<S> {
    fn empty() -> Self {
        let e = || Array2::zeros((0, 0));
        Self {
            n: 0,
            m: 0,
            s: 0,
            scale: S::Real::from_f64(1.0),
            x: e(),
            powers: [e(), e(), e(), e()],
            wv: e(),
            wz1: e(),
            lu: e(),
            ipiv: Vec::new(),
            r: e(),
        }
    }

    /// A new setup for `a` (square, finite, non-empty).
    fn new(a: ArrayView2<S>) -> Result<Self> {
        let mut pade = Self::empty();
        pade.setup(a)?;
        Ok(pade)
    }

    /// Lines 1-12 of Algorithm 6.4 without `E`: order, scaling, powers, the Pade numerator parts,
    /// the LU of the denominator and `r_m(X) = I + 2 q_m(X)^-1 U` (the identity part exact), in
    /// the buffers of `self`. `a` must be square, finite and non-empty.
    fn setup(&mut self, a: ArrayView2<S>) -> Result<()> {
        let n = a.nrows();
        let (m, s) = order_and_scaling_of(a);
        let scale = S::Real::from_f64(0.5f64.powi(s.min(i32::MAX as u32) as i32));
        (self.n, self.m, self.s, self.scale) = (n, m, s, scale);
        let (one, zero) = (S::one(), S::zero());
        // X in the layout of A, so that this is one straight pass (BLAS reads either layout).
        let row_major = a.is_standard_layout();
        ensure_layout(&mut self.x, n, n, !row_major);
        Zip::from(&mut self.x)
            .and(&a)
            .for_each(|o, &v| *o = v.scale(scale));
        let k = powers_needed(m);
        for p in &mut self.powers[..k] {
            ensure(p, n, n);
        }
        let x = &self.x;
        let [p2, p4, p6, p8] = &mut self.powers;
        mat_mul(one, x, x, zero, p2);
        if m >= 5 {
            mat_mul(one, &*p2, &*p2, zero, p4);
        }
        if m >= 7 {
            mat_mul(one, &*p2, &*p4, zero, p6);
        }
        if m == 9 {
            mat_mul(one, &*p4, &*p4, zero, p8);
        }
        let b = pade_table(m);
        ensure(&mut self.wv, n, 2 * n);
        let (w, v) = flat_mut(&mut self.wv).split_at_mut(n * n);
        let powers = &self.powers;
        if m == 13 {
            ensure(&mut self.wz1, n, 2 * n);
            let (w1, z1) = flat_mut(&mut self.wz1).split_at_mut(n * n);
            let ins = [flat(&powers[2]), flat(&powers[1]), flat(&powers[0])];
            combine(
                n,
                &mut [w1, z1, w, v],
                &ins,
                &[
                    &[b[13], b[11], b[9]],
                    &[b[12], b[10], b[8]],
                    &[b[7], b[5], b[3]],
                    &[b[6], b[4], b[2]],
                ],
                &[0.0, 0.0, b[1], b[0]],
            );
            // [W | V] += X^6 [W1 | Z1].
            mat_mul(one, &powers[2], &self.wz1, one, &mut self.wv);
        } else {
            // W = sum_{j odd} b_j X^(j-1), V = sum_{j even} b_j X^j.
            let ins: Vec<&[S]> = powers[..k].iter().map(flat).collect();
            let odd: Vec<f64> = (0..k).map(|j| b[2 * j + 3]).collect();
            let even: Vec<f64> = (0..k).map(|j| b[2 * j + 2]).collect();
            combine(n, &mut [w, v], &ins, &[&odd, &even], &[b[1], b[0]]);
        }
        // r = 2U = 2 X W, q_m(X) = V - U and its LU factors, then r_m(X) = I + q^-1 (2U) in place
        // (scaling by 2 is exact, so this is 2 q^-1 U to the last bit).
        ensure(&mut self.r, n, n);
        ensure(&mut self.lu, n, n);
        mat_mul(
            S::from_f64(2.0),
            &self.x,
            &self.wv.slice(s![.., ..n]),
            zero,
            &mut self.r,
        );
        let half = S::Real::from_f64(0.5);
        let v = &flat(&self.wv)[n * n..];
        for ((q, &vv), &u2) in flat_mut(&mut self.lu).iter_mut().zip(v).zip(flat(&self.r)) {
            *q = vv - u2.scale(half);
        }
        self.ipiv.resize(n, 0);
        lu_factor(&mut self.lu, &mut self.ipiv)?;
        lu_solve(&self.lu, &self.ipiv, &mut self.r)?;
        self.r.diag_mut().mapv_inplace(|v| v + one);
        Ok(())
    }

    /// `L_{r_m}(X, 2^-s E)`, the derivative of the Pade approximant at the scaled matrix (lines
    /// 5-11 of Algorithm 6.4 and the solve of line 12), left in `work.rhs`. The scaling of `E` is
    /// folded into the two products that read `E` (exact: a power of two).
    fn derivative(&self, e: ArrayView2<S>, work: &mut Work<S>) -> Result<()> {
        self.derivative_in(e, S::from_real(self.scale), work)
    }

    /// `L_{r_m}(X, c E)` (see [`Pade::derivative`], which takes `c = 2^-s`).
    fn derivative_in(&self, e: ArrayView2<S>, c: S, work: &mut Work<S>) -> Result<()> {
        let n = self.n;
        let (one, zero) = (S::one(), S::zero());
        let e = if blas_layout(&e) {
            e
        } else {
            ensure(&mut work.e, n, n);
            work.e.assign(&e);
            work.e.view()
        };
        let Work {
            m: ms,
            twv,
            lwv,
            rhs,
            ..
        } = work;
        let k = powers_needed(self.m);
        for mk in &mut ms[..k] {
            ensure(mk, n, n);
        }
        ensure(lwv, n, 2 * n);
        ensure(rhs, n, n);
        let x = &self.x;
        let p = &self.powers;
        let [m2, m4, m6, m8] = ms;
        // M_2 = X E + E X, M_4 = X^2 M_2 + M_2 X^2, M_6 = X^4 M_2 + M_4 X^2, M_8 = X^4 M_4 + M_4 X^4:
        // the derivatives of the even powers (in the direction 2^-s E).
        mat_mul(c, x, &e, zero, m2);
        mat_mul(c, &e, x, one, m2);
        if self.m >= 5 {
            mat_mul(one, &p[0], &*m2, zero, m4);
            mat_mul(one, &*m2, &p[0], one, m4);
        }
        if self.m >= 7 {
            mat_mul(one, &p[1], &*m2, zero, m6);
            mat_mul(one, &*m4, &p[0], one, m6);
        }
        if self.m == 9 {
            mat_mul(one, &p[1], &*m4, zero, m8);
            mat_mul(one, &*m4, &p[1], one, m8);
        }
        let b = pade_table(self.m);
        let (lw, lv) = flat_mut(lwv).split_at_mut(n * n);
        if self.m == 13 {
            // [L_W | L_V] = X^6 [L_W1 | L_Z1] + M_6 [W1 | Z1] + [L_W2 | L_Z2].
            ensure(twv, n, 2 * n);
            let (tw, tv) = flat_mut(twv).split_at_mut(n * n);
            combine(
                n,
                &mut [tw, tv, lw, lv],
                &[flat(m6), flat(m4), flat(m2)],
                &[
                    &[b[13], b[11], b[9]],
                    &[b[12], b[10], b[8]],
                    &[b[7], b[5], b[3]],
                    &[b[6], b[4], b[2]],
                ],
                &[0.0; 4],
            );
            mat_mul(one, &p[2], &*twv, one, lwv);
            mat_mul(one, &*m6, &self.wz1, one, lwv);
        } else {
            let ins = [flat(m2), flat(m4), flat(m6), flat(m8)];
            let odd: Vec<f64> = (0..k).map(|j| b[2 * j + 3]).collect();
            let even: Vec<f64> = (0..k).map(|j| b[2 * j + 2]).collect();
            combine(n, &mut [lw, lv], &ins[..k], &[&odd, &even], &[0.0; 2]);
        }
        // L_U = X L_W + E W, into the free M_2.
        let lu = m2;
        mat_mul(one, x, &lwv.slice(s![.., ..n]), zero, lu);
        mat_mul(c, &e, &self.wv.slice(s![.., ..n]), one, lu);
        // q L = L_p - L_q r = (L_U + L_V) + (L_U - L_V) r, with L_U - L_V in the free M_4.
        ensure(m4, n, n);
        let diff = m4;
        combine(
            n,
            &mut [flat_mut(diff), flat_mut(rhs)],
            &[flat(lu), &flat(lwv)[n * n..]],
            &[&[1.0, -1.0], &[1.0, 1.0]],
            &[0.0; 2],
        );
        mat_mul(one, &*diff, &self.r, one, rhs);
        lu_solve(&self.lu, &self.ipiv, rhs)
    }
}

/// Buffers of one derivative evaluation, reused across calls; column-major like [`Pade`]'s.
#[derive(Debug, Clone)]
struct Work<S: Scalar> {
    /// A copy of `E` when BLAS cannot read it in place.
    e: Array2<S>,
    /// `M_2, M_4, M_6, M_8`; `M_2` and `M_4` are reused for `L_U` and `L_U - L_V`, and by the
    /// squaring phase.
    m: [Array2<S>; 4],
    /// Order 13: `[L_W1 | L_Z1]`.
    twv: Array2<S>,
    /// `[L_W | L_V]`.
    lwv: Array2<S>,
    /// The right-hand side, then the derivative.
    rhs: Array2<S>,
}

impl<S: Scalar> Work<S> {
    fn new() -> Self {
        let e = || Array2::zeros((0, 0));
        Self {
            e: e(),
            m: [e(), e(), e(), e()],
            twv: e(),
            lwv: e(),
            rhs: e(),
        }
    }
}

/// A reusable evaluator of `L(A, E)` for one `A` and many directions `E`: the order, scaling,
/// powers, Pade factors and the squares `r_m(X)^(2^k)` are computed once by [`ExpmFrechet::new`],
/// and each [`ExpmFrechet::derivative`] then costs about `13 + 2s` matrix products.
///
/// # Example
///
/// ```
/// use linflow::ExpmFrechet;
/// use ndarray::{array, Array2};
///
/// // Columns of the Kronecker form: L(A, e_i e_j^T) for every (i, j).
/// let a = array![[-1.0_f64, 2.0], [0.0, -3.0]];
/// let f = ExpmFrechet::new(a.view())?;
/// let mut sum = Array2::<f64>::zeros((2, 2));
/// for i in 0..2 {
///     let mut e = Array2::zeros((2, 2));
///     e[[i, i]] = 1.0;
///     sum += &f.derivative(e.view())?;
/// }
/// // L(A, I) = exp(A): A commutes with I.
/// let x = f.expm();
/// assert!(sum.iter().zip(x.iter()).all(|(p, q)| (p - q).abs() < 1e-15));
/// # Ok::<(), linflow::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExpmFrechet<S: Scalar> {
    pade: Option<Pade<S>>,
    n: usize,
    /// `r_m(X)^(2^k)` for `k = 0..s`; the last one is `exp(A)`.
    squares: Vec<Array2<S>>,
    /// Empty, except for the setups of [`expm_cond`] whose squares may overflow or underflow
    /// ([`ExpmFrechet::rescaled`]), with `s + 1` entries: then `squares[k]` was multiplied by
    /// `2^-shifts[k]` before it was squared (the last one after), and every derivative is
    /// multiplied by the same power of two before its product with `squares[k]` (the last,
    /// after it). The last square and every derivative then carry one common unknown factor,
    /// which the ratio `||L(A, E)|| / ||exp(A)||` of the condition number does not see.
    shifts: Vec<i32>,
}

/// Exponent bound of the rescaled squares of [`ExpmFrechet::rescaled`]: `||R||_1` is kept in
/// `[2^-T, 2^T]`, so that `R^2` stays far from overflow and `R L + L R` too while
/// `||L|| / ||R||` is below `2^(1023 - 2T)` (`2^(127 - 2T)` in single precision): ratios beyond
/// it make `kappa = ||K|| ||A||_F / ||exp(A)||_F` overflow anyway, for the `||A||_F > 0.9 T ln 2`
/// of a rescaled setup.
fn rescale_bound(precision: Precision) -> i32 {
    match precision {
        Precision::Double => 128,
        Precision::Single => 16,
    }
}

/// The power of two `2^-e` to apply to `r = 2^factor R` before it is squared, as `e`: the one
/// that brings the common factor back to 1 (`r` to `R` itself) as far as `[2^-T, 2^T]`
/// ([`rescale_bound`]) allows `||r||_1`. Keeping the factor near 1, not `||r||_1` near 1, matters:
/// squaring squares the factor, and a factor far from 1 carried through the squarings pushes the
/// small entries of a matrix with a wide range (`[[1, 1e200], [0, 1]]`) into underflow while the
/// norm itself stays in range. 0 when `r` is 0 or not finite (no scaling can help).
fn rescale_exponent<S: Scalar>(r: &Array2<S>, factor: f64) -> i32 {
    let norm = norm1(r.view());
    if norm == 0.0 || !norm.is_finite() {
        return 0;
    }
    let bound = f64::from(rescale_bound(S::PRECISION));
    let log_r = norm.log2();
    // log2 ||R||_1, the target, clamped to the allowed range (`factor` may be huge and inexact
    // only when R is far out of range, where the clamp decides).
    let target = (log_r - factor).clamp(-bound, bound);
    (log_r - target).round() as i32
}

/// [`rescale_exponent`] for the range `[2^-bound, 2^bound]`.
fn rescale_exponent_within<S: Scalar>(r: &Array2<S>, bound: i32) -> i32 {
    let norm = norm1(r.view());
    if norm == 0.0 || !norm.is_finite() {
        return 0;
    }
    let e = norm.log2().round() as i32;
    if e.abs() > bound { e } else { 0 }
}

/// `a <- 2^-e a`, exact (a power of two; the results stay normal numbers by
/// [`rescale_bound`]).
fn scale_by_power_of_two<S: Scalar>(a: &mut Array2<S>, e: i32) {
    if e == 0 {
        return;
    }
    let f = S::Real::from_f64(2f64.powi(-e));
    a.mapv_inplace(|v| v.scale(f));
}

impl<S: Scalar> ExpmFrechet<S> {
    /// The setup for `A`: everything of Algorithm 6.4 that does not depend on the direction.
    ///
    /// # Errors
    ///
    /// [`Error::NotSquare`], [`Error::NonFinite`], [`Error::Singular`] as for [`expm_frechet`].
    pub fn new(a: ArrayView2<S>) -> Result<Self> {
        Self::build(a, false)
    }

    /// [`ExpmFrechet::new`] for the ratios of [`expm_cond`]: where `exp(A)` may overflow or
    /// underflow (`||A||_1` beyond `0.9 T ln 2`, [`rescale_bound`]), every square `R_k` whose
    /// 1-norm would leave `[2^-T, 2^T]` is scaled by a power of two before it is squared (as
    /// little as that range allows, [`rescale_exponent`]), the last one to a norm of about 1,
    /// and the derivatives are scaled alike. The squaring of Algorithm 6.4 maps
    /// `(R, L)` to `(R^2, R L + L R)`, so a common factor `c` of `R` and `L` becomes `c^2` for
    /// both: the last square and every derivative share one factor, and `||L(A, E)|| /
    /// ||exp(A)||` is exact where `exp(A)` itself is not representable. The derivatives start
    /// from the direction `E` instead of `2^-s E` and are halved at each squaring (the same `L`,
    /// without the factor `2^(k-s)` that would underflow `L_k` next to a rescaled `R_k`, for `s`
    /// near 1000). `expm` and `derivative`
    /// of such a setup are scaled by that unknown factor: only ratios are meaningful. Below the
    /// threshold (`||exp(2^-j A)||_1 <= e^||A||_1 < 2^T`, and the inverse likewise) nothing is
    /// checked and the setup is that of [`ExpmFrechet::new`], bit for bit.
    fn rescaled(a: ArrayView2<S>) -> Result<Self> {
        Self::build(a, true)
    }

    fn build(a: ArrayView2<S>, rescale: bool) -> Result<Self> {
        check_square(a)?;
        let n = a.nrows();
        if n == 0 {
            return Ok(Self {
                pade: None,
                n,
                squares: vec![Array2::zeros((0, 0))],
                shifts: Vec::new(),
            });
        }
        let pade = Pade::new(a)?;
        let gate = 0.9 * f64::from(rescale_bound(S::PRECISION)) * std::f64::consts::LN_2;
        let s = pade.s as usize;
        let mut shifts = if rescale && s > 0 && norm1(a) > gate {
            vec![0; s + 1]
        } else {
            Vec::new()
        };
        let mut squares = Vec::with_capacity(s + 1);
        squares.push(pade.r.as_standard_layout().into_owned());
        // log2 of the common factor of squares[k] (and the derivatives): squaring doubles it.
        let mut factor = 0.0f64;
        for k in 0..s {
            if let Some(shift) = shifts.get_mut(k) {
                *shift = rescale_exponent(&squares[k], factor);
                scale_by_power_of_two(&mut squares[k], *shift);
                factor = 2.0 * (factor - f64::from(*shift));
            }
            let next = product(&squares[k], &squares[k]);
            squares.push(next);
        }
        if let Some(shift) = shifts.get_mut(s) {
            // The last square to about 1 as well (within 2^+-4): then the scaled ||K||_2 is
            // about ||K|| / ||exp(A)||, which overflows only where kappa does (kappa is that
            // times ||A||_F, beyond 160 here).
            *shift = rescale_exponent_within(&squares[s], 4);
            scale_by_power_of_two(&mut squares[s], *shift);
        }
        Ok(Self {
            pade: Some(pade),
            n,
            squares,
            shifts,
        })
    }

    /// `Some(e)` when only the last square of a rescaled setup was scaled, by `2^-e` (0 if none
    /// was): then the common factor of `expm` and every derivative is known, `2^-e`.
    fn last_shift_only(&self) -> Option<i32> {
        let s = self.squares.len() - 1;
        let early = self.shifts.iter().take(s).any(|&e| e != 0);
        (!early).then(|| self.shifts.get(s).copied().unwrap_or(0))
    }

    /// `exp(A)` as computed by Algorithm 6.4 (the squares the derivatives use).
    pub fn expm(&self) -> ArrayView2<'_, S> {
        self.squares.last().expect("at least r_m").view()
    }

    /// The order `n` of `A`.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// `L(A, E)`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `e` is not `n x n`, [`Error::NonFinite`] if it holds NaN or
    /// infinity.
    pub fn derivative(&self, e: ArrayView2<S>) -> Result<Array2<S>> {
        let mut out = Array2::zeros((self.n, self.n));
        self.derivative_work(e, &mut out, &mut Work::new())?;
        Ok(out)
    }

    fn derivative_work(
        &self,
        e: ArrayView2<S>,
        out: &mut Array2<S>,
        work: &mut Work<S>,
    ) -> Result<()> {
        if e.dim() != (self.n, self.n) {
            return Err(Error::ShapeMismatch {
                expected: vec![self.n, self.n],
                found: e.shape().to_vec(),
            });
        }
        if !e.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite);
        }
        let Some(pade) = &self.pade else {
            return Ok(());
        };
        let s = pade.s as usize;
        let rescaled = !self.shifts.is_empty();
        // A rescaled setup starts from L_r(X, E) (not 2^-s E) and halves each squaring
        // L <- (R L + L R) / 2: the s halvings give the same L, while L_k / R_k stays of the size
        // of L / exp(A) (it is 2^(k-s) times that in plain squaring, beyond the exponent range
        // for s near 1000 once R_k is rescaled to about 1).
        let (c, alpha) = if rescaled {
            (S::one(), S::from_f64(0.5))
        } else {
            (S::from_real(pade.scale), S::one())
        };
        pade.derivative_in(e, c, work)?;
        // L <- R_k L + L R_k with the stored squares, the last step into `out`.
        let shift = |k: usize, l: &mut Array2<S>| {
            if let Some(&e) = self.shifts.get(k).filter(|&&e| e != 0) {
                scale_by_power_of_two(l, e);
            }
        };
        let Some((last, rest)) = self.squares[..s].split_last() else {
            out.assign(&work.rhs);
            shift(0, out);
            return Ok(());
        };
        let (one, zero) = (S::one(), S::zero());
        let (mut l, mut lt) = (&mut work.rhs, &mut work.m[0]);
        for (k, r) in rest.iter().enumerate() {
            shift(k, l);
            mat_mul(alpha, r, &*l, zero, &mut *lt);
            mat_mul(alpha, &*l, r, one, &mut *lt);
            std::mem::swap(&mut l, &mut lt);
        }
        shift(s - 1, l);
        mat_mul(alpha, last, &*l, zero, out);
        mat_mul(alpha, &*l, last, one, out);
        shift(s, out);
        Ok(())
    }

    /// `L(A, E)^* = L(A^*, E^*)`-adjoint: `K^* vec(F)` as `L(A, F^*)^*`, into `out`.
    fn adjoint_work(
        &self,
        f: ArrayView2<S>,
        out: &mut Array2<S>,
        work: &mut Work<S>,
        tmp: &mut Array2<S>,
    ) -> Result<()> {
        tmp.zip_mut_with(&f.t(), |t, &v| *t = v.conj());
        self.derivative_work(tmp.view(), out, work)?;
        tmp.zip_mut_with(&out.t(), |t, &v| *t = v.conj());
        std::mem::swap(tmp, out);
        Ok(())
    }
}

/// The relative condition number of `exp` at `A` in the Frobenius norm,
/// `kappa(A) = ||K(A)||_2 ||A||_F / ||exp(A)||_F`, as `scipy.linalg.expm_cond` defines it.
///
/// `K(A)` is the Kronecker form of the Frechet derivative (`vec L(A, E) = K vec E`); its 2-norm is
/// `max ||L(A, E)||_F / ||E||_F`. It is computed to working accuracy by Lanczos iteration on
/// `K^* K` with full reorthogonalization, each step two matrix-free derivatives sharing one
/// Pade and scaling setup ([`ExpmFrechet`]): `O(k n^3)` work for `k` steps (typically a few
/// dozen) instead of the `O(n^5)` construction and `O(n^6)` SVD of `K`.
///
/// `kappa` depends on `L` and `exp(A)` only through their ratio, so it is finite wherever the
/// exact value is representable, also where `exp(A)` overflows or underflows (entries of
/// `1e300`, the largest integers): the squarings then rescale `r_m(X)^(2^k)` and the
/// derivative by common powers of two (`(R, L) -> (R^2, R L + L R)` keeps a common factor
/// common), and `||exp(A)||_F` is that of the rescaled last square. Where the exact `kappa`
/// exceeds the largest float (`||A||_F` near it) the result is infinity.
///
/// # Errors
///
/// As [`ExpmFrechet::new`].
///
/// # Example
///
/// ```
/// use linflow::expm_cond;
/// use ndarray::array;
///
/// // For a scalar a: kappa = |a| exp(a) / exp(a) = |a|.
/// assert!((expm_cond(array![[-3.0_f64]].view())? - 3.0).abs() < 1e-14);
/// // Also where exp(a) overflows (or underflows) f64.
/// assert!((expm_cond(array![[1e300_f64]].view())? / 1e300 - 1.0).abs() < 1e-14);
/// assert!((expm_cond(array![[-1e4_f64]].view())? / 1e4 - 1.0).abs() < 1e-14);
/// // A normal matrix: kappa = ||A||_F max |f[l_i, l_j]| / ||exp(A)||_F, here with eigenvalues 1, -1.
/// let k = expm_cond(array![[0.0_f64, 1.0], [1.0, 0.0]].view())?;
/// let want = 2f64.sqrt() * 1f64.exp() / (2.0 * 1f64.cosh().powi(2) + 2.0 * 1f64.sinh().powi(2)).sqrt();
/// assert!((k - want).abs() < 1e-14 * want);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_cond<S: Scalar>(a: ArrayView2<S>) -> Result<S::Real> {
    crate::dense::on_pool(a.nrows(), || cond(a))
}

/// [`expm_cond`], on the calling thread.
fn cond<S: Scalar>(a: ArrayView2<S>) -> Result<S::Real> {
    let f = ExpmFrechet::rescaled(a)?;
    let n = a.nrows();
    if n == 0 {
        return Ok(S::Real::from_f64(f64::NAN));
    }
    let (big, root) = frobenius_parts(a);
    if big == 0.0 {
        return Ok(S::Real::from_f64(0.0));
    }
    let k_norm = kronecker_two_norm(&f)?;
    // exp(A) from `expm` (as scipy does: more accurate than Algorithm 6.4's squares for
    // non-normal input, and only one more O(n^3) evaluation), with the derivatives' factor
    // where that is a known power of two and exp(A) is representable; otherwise the last square,
    // which carries the derivatives' factor.
    let from_expm = match f.last_shift_only() {
        Some(e) => {
            let x = frobenius(expm(a)?.view());
            let scaled = x * 2f64.powi(-e);
            (x.is_finite() && scaled > 0.0 && scaled.is_finite()).then_some(scaled)
        }
        None => None,
    };
    let x_norm = from_expm.unwrap_or_else(|| frobenius(f.expm()));
    if x_norm.is_nan() || x_norm <= 0.0 || k_norm.is_nan() {
        // exp(A) is never singular: a last square of norm 0 means that the entries of the
        // squares spanned more than the exponent range (a Jordan-like block with an
        // off-diagonal entry beyond 1e190, whose kappa ~ entry^2 overflows): infinite.
        return Ok(S::Real::from_f64(f64::INFINITY));
    }
    let product = k_norm * (big * root);
    let kappa = if product.is_finite() && product >= f64::MIN_POSITIVE {
        product / x_norm
    } else {
        // ||A||_F or its product with ||K|| overflows (or underflows), kappa need not: the
        // ratio first.
        k_norm / x_norm * big * root
    };
    Ok(S::Real::from_f64(kappa))
}

/// [`expm_cond`] of every matrix of a stack `(batch, n, n)`, in parallel over the batch.
///
/// # Errors
///
/// As [`expm_cond`] for any matrix of the stack.
///
/// # Example
///
/// ```
/// use linflow::expm_cond_batch;
/// use ndarray::Array3;
///
/// let a = Array3::from_shape_fn((3, 1, 1), |(k, _, _)| -(k as f32));
/// let k = expm_cond_batch(a.view())?;
/// assert_eq!(k.len(), 3);
/// assert!((k[2] - 2.0).abs() < 1e-6);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_cond_batch<S: Scalar>(a: ArrayView3<S>) -> Result<Array1<S::Real>> {
    let (_, rows, cols) = a.dim();
    if rows != cols {
        return Err(Error::NotSquare { rows, cols });
    }
    // The output first: a stack too large for memory is an error at once, not after computing
    // every condition number.
    let mut out: Array1<S::Real> = crate::error::try_zeros(a.len_of(Axis(0)))?;
    let job = |(o, x): (&mut S::Real, ArrayView2<S>)| -> Result<()> {
        *o = expm_cond(x)?;
        Ok(())
    };
    if rows > BATCH_PARALLEL_MAX {
        out.iter_mut().zip(a.outer_iter()).try_for_each(job)?;
    } else {
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(a.axis_iter(Axis(0)).into_par_iter())
            .try_for_each(|(mut o, x)| job((o.first_mut().expect("one entry"), x)))?;
    }
    Ok(out)
}

/// Order above which the batched functions go through their stacks serially (BLAS and LAPACK
/// then thread themselves; inside rayon workers they would need larger stacks).
const BATCH_PARALLEL_MAX: usize = 64;

fn frobenius<S: Scalar>(a: ArrayView2<S>) -> f64 {
    let (big, root) = frobenius_parts(a);
    big * root
}

/// `||a||_F` as `big * root`, `big` the largest modulus (a scaled sum of squares: entries up to
/// the overflow threshold stay finite, and the caller may multiply in an order that avoids
/// overflow of the product).
fn frobenius_parts<S: Scalar>(a: ArrayView2<S>) -> (f64, f64) {
    let big = a.iter().map(|v| v.modulus().to_f64()).fold(0.0, f64::max);
    if big == 0.0 || !big.is_finite() {
        return (big, 1.0);
    }
    let ss: f64 = a
        .iter()
        .map(|v| {
            let r = v.modulus().to_f64() / big;
            r * r
        })
        .sum();
    (big, ss.sqrt())
}

/// `<x, y> = sum conj(x_i) y_i` over all entries.
fn inner<S: Scalar>(x: &Array2<S>, y: &Array2<S>) -> S {
    let mut acc = S::zero();
    Zip::from(x).and(y).for_each(|&a, &b| acc += a.conj() * b);
    acc
}

/// Largest eigenvalue of the symmetric tridiagonal matrix with diagonal `d` and off-diagonal `e`,
/// and the last component of its unit eigenvector (LAPACK `dstev`).
fn tridiagonal_top(d: &[f64], e: &[f64]) -> Result<(f64, f64)> {
    let k = d.len();
    let mut dd = d.to_vec();
    let mut ee = e.to_vec();
    ee.resize(k.max(1), 0.0);
    let mut z = vec![0.0; k * k];
    let mut work = vec![0.0; (2 * k).saturating_sub(2).max(1)];
    let (n, mut info) = (k as i32, 0);
    // SAFETY: d has k entries, e k - 1 (padded), z k*k, work max(1, 2k-2), as dstev requires.
    unsafe {
        lapack_sys::dstev_(
            &(b'V' as std::ffi::c_char),
            &n,
            dd.as_mut_ptr(),
            ee.as_mut_ptr(),
            z.as_mut_ptr(),
            &n,
            work.as_mut_ptr(),
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::Lapack {
            routine: "dstev",
            argument: info.abs(),
        });
    }
    // Eigenvalues ascending; the eigenvector of the last is column k-1 (column-major).
    Ok((dd[k - 1], z[(k - 1) * k + (k - 1)]))
}

/// Iteration cap of the Lanczos process (it stops far earlier in practice).
const LANCZOS_MAX_STEPS: usize = 300;

/// `||K(A)||_2 = sqrt(lambda_max(K^* K))` by Lanczos with full reorthogonalization.
///
/// Stops when the Ritz value's residual bound `beta_j |y_j|` (Parlett 1998, Section 13.2) is
/// below `16 u theta`, or below `sqrt(u) theta` once theta has stopped changing to working
/// precision (then the error in theta is at most `residual^2 / gap`), or when the Krylov space is
/// invariant or all of `C^(n^2)`.
fn kronecker_two_norm<S: Scalar>(f: &ExpmFrechet<S>) -> Result<f64> {
    let n = f.n;
    let dim = n * n;
    let u = S::Real::UNIT_ROUNDOFF.to_f64();
    let mut work = Work::new();
    let mut tmp = Array2::zeros((n, n));
    let mut kv = Array2::zeros((n, n));
    // A deterministic pseudo-random start (xorshift64*): reproducible results.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    // A real start serves complex K too: no nonzero vector is orthogonal to almost every real one.
    let mut v = Array2::from_shape_fn((n, n), |_| S::from_f64(next()));
    let nv = inner(&v, &v).re().to_f64().sqrt();
    v.mapv_inplace(|z| z.scale(S::Real::from_f64(1.0 / nv)));
    let mut basis: Vec<Array2<S>> = Vec::new();
    let (mut alphas, mut betas) = (Vec::<f64>::new(), Vec::<f64>::new());
    let mut theta_old = 0.0;
    // K^* K is applied as sigma K^* (sigma K v) with a power of two sigma ~ 1 / ||K v|| chosen
    // at the first step (1 unless ||K v|| is beyond 2^+-32): where ||K|| is near or beyond 1e154
    // its square, the scale of K^* K v and of the Lanczos inner products, would overflow
    // although ||K|| does not.
    let mut sigma: Option<f64> = None;
    loop {
        // w = K^* K v
        f.derivative_work(v.view(), &mut kv, &mut work)?;
        let scale = match sigma {
            Some(scale) => scale,
            None => {
                let (big, root) = frobenius_parts(kv.view());
                let norm = big * root;
                if !norm.is_finite() {
                    // ||K|| >= ||K v|| overflows; in a rescaled setup (the only one where it
                    // can: otherwise ||K|| <= e^(2 ||A||_1) < 1e139) ||exp(A)||_F is about 1,
                    // so kappa = ||K|| ||A||_F / ||exp(A)||_F overflows too.
                    return Ok(f64::INFINITY);
                }
                // sigma = 2^-e with 2^e about ||K v||: sigma K^* (sigma K v) is of size 1.
                let e = if norm > 0.0 {
                    norm.log2().round() as i32
                } else {
                    0
                };
                *sigma.insert(if e.abs() > 32 { 2f64.powi(-e) } else { 1.0 })
            }
        };
        let c = S::Real::from_f64(scale);
        if scale != 1.0 {
            kv.mapv_inplace(|z| z.scale(c));
        }
        let mut w = Array2::zeros((n, n));
        if !kv.iter().all(|z| z.is_finite()) {
            // ||K|| beyond the range of a rescaled setup (see `rescale_bound`): kappa overflows.
            return Ok(f64::INFINITY);
        }
        f.adjoint_work(kv.view(), &mut w, &mut work, &mut tmp)?;
        if scale != 1.0 {
            w.mapv_inplace(|z| z.scale(c));
        }
        if !w.iter().all(|z| z.is_finite()) {
            return Ok(f64::INFINITY);
        }
        let alpha = inner(&v, &w).re().to_f64();
        basis.push(v);
        alphas.push(alpha);
        // Full reorthogonalization, twice (Gram-Schmidt "twice is enough").
        for _ in 0..2 {
            for q in &basis {
                let c = inner(q, &w);
                Zip::from(&mut w).and(q).for_each(|x, &y| *x -= c * y);
            }
        }
        let beta = inner(&w, &w).re().to_f64().sqrt();
        let (theta, last) = tridiagonal_top(&alphas, &betas)?;
        let residual = beta * last.abs();
        let steps = alphas.len();
        let stalled = (theta - theta_old).abs() <= 2.0 * u * theta;
        if residual <= 16.0 * u * theta
            || (stalled && residual <= u.sqrt() * theta)
            || beta <= u * theta
            || steps == dim
            || steps == LANCZOS_MAX_STEPS
        {
            // theta = sigma^2 ||K||^2.
            return Ok(theta.max(0.0).sqrt() / scale);
        }
        theta_old = theta;
        betas.push(beta);
        let inv = S::Real::from_f64(1.0 / beta);
        v = w.mapv(|z| z.scale(inv));
    }
}

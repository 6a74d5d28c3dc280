//! The action of the matrix exponential, `exp(tA) B`, without forming `exp(tA)`
//! (Al-Mohy & Higham 2011, "Computing the action of the matrix exponential, with an application
//! to exponential integrators", SIAM J. Sci. Comput. 33(2):488-511).
//!
//! With the shift `mu = trace(A) / n` (Section 3.1) and `A_mu = A - mu I`,
//! `exp(tA) B = e^(t mu) (T_m(t A_mu / s))^s B`, where `T_m` is the degree-`m` truncated Taylor
//! series, applied as `s` steps of `m` products with `A` each and truncated early once two
//! successive terms are below the unit roundoff relative to the sum (Algorithm 3.2). The pair
//! `(m, s)` minimises `m s` subject to the backward-error bound `||t A_mu / s|| <= theta_m`, from
//! `||A_mu||_1` or, when that is large, from 1-norm estimates of powers of `A_mu`
//! (code fragment 3.1, in `params.rs`). No balancing is applied. For a dense `A`, `exp(tA) B` at
//! a single time (and at the first point of a grid) goes through `expm(tA) B` instead where the Taylor steps (about `||tA||_1 / 10` steps of up to
//! 55 products with the block) would cost more than four times the `log2 ||tA||_1 + 8` products of
//! `n x n` matrices of scaling and squaring, and the result is finite.
//!
//! On a uniform time grid `t_k = t_0 + k h` (Algorithm 5.2) the first point gets its own
//! `(m, s)` for `|t_0|`, and the interval `[t_0, t_q]` is covered with the parameters of
//! `|t_q - t_0|`: when that needs fewer steps `s` than the grid has points, each block of `d`
//! grid points shares one set of Taylor vectors `((d h)/p)^p A_mu^p X / p!`, reused for every
//! point of the block. Norms use `|t|`, the first point gets its own parameters, and a decreasing
//! grid is computed as the increasing one and reordered, so reversed grids (`stop < start`) and
//! grids far from 0 are as accurate as any other (scipy 1.17 takes `t ||A||` with the sign of `t`
//! and reuses the interval's parameters at `t_0`: scipy issues 16375 and 16311).
//!
//! Overflow: once an entry of the state overflows, `0 * inf` in a product would make the
//! other entries NaN, and the truncation test relative to an infinite norm would cut their
//! Taylor sums after one term. A result with an infinite or NaN entry (from finite input) is
//! (for `||t (A - mu I)||_1` up to `10^5`; beyond, the fast result stands) therefore recomputed
//! with products that skip the exact zeros of `A - mu I`
//! ([`LinearOperator::apply_shifted_exact_zeros`]), full Taylor sums, and steps of norm at most
//! 1 (so that an entry that does not overflow is accurate to about `e^2 u` per step, not the
//! `e^(2 theta_m) u` of the cancelling terms): `exp(tA) B` is infinite exactly where it
//! overflows and accurate elsewhere. The factor `e^(t mu)` of a huge shift is applied in pieces
//! that neither overflow nor underflow. Norms of powers of `A` that overflow (NaN included) are
//! infinite, so the step count is never underestimated: such an `A` is
//! [`Error::TooManySteps`]. Results that do not overflow are computed exactly as before, bit for
//! bit.

mod csr;
mod dia;
mod estimate;
mod operator;
mod params;

pub use csr::{CsrIndex, CsrMatrix};
pub use dia::DiaMatrix;
pub use operator::{DenseOperator, LinearOperator};

use ndarray::{Array2, Array3, ArrayView2, Zip};

use crate::error::{Error, Result};
use crate::expm::pade;
use crate::scalar::{RealScalar, Scalar};
use estimate::{Rng, estimate_trace};
use operator::{nan_max, norm_inf};
use params::{NormInfo, norm1_shifted};

/// Seed of the random vectors of the trace and norm estimators (fixed: results reproduce).
const SEED: u64 = 0x5DEE_CE66_D1CE_4E5B;

/// A uniform grid of times `t_k = start + k step`, `k = 0..count`, as `numpy.linspace` makes it.
///
/// # Example
///
/// ```
/// use linflow::TimeGrid;
///
/// let g = TimeGrid::linspace(1.0_f64, 2.0, 3, true);
/// assert_eq!((g.time(0), g.time(1), g.time(2)), (1.0, 1.5, 2.0));
/// let g = TimeGrid::linspace(1.0_f64, 2.0, 4, false);
/// assert_eq!(g.step, 0.25);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeGrid<R> {
    /// The first time `t_0`.
    pub start: R,
    /// The spacing `h` (any sign).
    pub step: R,
    /// The number of times.
    pub count: usize,
}

impl<R: RealScalar> TimeGrid<R> {
    /// `num` evenly spaced times from `start` to `stop`, with `stop` included when `endpoint`
    /// (spacing `(stop - start) / (num - 1)`) or excluded (spacing `(stop - start) / num`).
    pub fn linspace(start: R, stop: R, num: usize, endpoint: bool) -> Self {
        let div = if endpoint { num.saturating_sub(1) } else { num };
        let step = if div > 0 {
            (stop - start) / R::from_f64(div as f64)
        } else {
            R::zero()
        };
        Self {
            start,
            step,
            count: num,
        }
    }

    /// `t_k = start + k step`.
    pub fn time(&self, k: usize) -> R {
        self.start + R::from_f64(k as f64) * self.step
    }
}

/// Options of [`expm_multiply`]: a known trace of `A` (otherwise taken from the operator, or
/// estimated).
///
/// # Example
///
/// ```
/// use linflow::{DenseOperator, ExpmMultiply, TimeGrid};
/// use ndarray::array;
///
/// let a = array![[-2.0_f64, 1.0], [1.0, -2.0]];
/// let op = DenseOperator::new(a.view())?;
/// let b = array![[1.0], [1.0]]; // an eigenvector, eigenvalue -1
/// let x = ExpmMultiply::new()
///     .with_trace(-4.0)
///     .apply_grid(&op, b.view(), TimeGrid::linspace(0.0, 2.0, 5, true))?;
/// for k in 0..5 {
///     let t = 0.5 * k as f64;
///     assert!((x[[k, 0, 0]] - (-t).exp()).abs() < 1e-15);
/// }
/// # Ok::<(), linflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ExpmMultiply<S: Scalar> {
    trace: Option<S>,
}

impl<S: Scalar> Default for ExpmMultiply<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Scalar> ExpmMultiply<S> {
    /// Default options.
    pub fn new() -> Self {
        Self { trace: None }
    }

    /// Use `trace` as `trace(A)` for the shift `mu = trace / n` (Al-Mohy & Higham 2011,
    /// Section 3.1). An approximation is fine: the shift is undone exactly, and it is dropped
    /// when it would increase `||A - mu I||_1`.
    pub fn with_trace(self, trace: S) -> Self {
        Self { trace: Some(trace) }
    }

    /// `exp(tA) B` for `B` of shape `(n, k)`.
    ///
    /// # Errors
    ///
    /// As [`expm_multiply`].
    pub fn apply<Op: LinearOperator<S> + ?Sized>(
        &self,
        a: &Op,
        b: ArrayView2<S>,
        t: S::Real,
    ) -> Result<Array2<S>> {
        let ctx = Context::new(a, b, self.trace, &[t.to_f64()])?;
        let mut out = Array2::zeros(b.raw_dim());
        if ctx.trivial {
            return Ok(out);
        }
        if ctx.dense_action(b, t, &mut out)? {
            return Ok(out);
        }
        let mut bufs = Buffers::new(b.dim());
        ctx.simple(b, t.to_f64(), &mut out, &mut bufs, Mode::Fast)?;
        if !all_finite(&out) && ctx.recomputable(t.to_f64().abs()) {
            let mode = ctx.overflowed_mode(t.to_f64().abs());
            ctx.simple(b, t.to_f64(), &mut out, &mut bufs, mode)?;
        }
        Ok(out)
    }

    /// `exp(t_k A) B` for every time of `grid`, stacked: shape `(grid.count, n, k)`.
    ///
    /// # Errors
    ///
    /// As [`expm_multiply_grid`].
    pub fn apply_grid<Op: LinearOperator<S> + ?Sized>(
        &self,
        a: &Op,
        b: ArrayView2<S>,
        grid: TimeGrid<S::Real>,
    ) -> Result<Array3<S>> {
        let (n, k) = b.dim();
        let ends = [grid.start.to_f64(), grid.step.to_f64()];
        let ctx = Context::new(a, b, self.trace, &ends)?;
        let mut out = Array3::zeros((grid.count, n, k));
        if ctx.trivial || grid.count == 0 {
            return Ok(out);
        }
        if grid.count > 1 && grid.step.to_f64() < 0.0 {
            // A decreasing grid is the increasing one read backwards: computing it from its
            // earliest time makes the values independent of the order (stepping backwards in
            // time from the latest would amplify its rounding errors by cond(exp(-h A)), e^(4 h
            // ||A||/2)-fold per step for a diffusion operator).
            let forward = TimeGrid {
                start: grid.time(grid.count - 1),
                step: -grid.step,
                count: grid.count,
            };
            ctx.grid_checked(b, forward, &mut out)?;
            return Ok(out.slice(ndarray::s![..;-1, .., ..]).to_owned());
        }
        ctx.grid_checked(b, grid, &mut out)?;
        Ok(out)
    }
}

/// How many times the cost of scaling and squaring the Taylor steps must exceed before a dense
/// `A` is exponentiated instead (see `Context::squaring_is_cheaper`).
const SQUARING_MARGIN: f64 = 4.0;

/// `out = exp(tA) B` for a dense `A`: `exp(tA)` by scaling and squaring (entries of `tA` that
/// would overflow are halved first and the result squared back, as the flow functions do), then
/// one product. Returns whether `out` holds the result: a finite one, or any for a diagonal `A`
/// (then `e^(t a_ii) b_ij`, exact, infinite exactly where it overflows; a zero `b_ij` gives 0,
/// not `inf * 0`). Otherwise the caller computes it by the Taylor steps (or reports that they are
/// too many): scaling and squaring is accurate in norm, which an overflowed entry is not
/// evidence of (`exp(-c J)` for the all-ones `J` and `c = 1e300` is the finite `I - J/3` at order
/// 3, where the squarings give `+-inf`).
fn dense_action<S: Scalar>(
    a: ArrayView2<S>,
    b: ArrayView2<S>,
    t: S::Real,
    out: &mut Array2<S>,
) -> Result<bool> {
    let e = crate::flow::exp_scaled(a, t)?;
    let diagonal = a
        .indexed_iter()
        .all(|((i, j), &v)| i == j || v == S::zero());
    if diagonal {
        Zip::indexed(&mut *out).and(&b).for_each(|(i, _), o, &v| {
            *o = if v == S::zero() { v } else { e[[i, i]] * v };
        });
        return Ok(true);
    }
    if !all_finite(&e) {
        return Ok(false);
    }
    crate::dense::mat_mul(S::one(), &e, &b, S::zero(), out);
    Ok(all_finite(out))
}

/// How the Taylor sums are formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Al-Mohy & Higham's algorithms as they are: the operator's own fused Taylor terms, and
    /// each sum truncated once two terms are below the tolerance.
    Fast,
    /// The recomputation of a result that overflowed (an infinite or NaN entry, from finite
    /// input): products skip the exact zeros of `A - mu I` (0 times an overflowed entry is 0,
    /// not NaN, [`LinearOperator::apply_shifted_exact_zeros`]), and every sum takes all its `m`
    /// terms (a tolerance relative to an infinite norm would truncate the sums of the entries
    /// that did not overflow after one term). `shifted: false` drops the shift `mu` where that
    /// is affordable: the alternating terms of `A - mu I` would turn an entry that overflowed
    /// into `inf - inf = NaN`, where those of `A` keep it infinite (for a diagonal `A`, always).
    Overflowed { shifted: bool },
}

/// Largest `||t (A - mu I)||_1 / s` of a Taylor step in [`Mode::Overflowed`].
const OVERFLOWED_STEP: f64 = 1.0;
/// Largest `||t (A - mu I)||_1` recomputed in [`Mode::Overflowed`].
const OVERFLOWED_MAX_NORM: f64 = 1e5;
/// Most products with `A` of an unshifted [`Mode::Overflowed`] recomputation.
const OVERFLOWED_UNSHIFTED_PRODUCTS: f64 = 1e6;

/// Whether every entry is finite.
fn all_finite<S: Scalar, D: ndarray::Dimension>(x: &ndarray::Array<S, D>) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// `||x||_inf` with NaN taken as infinity.
fn norm_inf_overflowed<S: Scalar>(x: ArrayView2<S>) -> f64 {
    x.rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.modulus().to_f64()).sum::<f64>())
        .fold(0.0, nan_max)
}

/// `e^z` as `factor^count`, with `count` the fewest pieces whose factors neither overflow nor
/// underflow (|Re z| / count at most half the exponent range): `exp(t mu) x` for a huge shift
/// `t mu` is then `x` multiplied `count` times, never an overflow of `e^(t mu)` itself where the
/// product is finite. One piece (`e^z` itself) for every `|Re z|` below 354 in double precision
/// and 44 in single; at most 8 (beyond `|Re z| = 8 * 354`, `e^z x` is 0 or infinite for every
/// finite `x`; [`scale_in_pieces`] keeps the zeros of `x` zero then).
fn exp_pieces<S: Scalar>(z: S) -> (S, usize) {
    let half_range = match S::PRECISION {
        crate::scalar::Precision::Double => 354.0,
        crate::scalar::Precision::Single => 44.0,
    };
    let count = (z.re().to_f64().abs() / half_range).ceil().min(8.0);
    if count <= 1.0 || !count.is_finite() {
        return (z.exp(), 1);
    }
    (
        z.scale(S::Real::from_f64(1.0 / count)).exp(),
        count as usize,
    )
}

/// `x <- eta^count x` as [`exp_pieces`] gives `eta` and `count`; an infinite `eta` leaves the
/// zeros of `x` zero (the exact `e^z 0`), where `0 * inf` is NaN.
fn scale_in_pieces<S: Scalar, D: ndarray::Dimension>(
    mut x: ndarray::ArrayViewMut<S, D>,
    (eta, count): (S, usize),
) {
    if eta == S::one() {
        return;
    }
    for _ in 0..count {
        if eta.is_finite() {
            x.mapv_inplace(|v| v * eta);
        } else {
            x.mapv_inplace(|v| if v == S::zero() { v } else { v * eta });
        }
    }
}

/// `exp(tA) B` for a square operator `A` (dense, CSR or any [`LinearOperator`]) and a block `B`
/// of shape `(n, k)`, by Al-Mohy & Higham (2011), Algorithm 3.2, in the precision of `S`
/// (`f32` and `Complex<f32>` use the single-precision `theta_m` and tolerance `2^-24`).
///
/// `t` may have any sign. Costs about `m s` products with `A` (see the [module docs](self)).
///
/// Where `exp(tA) B` overflows, the result is infinite there and exact elsewhere, never NaN
/// from finite input (see the [module docs](self), "Overflow").
///
/// # Errors
///
/// [`Error::NotSquare`] if `A` is not square, [`Error::ShapeMismatch`] if `B` does not have `n`
/// rows, [`Error::NonFinite`] if `B`, `t` or the trace is NaN or infinite,
/// [`Error::TooManySteps`] if the Taylor steps would take more than `10^9` products with `A`
/// (`||tA||_1` beyond about `10^10`, or norms of powers of `A` that overflow) and the operator
/// has no dense matrix ([`LinearOperator::as_dense`]), and whatever the operator reports.
///
/// A dense `A` (`as_dense` gives it) is exponentiated by scaling and squaring instead, then
/// multiplied by `B`, where the Taylor steps would cost clearly more (about `||tA||_1` products
/// with `B` against about `log2 ||tA||_1` products of `n x n` matrices) and the result is finite;
/// a result that overflows is left to the Taylor steps (and their limit).
///
/// # Example
///
/// ```
/// use linflow::{expm_multiply, DenseOperator};
/// use ndarray::array;
///
/// // x' = A x with A = [[0, 1], [0, 0]]: exp(tA) = [[1, t], [0, 1]].
/// let a = array![[0.0_f64, 1.0], [0.0, 0.0]];
/// let x = expm_multiply(&DenseOperator::new(a.view())?, array![[0.0], [1.0]].view(), -2.5)?;
/// assert_eq!(x, array![[-2.5], [1.0]]);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_multiply<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    a: &Op,
    b: ArrayView2<S>,
    t: S::Real,
) -> Result<Array2<S>> {
    ExpmMultiply::new().apply(a, b, t)
}

/// `exp(t_k A) B` on a uniform time grid (Al-Mohy & Higham 2011, Algorithm 5.2), as an array of
/// shape `(grid.count, n, k)`: the Taylor vectors of one step are reused for every grid point
/// the step covers. The grid need not contain 0, and may run backwards (it is then computed
/// from its earliest time and reordered: the values do not depend on the order of the grid).
///
/// # Errors
///
/// As [`expm_multiply`].
///
/// # Example
///
/// ```
/// use linflow::{expm_multiply_grid, CsrMatrix, TimeGrid};
/// use ndarray::array;
///
/// // A = [[0, 1], [-1, 0]] as CSR: exp(tA) [1, 0] = [cos t, -sin t], here for t = 3, 2, 1, 0.
/// let a = CsrMatrix::new((2, 2), &[0usize, 1, 2], &[1usize, 0], &[1.0_f64, -1.0])?;
/// let x = expm_multiply_grid(&a, array![[1.0], [0.0]].view(), TimeGrid::linspace(3.0, 0.0, 4, true))?;
/// for (k, t) in [3.0_f64, 2.0, 1.0, 0.0].into_iter().enumerate() {
///     assert!((x[[k, 0, 0]] - t.cos()).abs() <= 1e-15);
///     assert!((x[[k, 1, 0]] + t.sin()).abs() <= 1e-15);
/// }
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_multiply_grid<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    a: &Op,
    b: ArrayView2<S>,
    grid: TimeGrid<S::Real>,
) -> Result<Array3<S>> {
    ExpmMultiply::new().apply_grid(a, b, grid)
}

/// Work blocks of the Taylor loops.
struct Buffers<S: Scalar> {
    prev: Array2<S>,
    next: Array2<S>,
}

impl<S: Scalar> Buffers<S> {
    fn new(dim: (usize, usize)) -> Self {
        Self {
            prev: Array2::zeros(dim),
            next: Array2::zeros(dim),
        }
    }
}

/// One problem: the operator, its shift and norms, and the tolerance.
struct Context<'a, S: Scalar, Op: LinearOperator<S> + ?Sized> {
    op: &'a Op,
    mu: S,
    /// Columns of `B` (the `n0` of the cost model).
    n0: usize,
    /// Unit roundoff of `S`: the truncation tolerance.
    tol: f64,
    norms: Option<NormInfo<'a, S, Op>>,
    /// `||A||_1` (exact or estimated), for [`Mode::Overflowed`] without the shift.
    unshifted_norm: f64,
    /// `n == 0` or `k == 0`: nothing to compute.
    trivial: bool,
}

impl<'a, S: Scalar, Op: LinearOperator<S> + ?Sized> Context<'a, S, Op> {
    fn new(op: &'a Op, b: ArrayView2<S>, trace: Option<S>, times: &[f64]) -> Result<Self> {
        let (rows, cols) = op.shape();
        if rows != cols {
            return Err(Error::NotSquare { rows, cols });
        }
        let (n, k) = b.dim();
        if n != rows {
            return Err(Error::ShapeMismatch {
                expected: vec![rows, k],
                found: vec![n, k],
            });
        }
        if !times.iter().all(|t| t.is_finite()) || !b.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite);
        }
        if trace.is_some_and(|t| !t.is_finite()) {
            return Err(Error::NonFinite);
        }
        let tol = S::Real::UNIT_ROUNDOFF.to_f64();
        let mut ctx = Self {
            op,
            mu: S::zero(),
            n0: k,
            tol,
            norms: None,
            unshifted_norm: 0.0,
            trivial: n == 0 || k == 0,
        };
        if ctx.trivial {
            return Ok(ctx);
        }
        let mut rng = Rng::new(SEED);
        let trace = match trace.or_else(|| op.trace()) {
            Some(t) => t,
            None => estimate_trace(op, &mut rng)?,
        };
        // The shift of Section 3.1, kept only when it does not increase the 1-norm: a trace that
        // is far off (a guess passed by the caller) would otherwise make the Taylor sums cancel.
        let mut mu = trace.scale(S::Real::from_f64(1.0 / n as f64));
        let mut norm = norm1_shifted(op, mu, &mut rng)?;
        ctx.unshifted_norm = norm;
        if mu != S::zero() {
            let unshifted = norm1_shifted(op, S::zero(), &mut rng)?;
            ctx.unshifted_norm = unshifted;
            if unshifted < norm {
                (mu, norm) = (S::zero(), unshifted);
            }
        }
        ctx.mu = mu;
        ctx.norms = Some(NormInfo::new(op, mu, norm, rng));
        Ok(ctx)
    }

    fn norms(&self) -> &NormInfo<'a, S, Op> {
        self.norms.as_ref().expect("set for non-trivial problems")
    }

    /// `out = exp(tA) b` with its own parameters for `|t|` (Algorithm 3.2).
    fn simple(
        &self,
        b: ArrayView2<S>,
        t: f64,
        out: &mut Array2<S>,
        bufs: &mut Buffers<S>,
        mode: Mode,
    ) -> Result<()> {
        let (m, s) = self.parameters(t, mode)?;
        self.taylor(b, t, m, s, out, bufs, mode)
    }

    /// Whether `exp(tA)` by scaling and squaring, then one product with `B`, costs less than the
    /// Taylor steps, for a dense `A` of order `n` and `B` of `k` columns. Scaling and squaring
    /// takes about `ceil(log2(||tA||_1 / theta)) + 8` products of `n x n` matrices (the squarings
    /// towards `expm`'s scaling threshold `theta`, six for the order-13 approximant and about
    /// `4/3` for its solve), that is `n^3` multiply-adds each; the Taylor steps take `m s` products with the block, `n^2 k` each. Scaling and
    /// squaring is chosen when the Taylor cost is more than [`SQUARING_MARGIN`] times its own
    /// (and whenever the Taylor steps are past their limit): a block of few columns then runs at
    /// matrix-vector speed, well below that of matrix products, so the margin keeps the Taylor
    /// method wherever it is not clearly slower.
    fn squaring_is_cheaper(&self, t: f64) -> bool {
        let n = self.op.shape().0 as f64;
        let norm = t.abs() * self.unshifted_norm;
        let squarings = pade::squarings_for(norm, pade::scaling_threshold(S::PRECISION));
        let squaring_cost = (f64::from(squarings) + 8.0) * n;
        match self.norms().parameters(t, self.n0) {
            Ok((m, s)) => (m * s * self.n0) as f64 > SQUARING_MARGIN * squaring_cost,
            Err(Error::TooManySteps { .. }) => true,
            Err(_) => false,
        }
    }

    /// `out = exp(tA) B` by [`dense_action`] when the operator is dense and that is cheaper than
    /// the Taylor steps ([`Context::squaring_is_cheaper`]); whether `out` now holds the result.
    fn dense_action(&self, b: ArrayView2<S>, t: S::Real, out: &mut Array2<S>) -> Result<bool> {
        match self.op.as_dense() {
            Some(dense) if self.squaring_is_cheaper(t.to_f64()) => dense_action(dense, b, t, out),
            _ => Ok(false),
        }
    }

    /// `(m, s)` for `|t|` (code fragment 3.1). In [`Mode::Overflowed`] the steps are made short
    /// enough that `||t (A - mu I)||_1 / s <= 1` (when that costs at most 4 times as many products): an
    /// entry that does not overflow next to one that does is no longer protected by the
    /// normwise truncation, and the alternating terms of a step of size `theta_m` (up to 9.9)
    /// cancel by up to `e^(2 theta_m)`; steps of size 1 bound that by `e^2`.
    fn parameters(&self, t: f64, mode: Mode) -> Result<(usize, usize)> {
        let (m, s) = self.norms().parameters(t, self.n0)?;
        let norm = match mode {
            Mode::Fast => return Ok((m, s)),
            Mode::Overflowed { shifted: true } => t.abs() * self.norms().norm1(),
            Mode::Overflowed { shifted: false } => t.abs() * self.unshifted_norm,
        };
        let short = (norm / OVERFLOWED_STEP).ceil().max(s as f64);
        let Some(m_short) =
            (1..=params::M_MAX).find(|&k| params::theta(S::PRECISION, k) * short >= norm)
        else {
            return Ok((m, s));
        };
        // Shifted: at most 4 times the products of the fast parameters (a recomputation, not a
        // hang); unshifted, the short steps are the only parameters for the unshifted norm (and
        // at most `OVERFLOWED_UNSHIFTED_PRODUCTS`, `overflowed_mode`).
        let shifted = mode == (Mode::Overflowed { shifted: true });
        if shifted && m_short as f64 * short > 4.0 * (m * s) as f64 {
            return Ok((m, s));
        }
        Ok((m_short, short as usize))
    }

    /// Whether a result that overflowed is recomputed in [`Mode::Overflowed`]: for
    /// `||t (A - mu I)||_1` up to `10^5` (beyond it the recomputation, with full Taylor sums,
    /// would take seconds to minutes; the fast result, inf or NaN where it overflowed, stands).
    fn recomputable(&self, t_max: f64) -> bool {
        t_max * self.norms().norm1() <= OVERFLOWED_MAX_NORM
    }

    /// The shift of the Taylor terms in `mode`.
    fn shift(&self, mode: Mode) -> S {
        match mode {
            Mode::Overflowed { shifted: false } => S::zero(),
            _ => self.mu,
        }
    }

    /// [`Mode::Overflowed`] for times up to `t_max`, without the shift when the unshifted steps
    /// (about `18 ||tA||_1` products, see [`Context::parameters`]) are at most `10^6`.
    fn overflowed_mode(&self, t_max: f64) -> Mode {
        let products = 18.0 * t_max * self.unshifted_norm;
        Mode::Overflowed {
            shifted: products.is_nan() || products > OVERFLOWED_UNSHIFTED_PRODUCTS,
        }
    }

    /// One Taylor term `next = coeff (A - mu I) prev`, and `sum += next` with `sum`: the
    /// operator's fused [`LinearOperator::taylor_term`], or in [`Mode::Overflowed`] the product
    /// that skips exact zeros. Returns `(||next||_inf, ||sum||_inf)` as `taylor_term` does.
    fn term(
        &self,
        mode: Mode,
        coeff: S,
        prev: ArrayView2<S>,
        mut next: ndarray::ArrayViewMut2<S>,
        sum: Option<ndarray::ArrayViewMut2<S>>,
    ) -> Result<(f64, f64)> {
        if mode == Mode::Fast {
            return self.op.taylor_term(coeff, self.mu, prev, next, sum);
        }
        // coeff first: (A - mu I) prev may overflow where coeff (A - mu I) prev does not (coeff
        // is at most 1 / ||A - mu I||_1 here, steps of norm 1).
        let scaled = prev.mapv(|v| coeff * v);
        self.op
            .apply_shifted_exact_zeros(self.shift(mode), scaled.view(), next.view_mut())?;
        let next_norm = norm_inf_overflowed(next.view());
        let sum_norm = match sum {
            Some(mut f) => {
                Zip::from(&mut f).and(&next).for_each(|f, &y| *f += y);
                norm_inf_overflowed(f.view())
            }
            None => 0.0,
        };
        Ok((next_norm, sum_norm))
    }

    /// [`Context::grid`], recomputed in [`Mode::Overflowed`] if a result overflowed.
    fn grid_checked(
        &self,
        b: ArrayView2<S>,
        grid: TimeGrid<S::Real>,
        out: &mut Array3<S>,
    ) -> Result<()> {
        self.grid(b, grid, out, Mode::Fast)?;
        let last = grid.time(grid.count.saturating_sub(1)).to_f64();
        let t_max = grid.start.to_f64().abs().max(last.abs());
        if !all_finite(out) && self.recomputable(t_max) {
            let mode = self.overflowed_mode(t_max);
            self.grid(b, grid, out, mode)?;
        }
        Ok(())
    }

    /// `out = exp(tA) b` with `s` steps of the degree-`m` Taylor series (Algorithm 3.2, lines
    /// 8-20): each step sums terms `B <- (t / (s j)) A_mu B` until two successive terms are
    /// below `tol ||F||_inf`, then multiplies by `e^(t mu / s)`.
    #[allow(clippy::too_many_arguments)]
    fn taylor(
        &self,
        b: ArrayView2<S>,
        t: f64,
        m: usize,
        s: usize,
        out: &mut Array2<S>,
        bufs: &mut Buffers<S>,
        mode: Mode,
    ) -> Result<()> {
        out.assign(&b);
        let eta = exp_pieces(S::from_f64(t / s as f64) * self.shift(mode));
        for _ in 0..s {
            bufs.prev.assign(out);
            let mut c1 = norm_inf(bufs.prev.view());
            for j in 1..=m {
                let coeff = S::from_f64(t / (s as f64 * j as f64));
                let (c2, norm_f) = self.term(
                    mode,
                    coeff,
                    bufs.prev.view(),
                    bufs.next.view_mut(),
                    Some(out.view_mut()),
                )?;
                std::mem::swap(&mut bufs.prev, &mut bufs.next);
                if mode == Mode::Fast && c1 + c2 <= self.tol * norm_f {
                    break;
                }
                c1 = c2;
            }
            scale_in_pieces(out.view_mut(), eta);
        }
        Ok(())
    }

    /// Algorithm 5.2 on the grid, with the corrections described in the module docs.
    fn grid(
        &self,
        b: ArrayView2<S>,
        grid: TimeGrid<S::Real>,
        out: &mut Array3<S>,
        mode: Mode,
    ) -> Result<()> {
        let mut bufs = Buffers::new(b.dim());
        let mut x = Array2::zeros(b.raw_dim());
        let t0 = grid.start.to_f64();
        if mode != Mode::Fast || !self.dense_action(b, grid.start, &mut x)? {
            self.simple(b, t0, &mut x, &mut bufs, mode)?;
        }
        out.index_axis_mut(ndarray::Axis(0), 0).assign(&x);
        let q = grid.count - 1;
        if q == 0 {
            return Ok(());
        }
        let h = grid.step.to_f64();
        let (m, s) = self.parameters(q as f64 * h, mode)?;
        if q <= s {
            // Every grid step needs scaling of its own: parameters for |h|, one step at a time.
            let (m1, s1) = self.parameters(h, mode)?;
            for k in 0..q {
                let prev = out.index_axis(ndarray::Axis(0), k).to_owned();
                self.taylor(prev.view(), h, m1, s1, &mut x, &mut bufs, mode)?;
                out.index_axis_mut(ndarray::Axis(0), k + 1).assign(&x);
            }
            return Ok(());
        }
        // Blocks of d grid steps, d h <= (t_q - t_0) / s, each from the block's first point.
        let d = q / s;
        let blocks = q / d;
        let rest = q - d * blocks;
        // Taylor vectors K_p = ((d h) A_mu)^p Z / p! and their inf-norms; point k of a block is
        // sum_p (k/d)^p K_p (coefficients at most 1: no overflow however fine the grid).
        let mut taylor: Vec<Array2<S>> = Vec::with_capacity(m + 1);
        let mut norms: Vec<f64> = Vec::with_capacity(m + 1);
        let mut sum = Array2::zeros(b.raw_dim());
        for i in 0..=blocks {
            let width = if i < blocks { d } else { rest };
            if width == 0 {
                continue;
            }
            let first = out.index_axis(ndarray::Axis(0), i * d).to_owned();
            norms.clear();
            norms.push(norm_inf(first.view()));
            taylor.truncate(0);
            taylor.push(first);
            for k in 1..=width {
                let ratio = k as f64 / d as f64;
                sum.assign(&taylor[0]);
                let mut c1 = norms[0];
                let mut coeff = 1.0;
                for p in 1..=m {
                    if p == taylor.len() {
                        let mut next = Array2::zeros(b.raw_dim());
                        let scale = S::from_f64(d as f64 * h / p as f64);
                        let (norm, _) =
                            self.term(mode, scale, taylor[p - 1].view(), next.view_mut(), None)?;
                        taylor.push(next);
                        norms.push(norm);
                    }
                    coeff *= ratio;
                    let c = S::from_f64(coeff);
                    let mut norm_f = 0.0f64;
                    for (srow, krow) in sum.rows_mut().into_iter().zip(taylor[p].rows()) {
                        let mut row = 0.0;
                        Zip::from(srow).and(krow).for_each(|f, &v| {
                            *f += c * v;
                            row += f.modulus().to_f64();
                        });
                        norm_f = norm_f.max(row);
                    }
                    let c2 = coeff * norms[p];
                    if mode == Mode::Fast && c1 + c2 <= self.tol * norm_f {
                        break;
                    }
                    c1 = c2;
                }
                let (eta, pieces) = exp_pieces(S::from_f64(k as f64 * h) * self.shift(mode));
                let mut dst = out.index_axis_mut(ndarray::Axis(0), i * d + k);
                if pieces == 1 && eta.is_finite() {
                    Zip::from(&mut dst).and(&sum).for_each(|o, &v| *o = eta * v);
                } else {
                    dst.assign(&sum);
                    scale_in_pieces(dst, (eta, pieces));
                }
            }
        }
        Ok(())
    }
}

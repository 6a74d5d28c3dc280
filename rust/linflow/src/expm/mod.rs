//! The matrix exponential by Pade scaling and squaring (Al-Mohy & Higham 2009).
//!
//! `exp(A) = (r_m(2^-s A))^(2^s)`, where `r_m = p_m(x) / p_m(-x)` is the `[m/m]` Pade approximant.
//! The order `m` and the number of squarings `s` are chosen from `||A^k||^(1/k)` so that the
//! backward error of `r_m` is below the unit roundoff, then corrected by `ell` for non-normal `A`
//! (see `pade.rs`). Diagonal input is exact and triangular input recomputes its diagonal and first
//! superdiagonal at each squaring (see `structure.rs`).

mod normest;
pub(crate) mod pade;
mod plan;
mod small;
mod structure;

use ndarray::linalg::general_mat_vec_mul;

use crate::dense::mat_mul;
use ndarray::{
    Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis, Zip, s,
};
use rayon::prelude::*;
use std::cell::RefCell;

use num_traits::{One, Zero};

use crate::cache::{Slot, with_slot};
use crate::error::{Error, Result};
use crate::scalar::{RealScalar, Scalar};
use pade::pade_table;
use plan::{AbsPowerBounds, Plan, PowerNorms, Settle, choose_plan, fallback_plan, norm_max};
use structure::{Structure, fix_triangular, has_nan, redo_nan_entries_keeping_zeros};

/// The matrix exponential `exp(A) = sum_k A^k / k!` of a square matrix.
///
/// Computed by Pade scaling and squaring (Al-Mohy & Higham 2009) to working precision: relative
/// error of order `u * cond(exp, A)` with `u` the unit roundoff of `S` (`f32` and `Complex<f32>`
/// compute in single precision with single-precision thresholds). Diagonal input gives
/// `exp` of the diagonal exactly; triangular input keeps its diagonal and superdiagonal exact.
///
/// # Errors
///
/// [`Error::NotSquare`] if `a` is not square, [`Error::NonFinite`] if it holds NaN or infinity.
///
/// # Example
///
/// ```
/// use linflow::expm;
/// use ndarray::array;
///
/// // The rotation generator: exp(t [[0, -1], [1, 0]]) = [[cos t, -sin t], [sin t, cos t]].
/// let t = 0.5_f64;
/// let r = expm(array![[0.0, -t], [t, 0.0]].view())?;
/// assert!((r[[0, 0]] - t.cos()).abs() < 1e-15);
/// assert!((r[[1, 0]] - t.sin()).abs() < 1e-15);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm<S: Scalar>(a: ArrayView2<S>) -> Result<Array2<S>> {
    let mut out = Array2::zeros(a.raw_dim());
    with_cached_workspace(a.nrows(), |work: &mut Expm<S>| {
        work.compute_into(a, out.view_mut())
    })?;
    Ok(out)
}

/// [`expm`] into a caller's buffer with a reusable workspace: `out = exp(a)`.
///
/// # Errors
///
/// As [`expm`], and [`Error::ShapeMismatch`] when `out` is not the shape of `a`.
///
/// # Example
///
/// ```
/// use linflow::{expm_into, Expm};
/// use ndarray::{array, Array2};
///
/// let mut work = Expm::new();
/// let mut out = Array2::zeros((2, 2));
/// for t in [0.1_f64, 0.2, 0.3] {
///     expm_into(array![[-t, 0.0], [0.0, -2.0 * t]].view(), out.view_mut(), &mut work)?;
///     assert!((out[[1, 1]] - (-2.0 * t).exp()).abs() < 1e-16);
/// }
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_into<S: Scalar>(
    a: ArrayView2<S>,
    out: ArrayViewMut2<S>,
    work: &mut Expm<S>,
) -> Result<()> {
    work.compute_into(a, out)
}

/// `exp` of every matrix in a stack `(batch, n, n)`, in parallel over the batch (rayon), one
/// workspace per worker thread.
///
/// # Errors
///
/// As [`expm`] for any matrix of the stack (the first error found is returned).
///
/// # Example
///
/// ```
/// use linflow::expm_batch;
/// use ndarray::Array3;
///
/// // exp(t_k I) = e^(t_k) I for a stack of scaled identities.
/// let a = Array3::from_shape_fn((4, 3, 3), |(k, i, j)| if i == j { k as f64 } else { 0.0 });
/// let e = expm_batch(a.view())?;
/// assert!((e[[3, 2, 2]] - 3f64.exp()).abs() < 1e-14);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_batch<S: Scalar>(a: ArrayView3<S>) -> Result<Array3<S>> {
    let mut out = Array3::zeros(a.raw_dim());
    expm_batch_into(a, out.view_mut())?;
    Ok(out)
}

/// [`expm_batch`] into a caller's buffer of the same shape.
///
/// # Errors
///
/// As [`expm_batch`], and [`Error::ShapeMismatch`] when `out` is not the shape of `a`.
///
/// # Example
///
/// ```
/// use linflow::expm_batch_into;
/// use ndarray::Array3;
///
/// let a = Array3::<f32>::zeros((2, 2, 2));
/// let mut out = Array3::zeros((2, 2, 2));
/// expm_batch_into(a.view(), out.view_mut())?;
/// assert_eq!(out[[1, 0, 0]], 1.0);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn expm_batch_into<S: Scalar>(a: ArrayView3<S>, mut out: ArrayViewMut3<S>) -> Result<()> {
    if a.shape() != out.shape() {
        return Err(Error::ShapeMismatch {
            expected: a.shape().to_vec(),
            found: out.shape().to_vec(),
        });
    }
    let (batch, rows, cols) = a.dim();
    if rows != cols {
        return Err(Error::NotSquare { rows, cols });
    }
    // Below about this much arithmetic a thread hand-off costs more than it saves. Above
    // `BLAS_THREADED_MIN` the matrices go one at a time and each one's products, LU and solve
    // are split over rayon's pool (`crate::dense`, the same pieces for any pool size).
    let serial = batch < 2 || batch * rows * rows * rows < 4096 || rows > BLAS_THREADED_MIN;
    if serial {
        return with_cached_workspace(rows, |work: &mut Expm<S>| {
            for (x, o) in a.outer_iter().zip(out.outer_iter_mut()) {
                work.compute_into(x, o)?;
            }
            Ok(())
        });
    }
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(a.axis_iter(Axis(0)).into_par_iter())
        .try_for_each_init(Expm::new, |work, (o, x)| work.compute_into(x, o))
}

/// A reusable workspace for [`expm_into`]: the powers of `A`, the Pade numerator and denominator
/// and the LU factors, kept between calls so that repeated calls of one size allocate nothing.
#[derive(Debug, Clone)]
pub struct Expm<S: Scalar> {
    n: usize,
    /// `||A||_1` of the unscaled input.
    norm_a: f64,
    /// `n x n` products of the current call.
    products: u32,
    /// What the last call did.
    report: Option<ExpmReport>,
    /// The (scaled) input, then reused.
    a: Array2<S>,
    /// `A^2, A^4, A^6, A^8` of the current `A`.
    powers: [Array2<S>; 4],
    /// Which entries of `powers` hold the current powers.
    have: [bool; 4],
    /// Factors `2^(-s k)` still to be applied to the stored powers `A^k` after scaling `A` by
    /// `2^-s`: the first pass of the Pade evaluation applies them while it reads the powers
    /// anyway (1 when there is nothing to apply).
    power_scale: [S::Real; 4],
    u: Array2<S>,
    v: Array2<S>,
    tmp: Array2<S>,
    ipiv: Vec<i32>,
    /// Diagonal and superdiagonal of a triangular input, unscaled.
    diag: Vec<S>,
    sup: Vec<S>,
    /// `|A|` entrywise in `f64` (valid when `abs_ready`), and the vectors of the products
    /// with it, for `|| |A|^p ||_1` in `ell`.
    abs_a: Array2<f64>,
    abs_ready: bool,
    row: Array1<f64>,
    row_next: Array1<f64>,
}

/// What one `expm` computation did (see [`Expm::last_report`]): the Pade order `m`, the number
/// `s` of squarings and the number of `n x n` matrix products, the squarings included and the
/// one linear solve not (it costs about `4/3` of a product for large `n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpmReport {
    /// Pade order `m` (0 for diagonal input, computed exactly).
    pub order: usize,
    /// Squarings `s`.
    pub squarings: u32,
    /// Matrix products, the squarings included.
    pub products: u32,
}

impl<S: Scalar> Default for Expm<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Scalar> Expm<S> {
    /// An empty workspace; it grows to the size of the first matrix it sees.
    pub fn new() -> Self {
        let e = || Array2::zeros((0, 0));
        Self {
            n: 0,
            norm_a: 0.0,
            products: 0,
            report: None,
            a: e(),
            powers: [e(), e(), e(), e()],
            have: [false; 4],
            power_scale: [S::Real::one(); 4],
            u: e(),
            v: e(),
            tmp: e(),
            ipiv: Vec::new(),
            diag: Vec::new(),
            sup: Vec::new(),
            abs_a: Array2::zeros((0, 0)),
            abs_ready: false,
            row: Array1::zeros(0),
            row_next: Array1::zeros(0),
        }
    }

    fn resize(&mut self, n: usize) {
        if self.n == n {
            return;
        }
        self.n = n;
        for m in [&mut self.a, &mut self.u, &mut self.v, &mut self.tmp] {
            *m = Array2::zeros((n, n));
        }
        // A^8 is allocated when a plan needs it (`ensure_a8`).
        for p in &mut self.powers[..3] {
            *p = Array2::zeros((n, n));
        }
        self.powers[3] = Array2::zeros((0, 0));
        self.ipiv = vec![0; n];
        self.abs_a = Array2::zeros((n, n));
        self.row = Array1::zeros(n);
        self.row_next = Array1::zeros(n);
    }

    /// `out = exp(a)`; see [`expm_into`].
    ///
    /// # Errors
    ///
    /// As [`expm_into`].
    pub fn compute_into(&mut self, a: ArrayView2<S>, mut out: ArrayViewMut2<S>) -> Result<()> {
        let (rows, cols) = a.dim();
        if rows != cols {
            return Err(Error::NotSquare { rows, cols });
        }
        if out.dim() != (rows, cols) {
            return Err(Error::ShapeMismatch {
                expected: vec![rows, cols],
                found: out.shape().to_vec(),
            });
        }
        let n = rows;
        // Dense input is checked in the pass that copies it (`compute_dense`).
        let dense = n > small::SMALL_MAX;
        if !dense && !all_finite(a) {
            return Err(Error::NonFinite);
        }
        let exact = ExpmReport {
            order: 0,
            squarings: 0,
            products: 0,
        };
        self.report = None;
        if n == 0 {
            self.report = Some(exact);
            return Ok(());
        }
        let structure = Structure::of(a);
        if structure == Structure::Diagonal {
            if dense && !all_finite(a) {
                return Err(Error::NonFinite);
            }
            out.fill(S::zero());
            for i in 0..n {
                out[[i, i]] = a[[i, i]].exp();
            }
            self.report = Some(exact);
            return Ok(());
        }
        if n <= small::SMALL_MAX {
            self.report = Some(small::expm_small(a, out, structure)?);
            return Ok(());
        }
        crate::dense::on_pool(n, || self.compute_dense(a, out, structure))
    }

    /// [`Self::compute_into`] for `n > small::SMALL_MAX` and not diagonal `a` (whose entries are
    /// checked here): Pade scaling and squaring with BLAS products and LAPACK-style solves.
    fn compute_dense(
        &mut self,
        a: ArrayView2<S>,
        mut out: ArrayViewMut2<S>,
        structure: Structure,
    ) -> Result<()> {
        let n = a.nrows();
        self.products = 0;
        self.resize(n);
        // A lower triangular matrix is handled as the transpose of an upper one. Row-major input
        // is checked, copied and summed in one pass.
        let norm_a = if structure != Structure::Lower && a.is_standard_layout() {
            copy_finite_norm1(a, &mut self.a).ok_or(Error::NonFinite)?
        } else {
            if !all_finite(a) {
                return Err(Error::NonFinite);
            }
            match structure {
                Structure::Lower => self.a.assign(&a.t()),
                _ => self.a.assign(&a),
            }
            norm1(self.a.view())
        };
        let triangular = matches!(structure, Structure::Upper | Structure::Lower);
        if triangular {
            self.diag.clear();
            self.diag.extend((0..n).map(|i| self.a[[i, i]]));
            self.sup.clear();
            self.sup.extend((0..n - 1).map(|i| self.a[[i, i + 1]]));
        }

        let plan = self.plan(norm_a);
        self.evaluate_pade(plan, triangular)?;
        // The result r_m(2^-s A) is in self.u; square it s times.
        if triangular {
            fix_triangular(self.u.view_mut(), &self.diag, &self.sup, pow2_neg(plan.s));
        }
        // The last squaring writes straight into `out` where BLAS can (and the result needs no
        // transpose), saving a copy of the result.
        let last_into_out = plan.s > 0 && structure != Structure::Lower && out.is_standard_layout();
        for k in (0..plan.s).rev() {
            if k == 0 && last_into_out {
                mat_mul(S::one(), &self.u, &self.u, S::zero(), &mut out);
                self.products += 1;
                if has_nan(out.iter()) {
                    redo_nan_entries_keeping_zeros(self.u.view(), out.view_mut());
                }
                if triangular {
                    fix_triangular(out.view_mut(), &self.diag, &self.sup, S::Real::one());
                }
                break;
            }
            mat_mul(S::one(), &self.u, &self.u, S::zero(), &mut self.tmp);
            self.products += 1;
            if has_nan(self.tmp.iter()) {
                // Overflow: exact zeros must stay zeros (see there).
                redo_nan_entries_keeping_zeros(self.u.view(), self.tmp.view_mut());
            }
            std::mem::swap(&mut self.u, &mut self.tmp);
            if triangular {
                fix_triangular(self.u.view_mut(), &self.diag, &self.sup, pow2_neg(k));
            }
        }
        if !last_into_out {
            match structure {
                Structure::Lower => out.assign(&self.u.t()),
                _ => out.assign(&self.u),
            }
        }
        self.report = Some(ExpmReport {
            order: plan.m,
            squarings: plan.s,
            products: self.products,
        });
        Ok(())
    }

    /// What the last successful [`Self::compute_into`] (or [`expm_into`]) with this workspace
    /// did: order, squarings and matrix products (`None` before the first call or after an
    /// error). The products times the time of one `n x n` product is the floor of the cost.
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::{expm_into, Expm};
    /// use ndarray::{array, Array2};
    ///
    /// let mut work = Expm::new();
    /// let mut out = Array2::zeros((2, 2));
    /// expm_into(array![[0.0, 1e-3], [-1e-3, 0.0]].view(), out.view_mut(), &mut work)?;
    /// let report = work.last_report().unwrap();
    /// assert_eq!((report.order, report.squarings), (3, 0)); // tiny norm: the lowest order
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn last_report(&self) -> Option<ExpmReport> {
        self.report
    }

    /// Computes `A^2, A^4, A^6` (and `A^8` when it is needed) of `self.a`.
    fn compute_even_powers(&mut self) {
        let [a2, a4, a6, _] = &mut self.powers;
        mat_mul(S::one(), &self.a, &self.a, S::zero(), a2);
        mat_mul(S::one(), a2, a2, S::zero(), a4);
        mat_mul(S::one(), a4, a2, S::zero(), a6);
        self.have = [true, true, true, false];
        self.products += 3;
    }

    fn ensure_a8(&mut self) {
        if !self.have[3] {
            let n = self.n;
            if self.powers[3].dim() != (n, n) {
                self.powers[3] = Array2::zeros((n, n));
            }
            let [_, a4, _, a8] = &mut self.powers;
            mat_mul(S::one(), a4, a4, S::zero(), a8);
            self.have[3] = true;
            self.products += 1;
        }
    }

    /// Multiplies `self.a` by `2^-s` and records in `power_scale` the factors its stored powers
    /// must be scaled by (applied by `evaluate_pade` in its first pass over them).
    fn scale_down(&mut self, s: u32) {
        self.power_scale = [S::Real::one(); 4];
        if s == 0 {
            return;
        }
        let f = pow2_neg::<S::Real>(s);
        self.a.mapv_inplace(|x| x.scale(f));
        for (k, scale) in self.power_scale.iter_mut().enumerate() {
            if self.have[k] {
                // A^(2k+2) scales by 2^(-s (2k+2)).
                *scale = pow2_neg::<S::Real>(s.saturating_mul(2 * k as u32 + 2));
            }
        }
    }

    /// Al-Mohy & Higham 2009, Algorithm 3.1: the order `m` and scaling `s` for `self.a`, whose
    /// 1-norm is `norm_a`, leaving `self.a` and its powers scaled by `2^-s`.
    fn plan(&mut self, norm_a: f64) -> Plan {
        let precision = S::PRECISION;
        self.abs_ready = false;
        self.norm_a = norm_a;
        self.compute_even_powers();
        match choose_plan(self, precision, S::Real::UNIT_ROUNDOFF.to_f64()) {
            Some(plan) => {
                self.scale_down(plan.s);
                plan
            }
            None => {
                // Powers overflowed: scale by the 1-norm alone and recompute the powers.
                let plan = fallback_plan(self.norm_a, self.n, precision);
                self.have = [false; 4];
                self.scale_down(plan.s);
                self.compute_even_powers();
                plan
            }
        }
    }

    /// `r_m(A) = q_m(A)^-1 p_m(A)` of the (scaled) `self.a`, left in `self.u`.
    ///
    /// Every pass over whole matrices counts next to the products at moderate `n`: the pending
    /// scaling of the powers happens in the first pass that reads them, which at order 13 also
    /// forms all four combinations of them that the products add to (two passes over the
    /// matrices in all, where separate sums after each product took five), and `U` comes out of
    /// its product as `2 U` (an exact factor in the product's `alpha`).
    fn evaluate_pade(&mut self, plan: Plan, upper_triangular: bool) -> Result<()> {
        let m = plan.m;
        if m == 9 {
            // Order 9 is only chosen unscaled (s = 0), so A^8 = A^4 A^4 needs no factor.
            debug_assert!(self.power_scale[1] == S::Real::one());
            self.ensure_a8();
        }
        let b = pade_table(m);
        let n = self.n;
        let c = |k: usize| S::from_f64(b[k]);
        let eye = |k: usize, x: &mut Array2<S>| {
            for i in 0..n {
                x[[i, i]] += c(k);
            }
        };
        let two = S::from_f64(2.0);
        let half = S::Real::from_f64(0.5);
        if m == 13 {
            // U = A [A6 (b13 A6 + b11 A4 + b9 A2) + b7 A6 + b5 A4 + b3 A2 + b1 I]
            // V =    A6 (b12 A6 + b10 A4 + b8 A2) + b6 A6 + b4 A4 + b2 A2 + b0 I
            // One pass forms the four combinations of the (now scaled) powers: the high parts
            // in `tmp` and in A4's buffer, the low parts in `v` and in A2's buffer, where the
            // products then add to them (beta = 1). A2 and A4 are not needed after it.
            {
                let [f2, f4, f6, _] = self.power_scale;
                let [a2, a4, a6, _] = &mut self.powers;
                elementwise!(
                    n,
                    Zip::from(&mut self.tmp)
                        .and(&mut self.v)
                        .and(a6)
                        .and(a4)
                        .and(a2),
                    |w1: &mut S, w2: &mut S, y6: &mut S, y4: &mut S, y2: &mut S| {
                        let (x6, x4, x2) = (y6.scale(f6), y4.scale(f4), y2.scale(f2));
                        *w1 = c(13) * x6 + c(11) * x4 + c(9) * x2;
                        *w2 = c(7) * x6 + c(5) * x4 + c(3) * x2;
                        *y4 = c(12) * x6 + c(10) * x4 + c(8) * x2;
                        *y2 = c(6) * x6 + c(4) * x4 + c(2) * x2;
                        *y6 = x6;
                    }
                );
                self.power_scale = [S::Real::one(); 4];
            }
            eye(1, &mut self.v);
            let [z2, z1, a6, _] = &mut self.powers;
            eye(0, z2);
            // v = W = A6 W1 + W2; u = 2 U = 2 A W.
            mat_mul(S::one(), a6, &self.tmp, S::one(), &mut self.v);
            mat_mul(two, &self.a, &self.v, S::zero(), &mut self.u);
            // A2's buffer: V = A6 Z1 + Z2; then v = Q = V - U.
            mat_mul(S::one(), a6, z1, S::one(), z2);
            elementwise!(
                n,
                Zip::from(&mut self.v).and(&*z2).and(&self.u),
                |q: &mut S, &y: &S, &u2: &S| *q = y - u2.scale(half)
            );
            self.products += 3;
        } else {
            // U = A sum_{j odd} b_j A^(j-1),  V = sum_{j even} b_j A^j, with A^0 = I.
            let pw = [
                &self.powers[0],
                &self.powers[1],
                &self.powers[2],
                &self.powers[3],
            ];
            let terms = m / 2; // number of powers A^2 .. A^(m-1)
            self.tmp.fill(S::zero());
            self.v.fill(S::zero());
            for (k, p) in pw.iter().enumerate().take(terms) {
                let (odd, even) = (c(2 * k + 3), c(2 * k + 2));
                let f = self.power_scale[k];
                Zip::from(&mut self.tmp)
                    .and(&mut self.v)
                    .and(*p)
                    .for_each(|t, v, &x| {
                        let x = x.scale(f);
                        *t += odd * x;
                        *v += even * x;
                    });
            }
            eye(1, &mut self.tmp);
            eye(0, &mut self.v);
            // u = 2 U, v = Q = V - U.
            mat_mul(two, &self.a, &self.tmp, S::zero(), &mut self.u);
            Zip::from(&mut self.v)
                .and(&self.u)
                .for_each(|v, &u2| *v -= u2.scale(half));
            self.products += 1;
        }
        // r_m = Q^-1 P with P = V + U, Q = V - U, evaluated as r_m = I + Q^-1 (2 U): the identity
        // part is then exact, which for small ||A|| leaves only the correction to round.
        if upper_triangular {
            self.solve_upper_in_place()?;
        } else {
            self.solve_in_place()?;
        }
        eye_plus(&mut self.u);
        Ok(())
    }

    /// [`Self::solve_in_place`] for small `n` without LAPACK: Gaussian elimination with partial
    /// pivoting applied to `Q` and the right-hand sides together, then back substitution. A LAPACK
    /// call costs more than the arithmetic at these sizes, and OpenBLAS's threading inside rayon
    /// workers made batches of small matrices slower than a serial loop.
    fn solve_small_in_place(&mut self) -> Result<()> {
        let n = self.n;
        // Solve Q^T Y = U^T and return Y^T = U Q^-1 (= Q^-1 U), the same right division that the
        // LAPACK path performs; measured on benches/accuracy.py it is the more accurate of the two.
        transpose_in_place(&mut self.v);
        transpose_in_place(&mut self.u);
        let (q, x) = (&mut self.v, &mut self.u);
        for k in 0..n {
            // Partial pivoting: the largest modulus in column k at or below the diagonal.
            let mut p = k;
            let mut best = q[[k, k]].modulus();
            for i in (k + 1)..n {
                let v = q[[i, k]].modulus();
                if v > best {
                    best = v;
                    p = i;
                }
            }
            if best == S::Real::zero() {
                return Err(Error::Singular);
            }
            if p != k {
                for j in 0..n {
                    q.swap([k, j], [p, j]);
                    x.swap([k, j], [p, j]);
                }
            }
            let pivot = q[[k, k]];
            for i in (k + 1)..n {
                let f = q[[i, k]].quotient(pivot);
                if f == S::zero() {
                    continue;
                }
                for j in (k + 1)..n {
                    let t = q[[k, j]];
                    q[[i, j]] -= f * t;
                }
                for j in 0..n {
                    let t = x[[k, j]];
                    x[[i, j]] -= f * t;
                }
            }
        }
        self.solve_upper_in_place()?;
        transpose_in_place(&mut self.u);
        Ok(())
    }

    /// Replaces `self.u` by `Q^-1 self.u` for upper triangular `Q` in `self.v` (only its upper
    /// triangle is read), by back substitution on the rows. For triangular input the result stays
    /// exactly upper triangular: an LU with pivoting would fill the zero part with rounding errors
    /// that the squarings then amplify by the size of the off-diagonal entries.
    fn solve_upper_in_place(&mut self) -> Result<()> {
        let n = self.n;
        for i in (0..n).rev() {
            let pivot = self.v[[i, i]];
            if pivot == S::zero() {
                return Err(Error::Singular);
            }
            for k in (i + 1)..n {
                let q = self.v[[i, k]];
                if q != S::zero() {
                    for j in 0..n {
                        let x = self.u[[k, j]];
                        self.u[[i, j]] -= q * x;
                    }
                }
            }
            for j in 0..n {
                self.u[[i, j]] = self.u[[i, j]].quotient(pivot);
            }
        }
        Ok(())
    }

    /// Replaces `self.u` by `Q^-1 self.u` with `Q` in `self.v` (destroyed), by LU
    /// ([`Scalar::getrf`], [`Scalar::getrs`]: split over rayon's pool in pieces fixed by `n`).
    ///
    /// Both buffers are row-major, which LAPACK reads as `Q^T` and `U^T`; solving `Q^T Y = U^T`
    /// gives `Y = (U Q^-1)^T`, read back row-major as `U Q^-1 = Q^-1 U` (U and Q are polynomials
    /// in the same matrix, so they commute).
    fn solve_in_place(&mut self) -> Result<()> {
        let n = self.n;
        if n <= SMALL_SOLVE_MAX {
            return self.solve_small_in_place();
        }
        let q = self
            .v
            .as_slice_mut()
            .expect("workspace arrays are contiguous");
        let info = S::getrf(n, q, &mut self.ipiv);
        if info > 0 {
            return Err(Error::Singular);
        } else if info < 0 {
            return Err(Error::Lapack {
                routine: "getrf2",
                argument: -info,
            });
        }
        let p = self
            .u
            .as_slice_mut()
            .expect("workspace arrays are contiguous");
        let info = S::getrs(n, n, self.v.as_slice().expect("contiguous"), &self.ipiv, p);
        if info < 0 {
            return Err(Error::Lapack {
                routine: "getrs",
                argument: -info,
            });
        }
        Ok(())
    }
}

impl<S: Scalar> PowerNorms for Expm<S> {
    fn norm(&self) -> f64 {
        self.norm_a
    }

    fn power_norm(&mut self, k: u32) -> f64 {
        match k {
            4 => norm1(self.powers[1].view()),
            6 => norm1(self.powers[2].view()),
            8 => {
                self.ensure_a8();
                norm1(self.powers[3].view())
            }
            _ => {
                // A^10 = A^4 A^6.
                mat_mul(
                    S::one(),
                    &self.powers[1],
                    &self.powers[2],
                    S::zero(),
                    &mut self.tmp,
                );
                self.products += 1;
                norm1(self.tmp.view())
            }
        }
    }

    fn power_norm_estimate(&mut self, k: u32) -> f64 {
        if self.cheap_products() || (k == 8 && self.have[3]) {
            return self.power_norm(k);
        }
        let [_, a4, a6, _] = &self.powers;
        let other = if k == 8 { a4 } else { a6 };
        normest::norm1_product_estimate(a4.view(), other.view())
    }

    fn cheap_products(&self) -> bool {
        self.n <= ESTIMATE_MIN
    }

    /// The 1-norm of the non-negative matrix `|f A|^(2m+1)` is the largest entry of
    /// `1^T |f A|^(2m+1)`, computed exactly with `2m + 1` vector-matrix products, or bounded
    /// after fewer ([`AbsPowerBounds`], as soon as `settle` accepts the bounds). `|A|` is formed
    /// once per plan and the products are BLAS `gemv`: each pass reads `n^2` numbers, so at
    /// `n = 256` (`|A|` in the second-level cache) the 27 passes of order 13 cost 0.5 ms as a
    /// loop over `A` and a fraction of that this way. From [`PAR_GEMV`] on, each product is
    /// two BLAS calls on rayon's pool, one per half of the entries (each entry is the same dot
    /// product either way).
    fn abs_power_norm(&mut self, m: usize, f: f64, settle: Settle<'_>) -> f64 {
        if !self.abs_ready {
            // On the pool from as many entries as `norm1` (at n = 1024, 0.52-0.54 ms against
            // 0.63-0.72 on one thread; at 256 the split costs more than it saves).
            let zip = Zip::from(&mut self.abs_a).and(&self.a);
            let abs = |y: &mut f64, x: &S| *y = x.modulus().to_f64();
            if self.n * self.n >= PAR_NORM {
                zip.par_for_each(abs);
            } else {
                zip.for_each(abs);
            }
            self.abs_ready = true;
        }
        self.row.fill(1.0);
        let n = self.n;
        let half = (n / 2).next_multiple_of(8);
        let steps = 2 * m + 1;
        for j in 1..=steps {
            // row_next^T = row^T (f |A|), i.e. row_next = f |A|^T row.
            let at = self.abs_a.t();
            let x = &self.row;
            if n >= PAR_GEMV {
                let (mut y1, mut y2) = self.row_next.view_mut().split_at(Axis(0), half);
                rayon::join(
                    || general_mat_vec_mul(f, &at.slice(s![..half, ..]), x, 0.0, &mut y1),
                    || general_mat_vec_mul(f, &at.slice(s![half.., ..]), x, 0.0, &mut y2),
                );
            } else {
                general_mat_vec_mul(f, &at, x, 0.0, &mut self.row_next);
            }
            if j < steps {
                let prev = self.row.as_slice().expect("contiguous");
                let next = self.row_next.as_slice().expect("contiguous");
                if let Some((lo, hi)) = AbsPowerBounds::new(prev, next).after(steps - j, steps)
                    && let Some(settled) = settle(lo, hi)
                {
                    return settled;
                }
            }
            std::mem::swap(&mut self.row, &mut self.row_next);
        }
        self.row.iter().cloned().fold(0.0, norm_max)
    }
}

/// Orders from which the vector-matrix products of `abs_power_norm` are split in two.
const PAR_GEMV: usize = 256;

/// Largest workspace (in bytes) that a thread keeps between [`expm`] calls: 64 MiB, the
/// workspace of a `1024 x 1024` `f64` matrix.
const CACHE_MAX_BYTES: usize = 64 << 20;

thread_local! {
    /// This thread's workspace of the last [`expm`] (or serial [`expm_batch_into`]) call, for
    /// the scalar type it was made for (`256 x 256`: 7.0 ms per call with a fresh workspace,
    /// 5.3 ms without its page faults).
    static CACHED_WORKSPACE: Slot = const { RefCell::new(None) };
}

/// Runs `f` with this thread's cached workspace for `S`, kept afterwards if `n x n` workspaces
/// stay below [`CACHE_MAX_BYTES`] (see [`with_slot`]).
fn with_cached_workspace<S: Scalar, R>(n: usize, f: impl FnOnce(&mut Expm<S>) -> R) -> R {
    let bytes = n
        .saturating_mul(n)
        .saturating_mul(WORKSPACE_MATRICES * std::mem::size_of::<S>() + ABS_BYTES);
    with_slot(&CACHED_WORKSPACE, bytes <= CACHE_MAX_BYTES, Expm::new, f)
}

/// `n x n` matrices a large-`n` workspace holds: `A`, `A^2`, `A^4`, `A^6`, `U`, `V` and one
/// temporary (`A^8` only when the plan needs it), and next to them `|A|` in `f64`.
const WORKSPACE_MATRICES: usize = 7;
const ABS_BYTES: usize = std::mem::size_of::<f64>();

/// Order above which a batch runs serially over its matrices, each one's products split over
/// rayon's pool by `crate::dense` (see `expm_batch_into`).
const BLAS_THREADED_MIN: usize = 64;

/// Above this order the 1-norms of `A^8` and `A^10` that only choose the scaling are estimated
/// (Higham & Tisseur) rather than formed: a product then costs more than the estimate.
const ESTIMATE_MIN: usize = 64;

/// `zip.for_each(f)`, or `zip.par_for_each(f)` on rayon's pool from order [`PAR_ELEMENTWISE`] on.
macro_rules! elementwise {
    ($n:expr, $zip:expr, $f:expr) => {
        if $n >= PAR_ELEMENTWISE {
            $zip.par_for_each($f)
        } else {
            $zip.for_each($f)
        }
    };
}
use elementwise;

/// Orders from which the elementwise passes of the order-13 evaluation run on rayon's pool: they
/// read four or five `n x n` arrays each, memory-bound work worth sharing once the arrays leave
/// the caches. Every element is computed alone, so the bits do not depend on the split.
const PAR_ELEMENTWISE: usize = 256;

/// Largest order solved without LAPACK (see `Expm::solve_small_in_place`).
const SMALL_SOLVE_MAX: usize = 16;

/// Transposes a square matrix in place.
fn transpose_in_place<S: Scalar>(x: &mut Array2<S>) {
    let n = x.nrows();
    for i in 0..n {
        for j in (i + 1)..n {
            x.swap([i, j], [j, i]);
        }
    }
}

/// `x += I`.
fn eye_plus<S: Scalar>(x: &mut Array2<S>) {
    x.diag_mut().mapv_inplace(|d| d + S::one());
}

/// `2^-k`, exact down to the smallest subnormal (then 0): `0.5^k` never overflows on the way.
fn pow2_neg<R: RealScalar>(k: u32) -> R {
    R::from_f64(0.5f64.powi(k.min(i32::MAX as u32) as i32))
}

/// The matrix 1-norm `max_j sum_i |a_ij|`, in `f64`, reading the memory in order (row-major
/// input: the column sums accumulate row by row). From [`PAR_NORM`] elements on, the work is
/// split in two on rayon's pool at a place fixed by the shape: row-major input by rows (each half
/// sums its rows, then the two sums of each column are added; contiguous halves read 0.2-0.3 ms
/// faster than interleaved ones at `n = 1024`), other layouts by columns.
pub(crate) fn norm1<S: Scalar>(a: ArrayView2<S>) -> f64 {
    let mut sums = vec![0.0f64; a.ncols()];
    if a.len() >= PAR_NORM && a.strides()[1] == 1 {
        let (a1, a2) = a.split_at(Axis(0), a.nrows() / 2);
        let mut sums2 = vec![0.0f64; a.ncols()];
        rayon::join(
            || column_sums(a1, &mut sums),
            || column_sums(a2, &mut sums2),
        );
        add_into(&mut sums, &sums2);
    } else if a.len() >= PAR_NORM {
        let half = (a.ncols() / 2).next_multiple_of(8).min(a.ncols());
        let (a1, a2) = a.split_at(Axis(1), half);
        let (s1, s2) = sums.split_at_mut(half);
        rayon::join(|| column_sums(a1, s1), || column_sums(a2, s2));
    } else {
        column_sums(a, &mut sums);
    }
    sums.into_iter().fold(0.0, norm_max)
}

/// `sums[j] += more[j]`.
fn add_into(sums: &mut [f64], more: &[f64]) {
    for (s, m) in sums.iter_mut().zip(more) {
        *s += m;
    }
}

/// Elements from which [`norm1`] runs on two threads.
const PAR_NORM: usize = 1 << 18;

/// Whether every entry of `a` is finite.
fn all_finite<S: Scalar>(a: ArrayView2<S>) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Copies the row-major `a` into `dst` (row-major, of the same shape) and returns its 1-norm as
/// [`norm1`] computes it (the same sums in the same order), or `None`, with `dst` partly written,
/// if an entry is not finite. One pass over the memory, where the check, the copy and the norm
/// took three: at `n = 1024`, 0.8-1.0 ms against 1.5-1.7 ms.
fn copy_finite_norm1<S: Scalar>(a: ArrayView2<S>, dst: &mut Array2<S>) -> Option<f64> {
    debug_assert!(a.is_standard_layout() && dst.is_standard_layout() && a.dim() == dst.dim());
    // Each row is copied, then checked and summed from the first-level cache.
    let rows = |a: ArrayView2<S>, mut dst: ArrayViewMut2<S>, sums: &mut [f64]| -> bool {
        for (row, mut out) in a.rows().into_iter().zip(dst.rows_mut()) {
            let out = out.as_slice_mut().expect("row-major");
            out.copy_from_slice(row.to_slice().expect("row-major"));
            if !out.iter().all(|x| x.is_finite()) {
                return false;
            }
            for (s, x) in sums.iter_mut().zip(out.iter()) {
                *s += x.modulus().to_f64();
            }
        }
        true
    };
    let mut sums = vec![0.0f64; a.ncols()];
    let finite = if a.len() >= PAR_NORM {
        let half = a.nrows() / 2;
        let (a1, a2) = a.split_at(Axis(0), half);
        let (d1, d2) = dst.view_mut().split_at(Axis(0), half);
        let mut sums2 = vec![0.0f64; a.ncols()];
        let (ok1, ok2) = rayon::join(|| rows(a1, d1, &mut sums), || rows(a2, d2, &mut sums2));
        add_into(&mut sums, &sums2);
        ok1 && ok2
    } else {
        rows(a, dst.view_mut(), &mut sums)
    };
    finite.then(|| sums.into_iter().fold(0.0, norm_max))
}

/// `sums[j] += sum_i |a_ij|`, in the order of the memory where rows or columns are contiguous.
fn column_sums<S: Scalar>(a: ArrayView2<S>, sums: &mut [f64]) {
    if a.strides()[1] == 1 || a.ncols() <= 1 {
        for row in a.rows() {
            let row = row.to_slice().expect("unit stride along the rows");
            for (s, x) in sums.iter_mut().zip(row) {
                *s += x.modulus().to_f64();
            }
        }
    } else {
        for (s, col) in sums.iter_mut().zip(a.columns()) {
            *s += match col.to_slice() {
                Some(col) => col.iter().map(|x| x.modulus().to_f64()).sum::<f64>(),
                None => col.iter().map(|x| x.modulus().to_f64()).sum::<f64>(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;

    /// The workspace with every `ell` from all `2m + 1` vector-matrix products (bounds never
    /// accepted).
    struct FullChain<'a>(&'a mut Expm<f64>);

    impl PowerNorms for FullChain<'_> {
        fn norm(&self) -> f64 {
            self.0.norm()
        }
        fn power_norm(&mut self, k: u32) -> f64 {
            self.0.power_norm(k)
        }
        fn power_norm_estimate(&mut self, k: u32) -> f64 {
            self.0.power_norm_estimate(k)
        }
        fn cheap_products(&self) -> bool {
            self.0.cheap_products()
        }
        fn abs_power_norm(&mut self, m: usize, f: f64, _settle: Settle<'_>) -> f64 {
            self.0.abs_power_norm(m, f, &|_, _| None)
        }
    }

    /// The fused check, copy and norm gives the copy and the norm of [`norm1`] (to the bit),
    /// below and above the size where both split in two, and `None` for any infinity or NaN.
    #[test]
    fn one_pass_copy_gives_the_norm_and_finds_non_finite_entries() {
        let mut seed = 5u64;
        for n in [3usize, 100, 511, 512, 700] {
            let a = Array2::from_shape_fn((n, n), |_| crate::test_rng::uniform(&mut seed) - 0.3);
            let mut copy = Array2::zeros((n, n));
            assert_eq!(
                copy_finite_norm1(a.view(), &mut copy),
                Some(norm1(a.view()))
            );
            assert_eq!(copy, a);
            let exact: f64 = (0..n)
                .map(|j| a.column(j).iter().map(|x| x.abs()).sum::<f64>())
                .fold(0.0, f64::max);
            assert!((norm1(a.view()) - exact).abs() <= 1e-13 * exact);
            for bad in [f64::NAN, f64::INFINITY] {
                let mut b = a.clone();
                b[[n - 1, n / 2]] = bad;
                assert_eq!(copy_finite_norm1(b.view(), &mut copy), None);
            }
        }
    }

    /// The plan with the bounds that stop the `|A|` products early is the plan of the full
    /// products, over norms where the correction is zero, capped, and in between, for normal,
    /// graded (non-normal) and non-negative matrices.
    #[test]
    fn settled_corrections_give_the_plans_of_the_full_products() {
        let mut seed = 11u64;
        let mut uniform = move || crate::test_rng::uniform(&mut seed) - 0.5;
        let mut corrected = 0;
        for n in [20usize, 64, 65, 130] {
            for kind in 0..3 {
                for e in -8..=12 {
                    let scale = 2f64.powf(e as f64 * 0.5) / (n as f64).sqrt();
                    let a = Array2::from_shape_fn((n, n), |(i, j)| {
                        let x = uniform();
                        match kind {
                            0 => x * scale,
                            1 => x * scale * if j > i { 1.0 + (j - i) as f64 } else { 0.2 },
                            _ => x.abs() * scale,
                        }
                    });
                    let mut work = Expm::<f64>::new();
                    work.resize(n);
                    work.a.assign(&a);
                    work.norm_a = norm1(work.a.view());
                    work.compute_even_powers();
                    let u = f64::UNIT_ROUNDOFF;
                    let settled = choose_plan(&mut work, Precision::Double, u);
                    work.abs_ready = false;
                    let full = choose_plan(&mut FullChain(&mut work), Precision::Double, u);
                    assert_eq!(settled, full, "n = {n}, kind {kind}, scale 2^({e}/2)");
                    if let Some(plan) = full
                        && plan.s > 0
                        && plan.m == 13
                    {
                        corrected += 1;
                    }
                }
            }
        }
        assert!(corrected > 20, "only {corrected} scaled plans");
    }
}

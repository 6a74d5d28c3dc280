//! Fixed-size kernels for `n <= 8`: the same algorithm as the general workspace (the same
//! [`Plan`], Pade evaluation, right-division solve and structured squaring), on `[[S; N]; N]`
//! arrays on the stack. Every loop has a compile-time trip count, so the compiler unrolls and
//! vectorises them; there is no heap allocation, no BLAS or LAPACK call, and single precision
//! stays in single precision (only the norms that choose the plan are formed in `f64`).

// Index loops over compile-time bounds mirror the formulas (rows against columns of two
// matrices); the iterator forms clippy suggests would obscure which index is which.
#![allow(clippy::needless_range_loop)]

use ndarray::{ArrayView2, ArrayViewMut2};
use num_traits::Zero;

use super::ExpmReport;
use super::pade::pade_table;
use super::plan::{Plan, PowerNorms, Settle, choose_plan, fallback_plan, norm_max};
use super::pow2_neg;
use super::structure::{Structure, fix_triangular, has_nan, redo_nan_entries_keeping_zeros};
use crate::error::{Error, Result};
use crate::scalar::{Precision, RealScalar, Scalar};

/// The largest order computed by the fixed-size kernels.
pub(crate) const SMALL_MAX: usize = 8;

type Mat<S, const N: usize> = [[S; N]; N];

#[inline(always)]
fn zeros<S: Scalar, const N: usize>() -> Mat<S, N> {
    [[S::zero(); N]; N]
}

/// `a b`.
#[inline(always)]
fn mul<S: Scalar, const N: usize>(a: &Mat<S, N>, b: &Mat<S, N>) -> Mat<S, N> {
    let mut c = zeros();
    for i in 0..N {
        for k in 0..N {
            let x = a[i][k];
            for j in 0..N {
                c[i][j] = x.mul_add(b[k][j], c[i][j]);
            }
        }
    }
    c
}

/// `x *= f` entrywise, `f` real.
#[inline(always)]
fn scale<S: Scalar, const N: usize>(x: &mut Mat<S, N>, f: S::Real) {
    x.iter_mut().flatten().for_each(|v| *v = v.scale(f));
}

/// `max_j sum_i |x_ij|`, in `f64`.
#[inline(always)]
fn norm1<S: Scalar, const N: usize>(x: &Mat<S, N>) -> f64 {
    (0..N)
        .map(|j| (0..N).map(|i| x[i][j].modulus().to_f64()).sum::<f64>())
        .fold(0.0, norm_max)
}

/// `base + c0 y6 + c1 y4 + c2 y2` (no `base`: 0), in the general workspace's order of operations.
#[inline(always)]
fn lincomb<S: Scalar, const N: usize>(
    y6: &Mat<S, N>,
    y4: &Mat<S, N>,
    y2: &Mat<S, N>,
    c: [S; 3],
    base: Option<&Mat<S, N>>,
) -> Mat<S, N> {
    let mut t = zeros();
    // Flat loops without a branch inside, so that they vectorise.
    let (t_flat, y6, y4, y2) = (
        t.as_flattened_mut(),
        y6.as_flattened(),
        y4.as_flattened(),
        y2.as_flattened(),
    );
    match base {
        Some(base) => {
            for (k, (t, b)) in t_flat.iter_mut().zip(base.as_flattened()).enumerate() {
                *t = *b + c[0] * y6[k] + c[1] * y4[k] + c[2] * y2[k];
            }
        }
        None => {
            for (k, t) in t_flat.iter_mut().enumerate() {
                *t = S::zero() + c[0] * y6[k] + c[1] * y4[k] + c[2] * y2[k];
            }
        }
    }
    t
}

/// `x^T`.
#[inline(always)]
fn transpose<S: Scalar, const N: usize>(x: &Mat<S, N>) -> Mat<S, N> {
    let mut t = zeros();
    for i in 0..N {
        for j in 0..N {
            t[j][i] = x[i][j];
        }
    }
    t
}

/// `x += c I`.
#[inline(always)]
fn add_eye<S: Scalar, const N: usize>(x: &mut Mat<S, N>, c: S) {
    for (i, row) in x.iter_mut().enumerate() {
        row[i] += c;
    }
}

/// A matrix and its even powers, as [`PowerNorms`] sees them.
struct Powers<S: Scalar, const N: usize> {
    a: Mat<S, N>,
    a2: Mat<S, N>,
    a4: Mat<S, N>,
    a6: Mat<S, N>,
    a8: Option<Mat<S, N>>,
    /// Products formed so far (for the report).
    products: u32,
    /// `|A|` entrywise, in `f64`, for `abs_power_norm`.
    abs: [[f64; N]; N],
    norm_a: f64,
}

impl<S: Scalar, const N: usize> Powers<S, N> {
    #[inline(always)]
    fn new(a: Mat<S, N>) -> Self {
        let a2 = mul(&a, &a);
        let a4 = mul(&a2, &a2);
        let a6 = mul(&a4, &a2);
        let mut abs = [[0.0f64; N]; N];
        for i in 0..N {
            for j in 0..N {
                abs[i][j] = a[i][j].modulus().to_f64();
            }
        }
        let norm_a = (0..N)
            .map(|j| (0..N).map(|i| abs[i][j]).sum::<f64>())
            .fold(0.0, super::plan::norm_max);
        Self {
            products: 3,
            norm_a,
            abs,
            a,
            a2,
            a4,
            a6,
            a8: None,
        }
    }

    #[inline(always)]
    fn a8(&mut self) -> &Mat<S, N> {
        // (No closure: it would not be inlined into the FMA-enabled kernel.)
        if self.a8.is_none() {
            self.a8 = Some(mul(&self.a4, &self.a4));
            self.products += 1;
        }
        self.a8.as_ref().expect("just formed")
    }

    /// Multiplies `A` by `2^-s` and the stored powers accordingly (exact: powers of two).
    #[inline(always)]
    fn scale_down(&mut self, s: u32) {
        if s == 0 {
            return;
        }
        let f = |k: u32| pow2_neg::<S::Real>(s.saturating_mul(k));
        scale(&mut self.a, f(1));
        scale(&mut self.a2, f(2));
        scale(&mut self.a4, f(4));
        scale(&mut self.a6, f(6));
        if let Some(a8) = &mut self.a8 {
            scale(a8, f(8));
        }
    }
}

impl<S: Scalar, const N: usize> PowerNorms for Powers<S, N> {
    #[inline(always)]
    fn norm(&self) -> f64 {
        self.norm_a
    }

    #[inline(always)]
    fn power_norm(&mut self, k: u32) -> f64 {
        match k {
            4 => norm1(&self.a4),
            6 => norm1(&self.a6),
            8 => norm1(self.a8()),
            _ => {
                self.products += 1;
                norm1(&mul(&self.a4, &self.a6))
            }
        }
    }

    #[inline(always)]
    fn power_norm_estimate(&mut self, k: u32) -> f64 {
        // At these sizes a product is cheaper than any estimate.
        self.power_norm(k)
    }

    #[inline(always)]
    fn cheap_products(&self) -> bool {
        true
    }

    #[inline(always)]
    fn abs_power_norm(&mut self, m: usize, f: f64, _settle: Settle<'_>) -> f64 {
        // 1^T |f A|^(2m+1). In single precision up to order POWERING_MAX by binary powering
        // (`abs_power_norm_powering`); otherwise as below.
        let mut power = self.abs;
        if f != 1.0 {
            power.iter_mut().flatten().for_each(|x| *x *= f);
        }
        let mut row = [1.0f64; N];
        if N > POWERING_MAX || S::PRECISION == Precision::Double {
            // 2m + 1 vector-matrix products with fused multiply-adds, accumulated row by row of
            // |f A| (contiguous, vectorises) in two interleaved partial sums, which halves the
            // chain of dependent additions. (Written out here, not in a function of its own: a
            // function outside the FMA-compiled kernel would be compiled without FMA.)
            for _ in 0..(2 * m + 1) {
                let mut even = [0.0f64; N];
                let mut odd = [0.0f64; N];
                for i in 0..N {
                    let r = row[i];
                    let acc = if i % 2 == 0 { &mut even } else { &mut odd };
                    for (nj, x) in acc.iter_mut().zip(&power[i]) {
                        *nj = r.mul_add(*x, *nj);
                    }
                }
                for j in 0..N {
                    row[j] = even[j] + odd[j];
                }
            }
            return row.iter().cloned().fold(0.0, norm_max);
        }
        abs_power_norm_powering(&power, m)
    }
}

/// Largest order for which `abs_power_norm` forms powers of `|A|` by squaring.
const POWERING_MAX: usize = 4;

/// `|| |A|^(2m+1) ||_1` for a non-negative `power = |A|` by binary powering: the row vector
/// `1^T` is multiplied by `|A|^(2^k)` for every bit `k` of `2m + 1`, the powers formed by
/// squaring. For order 13 that is 4 squarings and 4 vector-matrix products instead of 27
/// vector-matrix products in one chain of dependent multiply-adds, in whose latency a 3x3 matrix
/// spends its time (all powers of one matrix commute, so the order of the factors does not
/// matter). Without fused multiply-adds (the norm only decides `ceil(log2(.) / 2m)`), so that it
/// need not be inlined into the FMA-compiled kernels.
///
/// Measured per matrix on one thread (`expm_batch_into`, normal entries): 3x3 `f32` 184 -> 154
/// ns. Used for `f32` only: in `f64` (3x3 198 -> 181 ns) every variant tried also changed the
/// code generated for the 8x8 `f64` kernel, which got 2-10% slower, and the 8x8 call is the
/// tighter of the two speed targets.
#[inline(never)]
fn abs_power_norm_powering<const N: usize>(power: &[[f64; N]; N], m: usize) -> f64 {
    let mut power = *power;
    let mut row = [1.0f64; N];
    let mut e = 2 * m + 1;
    loop {
        if e & 1 == 1 {
            let mut next = [0.0f64; N];
            for (&r, p) in row.iter().zip(&power) {
                for (nj, x) in next.iter_mut().zip(p) {
                    *nj += r * *x;
                }
            }
            row = next;
        }
        e >>= 1;
        if e == 0 {
            break;
        }
        let mut square = [[0.0f64; N]; N];
        for (si, pi) in square.iter_mut().zip(&power) {
            for (&x, pk) in pi.iter().zip(&power) {
                for (sij, y) in si.iter_mut().zip(pk) {
                    *sij += x * *y;
                }
            }
        }
        power = square;
    }
    // An infinite power times a zero entry of the row is NaN; the norm is then infinite.
    row.iter()
        .map(|&x| if x.is_nan() { f64::INFINITY } else { x })
        .fold(0.0, norm_max)
}

/// `exp(a)` into `out` for `n = a.nrows() <= SMALL_MAX`, `a` finite and not diagonal.
///
/// Products use fused multiply-adds (as the BLAS kernels of the general path do; measured: without
/// them `exp([[1, 3], [4, 5]])` in `f32` errs by 13 eps instead of 4). On x86-64 the kernels are
/// compiled a second time for AVX2 + FMA (and a third for AVX-512, used up to order
/// [`AVX512_MAX`]) and chosen at run time, so a portable build still gets hardware FMA; elsewhere
/// (and on older x86-64) `mul_add` gives the same results in software.
pub(crate) fn expm_small<S: Scalar>(
    a: ArrayView2<S>,
    out: ArrayViewMut2<S>,
    structure: Structure,
) -> Result<ExpmReport> {
    #[cfg(target_arch = "x86_64")]
    {
        // AVX-512 for the smallest orders only: per matrix on one thread (normal entries) 3x3
        // float32 went from 153 to 138 ns with it, but 8x8 float64 from 1.04 to 3.0 us.
        if a.nrows() <= AVX512_MAX
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features `expm_small_avx512` is compiled for.
            return unsafe { expm_small_avx512(a, out, structure) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features `expm_small_fma` is compiled for.
            return unsafe { expm_small_fma(a, out, structure) };
        }
    }
    dispatch(a, out, structure)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn expm_small_fma<S: Scalar>(
    a: ArrayView2<S>,
    out: ArrayViewMut2<S>,
    structure: Structure,
) -> Result<ExpmReport> {
    dispatch(a, out, structure)
}

/// Largest order run by the AVX-512 build of the kernels (where the CPU has AVX-512).
#[cfg(target_arch = "x86_64")]
const AVX512_MAX: usize = 4;

/// The kernels compiled for AVX-512 (the same operations in the same order as the AVX2 build:
/// results are bit-identical; only the code differs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn expm_small_avx512<S: Scalar>(
    a: ArrayView2<S>,
    out: ArrayViewMut2<S>,
    structure: Structure,
) -> Result<ExpmReport> {
    dispatch(a, out, structure)
}

#[inline(always)]
fn dispatch<S: Scalar>(
    a: ArrayView2<S>,
    out: ArrayViewMut2<S>,
    structure: Structure,
) -> Result<ExpmReport> {
    match a.nrows() {
        1 => expm_fixed::<S, 1>(a, out, structure),
        2 => expm_fixed::<S, 2>(a, out, structure),
        3 => expm_fixed::<S, 3>(a, out, structure),
        4 => expm_fixed::<S, 4>(a, out, structure),
        5 => expm_fixed::<S, 5>(a, out, structure),
        6 => expm_fixed::<S, 6>(a, out, structure),
        7 => expm_fixed::<S, 7>(a, out, structure),
        8 => expm_fixed::<S, 8>(a, out, structure),
        n => unreachable!("expm_small called with n = {n}"),
    }
}

#[inline(always)]
fn expm_fixed<S: Scalar, const N: usize>(
    a: ArrayView2<S>,
    mut out: ArrayViewMut2<S>,
    structure: Structure,
) -> Result<ExpmReport> {
    // A lower triangular matrix is handled as the transpose of an upper one.
    let lower = structure == Structure::Lower;
    let mut m = zeros::<S, N>();
    for (i, row) in m.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = if lower { a[[j, i]] } else { a[[i, j]] };
        }
    }
    let triangular = matches!(structure, Structure::Upper | Structure::Lower);
    let mut diag = [S::zero(); N];
    let mut sup = [S::zero(); N];
    if triangular {
        for i in 0..N {
            diag[i] = m[i][i];
            if i + 1 < N {
                sup[i] = m[i][i + 1];
            }
        }
    }

    let mut p = Powers::new(m);
    let precision = S::PRECISION;
    let plan = match choose_plan(&mut p, precision, S::Real::UNIT_ROUNDOFF.to_f64()) {
        Some(plan) => {
            p.scale_down(plan.s);
            plan
        }
        None => {
            // Powers overflowed: scale by the 1-norm alone and recompute the powers.
            let plan = fallback_plan(p.norm_a, N, precision);
            let mut scaled = p.a;
            scale(&mut scaled, pow2_neg(plan.s));
            let before = p.products;
            p = Powers::new(scaled);
            p.products += before;
            plan
        }
    };
    let mut r = pade(&mut p, plan, triangular)?;
    let fix = |r: &mut Mat<S, N>, k: u32| {
        let view = ArrayViewMut2::from_shape((N, N), r.as_flattened_mut()).expect("N x N");
        fix_triangular(view, &diag, &sup[..N - 1], pow2_neg(k));
    };
    if triangular {
        fix(&mut r, plan.s);
    }
    for k in (0..plan.s).rev() {
        let mut sq = mul(&r, &r);
        if has_nan(sq.as_flattened().iter()) {
            // Overflow: exact zeros must stay zeros (see there).
            let x = ArrayView2::from_shape((N, N), r.as_flattened()).expect("N x N");
            let out = ArrayViewMut2::from_shape((N, N), sq.as_flattened_mut()).expect("N x N");
            redo_nan_entries_keeping_zeros(x, out);
        }
        r = sq;
        if triangular {
            fix(&mut r, k);
        }
    }
    for i in 0..N {
        for j in 0..N {
            out[[i, j]] = if lower { r[j][i] } else { r[i][j] };
        }
    }
    let pade_products = if plan.m == 13 { 3 } else { 1 };
    Ok(ExpmReport {
        order: plan.m,
        squarings: plan.s,
        products: p.products + pade_products + plan.s,
    })
}

/// `r_m(A) = I + 2 (V - U)^-1 U` of the scaled `A`, as the general workspace computes it.
#[inline(always)]
fn pade<S: Scalar, const N: usize>(
    p: &mut Powers<S, N>,
    plan: Plan,
    upper_triangular: bool,
) -> Result<Mat<S, N>> {
    let m = plan.m;
    if m == 9 {
        p.a8();
    }
    let c: [S; 14] = pade_table(m).map(S::from_f64);
    let (u, v) = if m == 13 {
        let (a2, a4, a6) = (&p.a2, &p.a4, &p.a6);
        let mut t = lincomb(a6, a4, a2, [c[13], c[11], c[9]], None);
        let mut w = mul(a6, &t);
        w = lincomb(a6, a4, a2, [c[7], c[5], c[3]], Some(&w));
        add_eye(&mut w, c[1]);
        let u = mul(&p.a, &w);
        t = lincomb(a6, a4, a2, [c[12], c[10], c[8]], None);
        let mut v = mul(a6, &t);
        v = lincomb(a6, a4, a2, [c[6], c[4], c[2]], Some(&v));
        add_eye(&mut v, c[0]);
        (u, v)
    } else {
        let pw = [Some(&p.a2), Some(&p.a4), Some(&p.a6), p.a8.as_ref()];
        let mut t = zeros::<S, N>();
        let mut v = zeros::<S, N>();
        for (k, x) in pw.iter().enumerate().take(m / 2) {
            let x = x.expect("A^8 is formed for m = 9");
            let (odd, even) = (c[2 * k + 3], c[2 * k + 2]);
            for i in 0..N {
                for j in 0..N {
                    t[i][j] += odd * x[i][j];
                    v[i][j] += even * x[i][j];
                }
            }
        }
        add_eye(&mut t, c[1]);
        add_eye(&mut v, c[0]);
        (mul(&p.a, &t), v)
    };
    let mut q = v;
    for i in 0..N {
        for j in 0..N {
            q[i][j] -= u[i][j];
        }
    }
    let mut x = if upper_triangular {
        let mut x = u;
        solve_upper(&q, &mut x)?;
        x
    } else {
        solve_right(q, u)?
    };
    let two = S::from_f64(2.0);
    x.iter_mut().flatten().for_each(|v| *v = two * *v);
    add_eye(&mut x, S::one());
    Ok(x)
}

/// `x <- q^-1 x` for upper triangular `q` (only its upper triangle is read), by back substitution.
#[inline(always)]
fn solve_upper<S: Scalar, const N: usize>(q: &Mat<S, N>, x: &mut Mat<S, N>) -> Result<()> {
    for i in (0..N).rev() {
        let pivot = q[i][i];
        if pivot == S::zero() {
            return Err(Error::Singular);
        }
        for k in (i + 1)..N {
            let qik = q[i][k];
            if qik != S::zero() {
                for j in 0..N {
                    let t = x[k][j];
                    x[i][j] -= qik * t;
                }
            }
        }
        for j in 0..N {
            x[i][j] = x[i][j].quotient(pivot);
        }
    }
    Ok(())
}

/// `u q^-1` (`= q^-1 u`, polynomials in one matrix commute): Gaussian elimination with partial
/// pivoting on `q^T y = u^T`, the right division of the general path.
#[inline(always)]
fn solve_right<S: Scalar, const N: usize>(q: Mat<S, N>, u: Mat<S, N>) -> Result<Mat<S, N>> {
    let mut q = transpose(&q);
    let mut x = transpose(&u);
    for k in 0..N {
        let mut p = k;
        let mut best = q[k][k].modulus();
        for (i, row) in q.iter().enumerate().skip(k + 1) {
            let v = row[k].modulus();
            if v > best {
                best = v;
                p = i;
            }
        }
        if best == S::Real::zero() {
            return Err(Error::Singular);
        }
        if p != k {
            q.swap(k, p);
            x.swap(k, p);
        }
        let pivot = q[k][k];
        for i in (k + 1)..N {
            let f = q[i][k].quotient(pivot);
            if f == S::zero() {
                continue;
            }
            // Whole rows, so that the loop has a compile-time length and vectorises: the entries
            // left of column k + 1 that this also changes are never read again (only the upper
            // triangle of q is, and column k below the pivot is not needed after this step).
            for j in 0..N {
                let t = q[k][j];
                q[i][j] -= f * t;
            }
            for j in 0..N {
                let t = x[k][j];
                x[i][j] -= f * t;
            }
        }
    }
    solve_upper(&q, &mut x)?;
    Ok(transpose(&x))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use ndarray::Array2;
    use num_complex::Complex;

    /// Runs `kernel` on matrices of every order up to 8 with entries `scale * sin(k)` (some
    /// scaled up so that the squarings run) and returns the results.
    fn results<S: Scalar>(
        kernel: unsafe fn(ArrayView2<S>, ArrayViewMut2<S>, Structure) -> Result<ExpmReport>,
    ) -> Vec<Array2<S>> {
        let mut all = Vec::new();
        for n in 1..=SMALL_MAX {
            for scale in [0.01, 1.0, 7.0] {
                let a = Array2::from_shape_fn((n, n), |(i, j)| {
                    let k = (i * n + j) as f64;
                    S::from_f64(scale * (1.0 + k).sin()) + S::from_f64(0.5 * scale * k.cos())
                });
                let mut out = Array2::zeros((n, n));
                // SAFETY: callers check the CPU features first.
                unsafe { kernel(a.view(), out.view_mut(), Structure::of(a.view())) }.unwrap();
                all.push(out);
            }
        }
        all
    }

    fn same_bits<S: Scalar>() {
        if !(std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma"))
        {
            return;
        }
        let avx2 = results::<S>(expm_small_fma::<S>);
        let avx512 = results::<S>(expm_small_avx512::<S>);
        for (x, y) in avx2.iter().zip(&avx512) {
            let bits = |m: &Array2<S>| m.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>();
            assert_eq!(bits(x), bits(y));
        }
    }

    /// The AVX-512 build of the kernels gives the AVX2 build's results bit for bit (the same
    /// operations in the same order), for every order and scalar type: which one a machine
    /// runs does not change its results.
    #[test]
    fn avx512_and_avx2_builds_agree_bit_for_bit() {
        same_bits::<f32>();
        same_bits::<f64>();
        same_bits::<Complex<f32>>();
        same_bits::<Complex<f64>>();
    }
}

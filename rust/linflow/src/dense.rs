//! Dense products, LU factorisations and solves whose rounding depends on the sizes and memory
//! layouts only, never on the number of threads.
//!
//! OpenBLAS splits a large product or LU over its own threads in a way that changes the order of
//! the sums: 0.3.21's threaded `dgemm` blocks the inner dimension differently from its serial one
//! (`n = 200, 300, 400` gave other bits on 2 threads than on 1), and its threaded LU pivots in
//! another order of operations. Here OpenBLAS always computes on the calling thread
//! ([`serial_blas`]) and the parallelism is linflow's own: a large product is cut into a number of
//! row (or column) panels that depends on its shape and layout only, each panel one single-threaded
//! BLAS call, and the panels run on rayon's pool. The LU (recursive, as LAPACK's `?getrf2`) is built
//! from such products, a recursive triangular solve and single-threaded LAPACK calls on fixed
//! pieces; the solves from the same triangular solve, whose 32-row leaves are linflow's own SIMD
//! substitution. A pool of any size therefore computes every number with the same operations in
//! the same order.

use std::ffi::c_int;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayRef2, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder, s};
use rayon::prelude::*;

use crate::scalar::Scalar;

#[link(name = "openblas")]
unsafe extern "C" {
    fn openblas_get_num_threads() -> c_int;
    fn openblas_set_num_threads(n: c_int);
}

/// Keeps the OpenBLAS that linflow links on the calling thread: sets its thread count to 1 when
/// it is anything else (at the first call, or after a caller such as `threadpoolctl` changed it).
/// This is process-wide for that library (numpy's wheels bring their own OpenBLAS, which is not
/// affected); linflow's parallelism is rayon's pool.
pub(crate) fn serial_blas() {
    static SETTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // SAFETY: plain calls into OpenBLAS's thread-count setting; lowering the count only sets a
    // variable that the next BLAS call reads. The setting itself is serialised (two threads of
    // a fresh process may both find the count above 1): OpenBLAS resizes its pool there.
    unsafe {
        if openblas_get_num_threads() != 1 {
            let _guard = SETTING.lock().unwrap_or_else(|e| e.into_inner());
            if openblas_get_num_threads() != 1 {
                openblas_set_num_threads(1);
            }
        }
    }
}

/// Orders from which [`on_pool`] moves a dense computation onto rayon's pool (below, no product
/// is split: see [`SPLIT_MIN_WORK`]).
const POOL_MIN: usize = 64;

/// Runs `f`, the whole dense computation on `n x n` matrices, on a worker of rayon's pool (the
/// calling thread waits) unless the caller is one already or `n < POOL_MIN`. Each split product
/// in `f` is then shared between that worker and the others (rayon's `join`); from outside the
/// pool every product would hand all its pieces to the workers and wait for them, two thread
/// wake-ups per product. Measured on the 2-core machine: `expm` 4.70 -> 4.54 ms at `n = 256`,
/// `expm_frechet` 11.9 -> 11.2 ms at 256 and 1.93 -> 1.73 ms at 128.
pub(crate) fn on_pool<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    if n < POOL_MIN || rayon::current_thread_index().is_some() {
        return f();
    }
    let mut out = None;
    rayon::scope(|_| out = Some(f()));
    out.expect("rayon::scope runs its closure before it returns")
}

/// Products of at most this many multiply-adds are one BLAS call: OpenBLAS's own threshold for
/// threading (`64^3`); a thread hand-off costs more than it saves below it.
const SPLIT_MIN_WORK: usize = 1 << 18;

/// Panels are never narrower than this (rows or columns).
const PANEL_MIN: usize = 32;

/// Panel widths are rounded up to a multiple of this (the register blocking of the kernels).
const PANEL_ALIGN: usize = 16;

/// Below this size the split dimension gets two panels; above it one panel per this many rows.
/// Each panel packs the whole other operand again: on the 2-core test machine two panels were the
/// fastest of two, four and eight for `expm` (`n = 1024`: 244-251 ms, against 251-277 ms with four
/// and 256-259 ms with eight; `n = 256`: 4.9-5.0 ms, against 5.1-5.6 and 5.6-5.9 ms).
const PANEL_ROWS: usize = 1024;

/// The number of pieces a dimension of `len` is cut into for `work` multiply-adds: a function of
/// the sizes only (never of the thread count).
fn pieces(len: usize, work: usize) -> usize {
    if work <= SPLIT_MIN_WORK || len < 2 * PANEL_MIN {
        1
    } else {
        (len / PANEL_ROWS).max(2)
    }
}

/// The width of each of `pieces(len, work)` panels (the last one may be narrower).
fn panel_width(len: usize, work: usize) -> usize {
    let p = pieces(len, work);
    if p == 1 {
        len
    } else {
        len.div_ceil(p).next_multiple_of(PANEL_ALIGN).min(len)
    }
}

/// `c = alpha a b + beta c`, as `ndarray::linalg::general_mat_mul`, with results that do not
/// depend on the number of threads: above `64^3` multiply-adds one side of `c` is cut into panels
/// (see [`pieces`]) computed by single-threaded BLAS calls on rayon's pool. The side follows the
/// layout of `c` unless the other one is more than twice as long: panels of whole columns of a
/// column-major `c` (of whole rows of a row-major one) are contiguous blocks, and measured on the
/// 2-core machine at `n = 256` they were 8-20% faster than the other split (0.33-0.35 ms against
/// 0.36-0.40 ms per product).
pub(crate) fn mat_mul<S: Scalar>(
    alpha: S,
    a: &ArrayRef2<S>,
    b: &ArrayRef2<S>,
    beta: S,
    c: &mut ArrayRef2<S>,
) {
    serial_blas();
    let (m, k) = a.dim();
    let n = b.ncols();
    let work = m.saturating_mul(n).saturating_mul(k);
    let column_major = c.strides()[0] == 1 && c.strides()[1] != 1;
    let by_rows = if column_major { n < m / 2 } else { 2 * m >= n };
    if by_rows {
        let rows = panel_width(m, work);
        if rows >= m {
            general_mat_mul(alpha, a, b, beta, c);
            return;
        }
        c.axis_chunks_iter_mut(Axis(0), rows)
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut ci)| {
                let r0 = i * rows;
                let ai = a.slice(s![r0..r0 + ci.nrows(), ..]);
                general_mat_mul(alpha, &ai, b, beta, &mut ci);
            });
    } else {
        let cols = panel_width(n, work);
        if cols >= n {
            general_mat_mul(alpha, a, b, beta, c);
            return;
        }
        c.axis_chunks_iter_mut(Axis(1), cols)
            .into_par_iter()
            .enumerate()
            .for_each(|(j, mut cj)| {
                let c0 = j * cols;
                let bj = b.slice(s![.., c0..c0 + cj.ncols()]);
                general_mat_mul(alpha, a, &bj, beta, &mut cj);
            });
    }
}

/// Columns at or below which the LU works on a panel with one LAPACK `?getrf2` call.
const LU_BASE: usize = 32;

/// LU with partial pivoting of the column-major `n x n` matrix `a`, in place, with LAPACK's
/// `ipiv` (1-based) and `info` (0, or the first zero pivot, 1-based). See [`Scalar::getrf`].
pub(crate) fn lu_factor<S: Scalar>(n: usize, a: &mut [S], ipiv: &mut [i32]) -> i32 {
    serial_blas();
    if n == 0 {
        return 0;
    }
    let a = ArrayViewMut2::from_shape((n, n).f(), &mut a[..n * n])
        .expect("an n x n matrix holds n^2 elements");
    lu_recursive(a, &mut ipiv[..n])
}

/// The LU of a column-major `m x n` view (`m >= n`, unit stride down the columns), as LAPACK's
/// `?getrf2`: factor the left half, apply its interchanges to the right half, `A12 <- L11^-1 A12`,
/// `A22 <- A22 - A21 A12`, factor `A22`, apply its interchanges to the left half.
fn lu_recursive<S: Scalar>(mut a: ArrayViewMut2<S>, ipiv: &mut [i32]) -> i32 {
    let (m, n) = a.dim();
    let lda = column_major_ld(&a.view());
    if n <= LU_BASE {
        // SAFETY: `a` is an m x n column-major view with leading dimension `lda >= m`, and
        // `ipiv` holds n = min(m, n) entries.
        return unsafe { S::getrf2_raw(m, n, a.as_mut_ptr(), lda, ipiv.as_mut_ptr()) };
    }
    let n1 = (n / 2).next_multiple_of(PANEL_ALIGN).min(n - 1);
    let (mut left, mut right) = a.view_mut().split_at(Axis(1), n1);
    let (ipiv1, ipiv2) = ipiv.split_at_mut(n1);
    let mut info = lu_recursive(left.view_mut(), ipiv1);
    swap_rows(right.view_mut(), 1, n1, ipiv1);
    {
        let left = left.view();
        let (l11, l21) = left.split_at(Axis(0), n1);
        let (mut a12, mut a22) = right.view_mut().split_at(Axis(0), n1);
        trsm(false, l11, a12.view_mut());
        mat_mul(-S::one(), &l21, &a12, S::one(), &mut a22);
    }
    let (_, a22) = right.split_at(Axis(0), n1);
    let info2 = lu_recursive(a22, ipiv2);
    if info == 0 && info2 > 0 {
        info = info2 + n1 as i32;
    }
    for p in ipiv2.iter_mut() {
        *p += n1 as i32;
    }
    swap_rows(left, n1 + 1, n, ipiv);
    info
}

/// LAPACK `?laswp`: the row interchanges `ipiv[k1 - 1..k2]` (1-based, as LAPACK) applied in
/// order to the column-major view `a`, whose rows include every `ipiv` entry; column panels (see
/// [`pieces`]) on rayon's pool, as the columns are independent.
fn swap_rows<S: Scalar>(mut a: ArrayViewMut2<S>, k1: usize, k2: usize, ipiv: &[i32]) {
    let (m, cols) = a.dim();
    if cols == 0 {
        return;
    }
    let lda = column_major_ld(&a.view());
    let swap = |mut aj: ArrayViewMut2<S>| {
        // SAFETY: `aj` is m x (its columns) with leading dimension lda, and the caller's ipiv
        // entries k1..=k2 index its rows.
        unsafe { S::laswp_raw(aj.ncols(), aj.as_mut_ptr(), lda, k1, k2, ipiv.as_ptr()) };
    };
    let width = panel_width(cols, m.saturating_mul(cols));
    if width >= cols {
        swap(a);
    } else {
        a.axis_chunks_iter_mut(Axis(1), width)
            .into_par_iter()
            .for_each(swap);
    }
}

/// The leading dimension of a column-major view (unit stride down the columns).
fn column_major_ld<S>(a: &ArrayView2<S>) -> usize {
    debug_assert!(a.strides()[0] == 1 || a.nrows() <= 1);
    (a.strides()[1] as usize).max(a.nrows()).max(1)
}

/// Rows at or below which a triangular solve is one BLAS `?trsm` call.
const TRSM_BASE: usize = 32;

/// `b <- T^-1 b` on the calling thread, for the unit lower triangle of the square column-major
/// `t` (`upper == false`) or its upper triangle with the diagonal (`upper == true`). Recursive:
/// with `T = [T11 T12; T21 T22]` split at about half the rows, the lower solve is
/// `X1 = T11^-1 B1`, `B2 <- B2 - T21 X1`, `X2 = T22^-1 B2` (the upper one the mirror image), so
/// all but `TRSM_BASE / m` of the work is in products, which BLAS runs near its peak; a serial
/// OpenBLAS `?trsm` on many right-hand sides runs at about half of that.
fn trsm_serial<S: Scalar>(upper: bool, t: ArrayView2<S>, mut b: ArrayViewMut2<S>) {
    let m = t.nrows();
    if m == 0 || b.ncols() == 0 {
        return;
    }
    if m <= TRSM_BASE {
        trsm_leaf(upper, t, b);
        return;
    }
    let m1 = (m / 2).next_multiple_of(PANEL_ALIGN).min(m - 1);
    let (mut b1, mut b2) = b.view_mut().split_at(Axis(0), m1);
    let t11 = t.slice(s![..m1, ..m1]);
    let t22 = t.slice(s![m1.., m1..]);
    if upper {
        trsm_serial(true, t22, b2.view_mut());
        general_mat_mul(-S::one(), &t.slice(s![..m1, m1..]), &b2, S::one(), &mut b1);
        trsm_serial(true, t11, b1);
    } else {
        trsm_serial(false, t11, b1.view_mut());
        general_mat_mul(-S::one(), &t.slice(s![m1.., ..m1]), &b1, S::one(), &mut b2);
        trsm_serial(false, t22, b2);
    }
}

/// Right-hand sides a leaf solve works on at once (one row of a tile: a few SIMD registers).
const LEAF_LANES: usize = 32;

/// The substitution of [`trsm_serial`] for `m <= TRSM_BASE` rows: `LEAF_LANES` right-hand sides
/// at a time are copied into a row-major tile, so that each step `x_i <- (b_i - sum_j t_ij x_j)`
/// (`/ t_ii` for the upper triangle, `j` ascending after `i` or before it) is a few vector fused
/// multiply-adds across the right-hand sides. OpenBLAS 0.3.21's serial `?trsm` reached 3-10 GFlop/s
/// at these sizes, against 50 for its products. Compiled a second time for AVX2 + FMA and chosen
/// at run time on x86-64 (the same operations in the same order: the same bits).
fn trsm_leaf<S: Scalar>(upper: bool, t: ArrayView2<S>, b: ArrayViewMut2<S>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features `trsm_leaf_fma` is compiled for.
            return unsafe { trsm_leaf_fma(upper, t, b) };
        }
    }
    trsm_leaf_kernel(upper, t, b);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn trsm_leaf_fma<S: Scalar>(upper: bool, t: ArrayView2<S>, b: ArrayViewMut2<S>) {
    trsm_leaf_kernel(upper, t, b);
}

#[inline(always)]
fn trsm_leaf_kernel<S: Scalar>(upper: bool, t: ArrayView2<S>, mut b: ArrayViewMut2<S>) {
    let (m, k) = b.dim();
    debug_assert!(m <= TRSM_BASE && t.dim() == (m, m));
    // The triangle that is read (with the diagonal for the upper one), row-major: each step
    // reads a row of it.
    let mut tri = [[S::zero(); TRSM_BASE]; TRSM_BASE];
    for (j, col) in t.columns().into_iter().enumerate() {
        let rows = if upper { 0..j + 1 } else { j + 1..m };
        match col.as_slice() {
            Some(col) => {
                for i in rows {
                    tri[i][j] = col[i];
                }
            }
            None => {
                for i in rows {
                    tri[i][j] = col[i];
                }
            }
        }
    }
    // Column `c` of `b` is `col(c)[..m]`: unit stride down the columns (every caller's `b` is a
    // piece of a column-major matrix) or else a copy through the view's own indexing.
    let ld = b.strides()[1];
    let unit_rows = b.strides()[0] == 1 || m <= 1;
    let base = b.as_mut_ptr();
    let mut tile = [[S::zero(); LEAF_LANES]; TRSM_BASE];
    let mut c0 = 0;
    while c0 < k {
        let w = LEAF_LANES.min(k - c0);
        if unit_rows {
            for c in 0..w {
                // SAFETY: column c0 + c < k of the m x k view starts at base + (c0 + c) ld and
                // holds m consecutive elements (unit row stride).
                let col =
                    unsafe { std::slice::from_raw_parts(base.offset((c0 + c) as isize * ld), m) };
                for (row, &v) in tile.iter_mut().zip(col) {
                    row[c] = v;
                }
            }
        } else {
            for c in 0..w {
                for (row, &v) in tile.iter_mut().zip(b.column(c0 + c)) {
                    row[c] = v;
                }
            }
        }
        if upper {
            for i in (0..m).rev() {
                let mut acc = tile[i];
                let ti = &tri[i];
                for j in i + 1..m {
                    let tij = -ti[j];
                    let xj = &tile[j];
                    for c in 0..LEAF_LANES {
                        acc[c] = tij.mul_add(xj[c], acc[c]);
                    }
                }
                let d = ti[i];
                for v in acc.iter_mut() {
                    *v = v.quotient(d);
                }
                tile[i] = acc;
            }
        } else {
            for i in 1..m {
                let mut acc = tile[i];
                let ti = &tri[i];
                for j in 0..i {
                    let tij = -ti[j];
                    let xj = &tile[j];
                    for c in 0..LEAF_LANES {
                        acc[c] = tij.mul_add(xj[c], acc[c]);
                    }
                }
                tile[i] = acc;
            }
        }
        if unit_rows {
            for c in 0..w {
                // SAFETY: as above; the view is borrowed mutably, so nothing else aliases it.
                let col = unsafe {
                    std::slice::from_raw_parts_mut(base.offset((c0 + c) as isize * ld), m)
                };
                for (row, v) in tile.iter().zip(col) {
                    *v = row[c];
                }
            }
        } else {
            for c in 0..w {
                for (row, v) in tile.iter().zip(b.column_mut(c0 + c)) {
                    *v = row[c];
                }
            }
        }
        c0 += w;
    }
}

/// [`trsm_serial`] on column panels of `b` (see [`pieces`]) on rayon's pool.
fn trsm<S: Scalar>(upper: bool, t: ArrayView2<S>, mut b: ArrayViewMut2<S>) {
    let (m, n) = b.dim();
    let cols = panel_width(n, m.saturating_mul(m).saturating_mul(n));
    if cols >= n {
        trsm_serial(upper, t, b);
        return;
    }
    b.axis_chunks_iter_mut(Axis(1), cols)
        .into_par_iter()
        .for_each(|bj| trsm_serial(upper, t, bj));
}

/// Solves `A X = B` for the `nrhs` columns of the column-major `n x nrhs` `b`, given the factors
/// of [`lu_factor`] (`P A = L U`): `X = U^-1 L^-1 P B`, by groups of columns (see [`pieces`]) on
/// rayon's pool, each with the row interchanges and the two triangular solves of
/// [`trsm_serial`]. Returns LAPACK's `info` convention (always 0 here: the factors are given).
pub(crate) fn lu_solve<S: Scalar>(
    n: usize,
    nrhs: usize,
    lu: &[S],
    ipiv: &[i32],
    b: &mut [S],
) -> i32 {
    serial_blas();
    if n == 0 || nrhs == 0 {
        return 0;
    }
    let lu = ArrayView2::from_shape((n, n).f(), &lu[..n * n]).expect("n x n factors");
    let ipiv = &ipiv[..n];
    let mut b =
        ArrayViewMut2::from_shape((n, nrhs).f(), &mut b[..n * nrhs]).expect("n x nrhs columns");
    let cols = panel_width(nrhs, n.saturating_mul(n).saturating_mul(nrhs));
    b.axis_chunks_iter_mut(Axis(1), cols)
        .into_par_iter()
        .for_each(|mut bj| {
            // SAFETY: `bj` is n x (its columns) with leading dimension n; ipiv indexes its rows.
            unsafe { S::laswp_raw(bj.ncols(), bj.as_mut_ptr(), n, 1, n, ipiv.as_ptr()) };
            trsm_serial(false, lu, bj.view_mut());
            trsm_serial(true, lu, bj);
        });
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::RealScalar;
    use ndarray::Array2;
    use num_complex::Complex;

    fn lcg(state: &mut u64) -> f64 {
        crate::test_rng::uniform(state) - 0.5
    }

    fn random<S: Scalar>(
        shape: (usize, usize),
        mk: fn(f64, f64) -> S,
        state: &mut u64,
    ) -> Array2<S> {
        Array2::from_shape_simple_fn(shape.f(), || {
            let re = lcg(state);
            mk(re, lcg(state))
        })
    }

    fn norm1<S: Scalar>(a: &Array2<S>) -> f64 {
        a.columns()
            .into_iter()
            .map(|c| c.iter().map(|v| v.modulus().to_f64()).sum::<f64>())
            .fold(0.0, f64::max)
    }

    /// `lu_factor` + `lu_solve` (recursive, leaf kernels, panels) against the definition: the
    /// backward error `||A X - B||_1 / (||A||_1 ||X||_1 + ||B||_1)` is a small multiple of the unit
    /// roundoff, and `X` agrees with LAPACK's `?getrf2` + `?getrs` to the same order, for sizes
    /// below, at and above the leaf size and the panel thresholds, and every dtype.
    fn check<S: Scalar>(mk: fn(f64, f64) -> S)
    where
        S::Real: RealScalar,
    {
        let eps = S::Real::UNIT_ROUNDOFF.to_f64();
        let mut state = 7;
        for &(n, nrhs) in &[
            (1, 1),
            (5, 3),
            (31, 7),
            (32, 32),
            (33, 40),
            (97, 130),
            (200, 64),
            (300, 301),
            (800, 20),
        ] {
            let a = random((n, n), mk, &mut state);
            let b = random((n, nrhs), mk, &mut state);
            let mut lu = a.clone();
            let mut ipiv = vec![0; n];
            assert_eq!(
                lu_factor(n, lu.as_slice_memory_order_mut().unwrap(), &mut ipiv),
                0
            );
            let mut x = b.clone();
            assert_eq!(
                lu_solve(
                    n,
                    nrhs,
                    lu.as_slice_memory_order().unwrap(),
                    &ipiv,
                    x.as_slice_memory_order_mut().unwrap()
                ),
                0
            );
            let mut r = b.clone();
            general_mat_mul(S::one(), &a, &x, -S::one(), &mut r);
            let backward = norm1(&r) / (norm1(&a) * norm1(&x) + norm1(&b));
            assert!(
                backward <= 4.0 * n as f64 * eps,
                "n={n} nrhs={nrhs}: backward error {backward:e}"
            );
            // LAPACK's own factorisation and solve of the same system.
            let mut lu2 = a.clone();
            let mut ipiv2 = vec![0; n];
            let mut x2 = b.clone();
            // SAFETY: n x n, n pivots and n x nrhs, column-major and contiguous.
            unsafe {
                assert_eq!(
                    S::getrf2_raw(n, n, lu2.as_mut_ptr(), n, ipiv2.as_mut_ptr()),
                    0
                );
                assert_eq!(
                    S::getrs_raw(n, nrhs, lu2.as_ptr(), ipiv2.as_ptr(), x2.as_mut_ptr()),
                    0
                );
            }
            let diff = norm1(&(&x - &x2)) / norm1(&x2);
            assert!(
                diff <= 1e3 * n as f64 * eps,
                "n={n} nrhs={nrhs}: {diff:e} from LAPACK"
            );
        }
    }

    #[test]
    fn lu_solve_matches_lapack_in_every_dtype() {
        check::<f64>(|re, _| re);
        check::<f32>(|re, _| re as f32);
        check::<Complex<f64>>(Complex::new);
        check::<Complex<f32>>(|re, im| Complex::new(re as f32, im as f32));
    }
}

//! Dense products, LU factorisations and solves whose rounding depends on the sizes only, never on
//! the number of threads.
//!
//! OpenBLAS splits a large product or LU over its own threads in a way that changes the order of
//! the sums: 0.3.21's threaded `dgemm` blocks the inner dimension differently from its serial one
//! (`n = 200, 300, 400` gave other bits on 2 threads than on 1), and its threaded LU pivots in
//! another order of operations. Here OpenBLAS always computes on the calling thread
//! ([`serial_blas`]) and the parallelism is linflow's own: a large product is cut into a number of
//! row (or column) panels that depends on its shape only, each panel one single-threaded BLAS
//! call, and the panels run on rayon's pool. The LU (recursive, as LAPACK's `?getrf2`) and the
//! solves are built from such products and from single-threaded LAPACK calls on fixed pieces. A
//! pool of any size therefore computes every number with the same operations in the same order.

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
    // SAFETY: plain calls into OpenBLAS's thread-count setting; lowering the count only sets a
    // variable that the next BLAS call reads.
    unsafe {
        if openblas_get_num_threads() != 1 {
            openblas_set_num_threads(1);
        }
    }
}

/// Products of at most this many multiply-adds are one BLAS call: OpenBLAS's own threshold for
/// threading (`64^3`); a thread hand-off costs more than it saves below it.
const SPLIT_MIN_WORK: usize = 1 << 18;

/// Panels are never narrower than this (rows or columns).
const PANEL_MIN: usize = 32;

/// Panel widths are rounded up to a multiple of this (the register blocking of the kernels).
const PANEL_ALIGN: usize = 16;

/// Below this size the split dimension gets two panels; above it one panel per this many rows.
/// Each panel packs the whole other operand again: on the 2-core test machine four panels cost
/// 6% at `n = 1024` and eight 21% against one, two panels under 1% (`benches/README.md`).
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
/// depend on the number of threads: above `64^3` multiply-adds the longer side of `c` is cut into
/// panels (see [`pieces`]) computed by single-threaded BLAS calls on rayon's pool.
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
    if m >= n {
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
    // SAFETY: `right` is m x (n - n1) with leading dimension lda; ipiv1 indexes its rows.
    unsafe { S::laswp_raw(n - n1, right.as_mut_ptr(), lda, 1, n1, ipiv1.as_ptr()) };
    {
        let left = left.view();
        let (l11, l21) = left.split_at(Axis(0), n1);
        let (mut a12, mut a22) = right.view_mut().split_at(Axis(0), n1);
        trsm_unit_lower(l11, a12.view_mut());
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
    // SAFETY: `left` is m x n1 with leading dimension lda; ipiv[n1..n] index its rows.
    unsafe { S::laswp_raw(n1, left.as_mut_ptr(), lda, n1 + 1, n, ipiv.as_ptr()) };
    info
}

/// The leading dimension of a column-major view (unit stride down the columns).
fn column_major_ld<S>(a: &ArrayView2<S>) -> usize {
    debug_assert!(a.strides()[0] == 1 || a.nrows() <= 1);
    (a.strides()[1] as usize).max(a.nrows()).max(1)
}

/// `b <- L^-1 b` for the unit lower triangle `L` of the square column-major `l`, column panels of
/// the column-major `b` on rayon's pool (see [`pieces`]).
fn trsm_unit_lower<S: Scalar>(l: ArrayView2<S>, mut b: ArrayViewMut2<S>) {
    let (m, n) = b.dim();
    if m == 0 || n == 0 {
        return;
    }
    let lda = column_major_ld(&l);
    let cols = panel_width(n, m.saturating_mul(m).saturating_mul(n));
    b.axis_chunks_iter_mut(Axis(1), cols)
        .into_par_iter()
        .for_each(|mut bj| {
            let ldb = column_major_ld(&bj.view());
            // SAFETY: `l` is m x m and `bj` m x (its columns), column-major, disjoint.
            unsafe { S::trsm_unit_lower_raw(m, bj.ncols(), l.as_ptr(), lda, bj.as_mut_ptr(), ldb) };
        });
}

/// Solves `A X = B` for the `nrhs` columns of the column-major `n x nrhs` `b`, given the factors
/// of [`lu_factor`]: groups of columns (see [`pieces`]), each a single-threaded LAPACK `?getrs`,
/// on rayon's pool. Returns the first nonzero `info` (only argument errors give one).
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
    assert!(lu.len() >= n * n && ipiv.len() >= n && b.len() >= n * nrhs);
    let cols = panel_width(nrhs, n.saturating_mul(n).saturating_mul(nrhs));
    let infos: Vec<i32> = b[..n * nrhs]
        .par_chunks_mut(n * cols)
        .map(|bj| {
            // SAFETY: `lu` is n x n, `ipiv` n and `bj` n x (its length / n), column-major.
            unsafe { S::getrs_raw(n, bj.len() / n, lu.as_ptr(), ipiv.as_ptr(), bj.as_mut_ptr()) }
        })
        .collect();
    infos.into_iter().find(|&i| i != 0).unwrap_or(0)
}

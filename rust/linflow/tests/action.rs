//! Integration tests of `expm_multiply` and `expm_multiply_grid` against `expm(tA) B`, for dense,
//! CSR and matrix-free operators and every scalar type.

use linflow::{
    CsrMatrix, DenseOperator, DiaMatrix, Error, ExpmMultiply, LinearOperator, Precision,
    RealScalar, Scalar, TimeGrid, expm, expm_multiply, expm_multiply_grid,
};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, array};
use num_complex::Complex;

fn eps<S: Scalar>() -> f64 {
    match S::PRECISION {
        Precision::Single => f32::EPSILON as f64,
        Precision::Double => f64::EPSILON,
    }
}

/// max |x - y| / max |y|.
fn rel_err<S: Scalar>(x: ArrayView2<S>, y: ArrayView2<S>) -> f64 {
    let scale = y.iter().map(|v| v.modulus().to_f64()).fold(0.0, f64::max);
    let diff = x
        .iter()
        .zip(y)
        .map(|(a, b)| (*a - *b).modulus().to_f64())
        .fold(0.0, f64::max);
    diff / scale
}

fn pseudo_random(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Array2::from_shape_fn((rows, cols), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

/// `exp(tA) B` by `expm` of the dense matrix (the reference).
fn reference<S: Scalar>(a: &Array2<S>, b: &Array2<S>, t: f64) -> Array2<S> {
    let ta = a.mapv(|v| v * S::from_f64(t));
    expm(ta.view()).unwrap().dot(b)
}

/// `||a||_1`.
fn norm1<S: Scalar>(a: &Array2<S>) -> f64 {
    a.columns()
        .into_iter()
        .map(|c| c.iter().map(|v| v.modulus().to_f64()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// The error allowed for `exp(tA) B`: a modest multiple of `eps max(1, |t| ||A||_1)`, the size of
/// the relative condition number of `exp(tA)` for these well-behaved test matrices.
fn tol<S: Scalar>(a: &Array2<S>, t: f64) -> f64 {
    16.0 * eps::<S>() * (t.abs() * norm1(a)).max(1.0)
}

/// A dense test matrix of 1-norm about `norm` and a CSR copy of a sparse one.
fn test_matrix(n: usize, seed: u64) -> Array2<f64> {
    let mut a = pseudo_random(n, n, seed);
    // A dominant negative diagonal: the shift by trace/n matters.
    for i in 0..n {
        a[[i, i]] -= 2.0 + (i as f64) / n as f64;
    }
    a
}

fn dense_matches_expm<S: Scalar>() {
    let a: Array2<S> = test_matrix(12, 3).mapv(S::from_f64);
    let b: Array2<S> = pseudo_random(12, 3, 4).mapv(S::from_f64);
    let op = DenseOperator::new(a.view()).unwrap();
    for t in [-2.5, -0.1, 0.0, 0.3, 1.7, 6.0] {
        let got = expm_multiply(&op, b.view(), S::Real::from_f64(t)).unwrap();
        let want = reference(&a, &b, t);
        let err = rel_err(got.view(), want.view());
        assert!(err <= tol(&a, t), "t={t}: {err}");
    }
}

#[test]
fn dense_matches_expm_all_types() {
    dense_matches_expm::<f32>();
    dense_matches_expm::<f64>();
    dense_matches_expm::<Complex<f32>>();
    dense_matches_expm::<Complex<f64>>();
}

/// CSR arrays of `a` with every row's entries reversed and the diagonal split into two
/// duplicate entries (both allowed, as in scipy).
fn csr_of(a: &Array2<f64>) -> (Vec<i32>, Vec<i32>, Vec<f64>) {
    let (mut indptr, mut indices, mut data) = (vec![0i32], vec![], vec![]);
    for i in 0..a.nrows() {
        for j in (0..a.ncols()).rev() {
            let v = a[[i, j]];
            if v != 0.0 {
                if i == j {
                    indices.extend([j as i32, j as i32]);
                    data.extend([0.25 * v, 0.75 * v]);
                } else {
                    indices.push(j as i32);
                    data.push(v);
                }
            }
        }
        indptr.push(indices.len() as i32);
    }
    (indptr, indices, data)
}

#[test]
fn csr_matches_dense() {
    let n = 30;
    let mut a = test_matrix(n, 5);
    a.mapv_inplace(|v| if v.abs() < 0.7 { 0.0 } else { v });
    let (indptr, indices, data) = csr_of(&a);
    let csr = CsrMatrix::new((n, n), &indptr, &indices, &data).unwrap();
    let trace: f64 = (0..n).map(|i| a[[i, i]]).sum();
    assert!((csr.trace().unwrap() - trace).abs() <= 1e-14 * trace.abs());
    for k in [1, 3] {
        let b = pseudo_random(n, k, 6);
        for t in [-1.0, 2.0] {
            let got = expm_multiply(&csr, b.view(), t).unwrap();
            let want = reference(&a, &b, t);
            assert!(rel_err(got.view(), want.view()) <= tol(&a, t));
        }
    }
}

fn grid_matches_pointwise<S: Scalar>(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    scale: f64,
) {
    let a: Array2<S> = (test_matrix(8, 9) * scale).mapv(S::from_f64);
    let b: Array2<S> = pseudo_random(8, 2, 10).mapv(S::from_f64);
    let op = DenseOperator::new(a.view()).unwrap();
    let grid = TimeGrid::linspace(
        S::Real::from_f64(start),
        S::Real::from_f64(stop),
        num,
        endpoint,
    );
    let x = expm_multiply_grid(&op, b.view(), grid).unwrap();
    assert_eq!(x.dim(), (num, 8, 2));
    for k in 0..num {
        let t = grid.time(k).to_f64();
        let want = reference(&a, &b, t);
        let err = rel_err(x.index_axis(ndarray::Axis(0), k), want.view());
        // The earliest time (the first point, or the last of a decreasing grid) is computed
        // directly; the others by stepping forward from it, which passes its error on amplified
        // by at most cond(exp((t_k - t_anchor) A)).
        let anchor = if stop < start {
            grid.time(num - 1).to_f64()
        } else {
            start
        };
        let a64 = test_matrix(8, 9) * scale;
        let cond = norm1(&reference(&a64, &Array2::eye(8), t - anchor))
            * norm1(&reference(&a64, &Array2::eye(8), anchor - t));
        let allowed = tol(&a, t.abs().max(anchor.abs())) * cond;
        assert!(
            err <= allowed,
            "start={start} stop={stop} num={num} k={k} t={t}: {err}"
        );
    }
}

#[test]
fn grids_forward_reversed_shifted() {
    for (start, stop, num, endpoint, scale) in [
        (0.1, 3.2, 13, true, 1.0),
        (0.1, 3.2, 14, true, 1.0),
        (0.1, 3.2, 2, true, 1.0),
        (0.1, 3.2, 13, false, 1.0),
        (0.0, 1.0, 200, true, 1.0), // many points per step: shared Taylor vectors
        (0.0, 1.0, 5, true, 30.0),  // few points: every step scaled on its own
        (3.2, -1.0, 9, true, 1.0),  // reversed (scipy issue 16375)
        (2.0, 0.0, 101, false, 2.0), // reversed, fine grid
        (40.0, 41.0, 11, true, 0.5), // far from 0 (scipy issue 16311)
        (-40.0, -39.0, 11, true, 0.5),
    ] {
        grid_matches_pointwise::<f64>(start, stop, num, endpoint, scale);
        grid_matches_pointwise::<Complex<f64>>(start, stop, num, endpoint, scale);
        grid_matches_pointwise::<f32>(start, stop, num, endpoint, scale);
        grid_matches_pointwise::<Complex<f32>>(start, stop, num, endpoint, scale);
    }
}

/// The operator `A` known only through products, with no trace or norm: both are estimated.
struct MatrixFree(Array2<f64>);

impl LinearOperator<f64> for MatrixFree {
    fn shape(&self) -> (usize, usize) {
        self.0.dim()
    }
    fn apply(&self, x: ArrayView2<f64>, mut y: ArrayViewMut2<f64>) -> linflow::Result<()> {
        y.assign(&self.0.dot(&x));
        Ok(())
    }
    fn apply_adjoint(&self, x: ArrayView2<f64>, mut y: ArrayViewMut2<f64>) -> linflow::Result<()> {
        y.assign(&self.0.t().dot(&x));
        Ok(())
    }
}

#[test]
fn matrix_free_operator_with_estimated_trace_and_norms() {
    for n in [5, 40] {
        let a = test_matrix(n, 12) * 3.0;
        let b = pseudo_random(n, 2, 13);
        let op = MatrixFree(a.clone());
        let got = expm_multiply(&op, b.view(), 1.5).unwrap();
        let err = rel_err(got.view(), reference(&a, &b, 1.5).view());
        assert!(err <= tol(&a, 1.5), "n={n}: {err}");
        // A wrong trace: the shift that would grow the norm is dropped.
        let got = ExpmMultiply::new()
            .with_trace(100.0)
            .apply(&op, b.view(), 1.5)
            .unwrap();
        assert!(rel_err(got.view(), reference(&a, &b, 1.5).view()) <= tol(&a, 1.5));
    }
}

#[test]
fn trivial_cases() {
    let a = array![[1.0_f64, 2.0], [3.0, 4.0]];
    let op = DenseOperator::new(a.view()).unwrap();
    let b = array![[1.0], [-1.0]];
    assert_eq!(expm_multiply(&op, b.view(), 0.0).unwrap(), b);
    let zero = Array2::<f64>::zeros((2, 2));
    let z = DenseOperator::new(zero.view()).unwrap();
    assert_eq!(expm_multiply(&z, b.view(), 5.0).unwrap(), b);
    let empty = Array2::<f64>::zeros((2, 0));
    assert_eq!(expm_multiply(&op, empty.view(), 1.0).unwrap().dim(), (2, 0));
    let g = expm_multiply_grid(&op, b.view(), TimeGrid::linspace(0.0, 1.0, 0, true)).unwrap();
    assert_eq!(g.dim(), (0, 2, 1));
    // scalar: exp(t a) b
    let s = array![[-0.5_f64]];
    let x = expm_multiply(
        &DenseOperator::new(s.view()).unwrap(),
        array![[2.0]].view(),
        3.0,
    )
    .unwrap();
    assert!((x[[0, 0]] - 2.0 * (-1.5f64).exp()).abs() <= 2.0 * f64::EPSILON * x[[0, 0]]);
}

#[test]
fn errors_are_values() {
    let rect = Array2::<f64>::zeros((2, 3));
    assert_eq!(
        DenseOperator::new(rect.view()).unwrap_err(),
        Error::NotSquare { rows: 2, cols: 3 }
    );
    let a = Array2::<f64>::eye(2);
    let op = DenseOperator::new(a.view()).unwrap();
    let b = Array2::<f64>::zeros((3, 1));
    assert!(matches!(
        expm_multiply(&op, b.view(), 1.0),
        Err(Error::ShapeMismatch { .. })
    ));
    let b = Array2::<f64>::zeros((2, 1));
    assert_eq!(
        expm_multiply(&op, b.view(), f64::NAN).unwrap_err(),
        Error::NonFinite
    );
    let nan = array![[f64::NAN]];
    assert_eq!(
        DenseOperator::new(nan.view()).unwrap_err(),
        Error::NonFinite
    );
    // CSR structure checks
    let data = [1.0_f64, 2.0];
    assert!(matches!(
        CsrMatrix::new((2, 2), &[0i32, 1], &[0, 1], &data),
        Err(Error::InvalidSparse { .. })
    ));
    assert!(matches!(
        CsrMatrix::new((2, 2), &[0i32, 2, 1], &[0, 1], &data),
        Err(Error::InvalidSparse { .. })
    ));
    assert!(matches!(
        CsrMatrix::new((2, 2), &[0i32, 1, 2], &[0, 2], &data),
        Err(Error::InvalidSparse { .. })
    ));
    assert!(matches!(
        CsrMatrix::new((2, 2), &[0i32, 1, 2], &[0, -1], &data),
        Err(Error::InvalidSparse { .. })
    ));
    assert!(matches!(
        CsrMatrix::new((2, 2), &[0i32, 1, 3], &[0, 1], &data),
        Err(Error::InvalidSparse { .. })
    ));
    let csr = CsrMatrix::new((2, 3), &[0i32, 1, 2], &[0, 2], &data).unwrap();
    assert_eq!(
        expm_multiply(&csr, b.view(), 1.0).unwrap_err(),
        Error::NotSquare { rows: 2, cols: 3 }
    );
}

/// A banded test matrix (offsets -2..=2 and 3) with variable or constant diagonals.
fn banded(n: usize, constant: bool) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(i, j)| {
        let off = j as isize - i as isize;
        let base = match off {
            -2 => 0.3,
            -1 => 1.0,
            0 => -2.5,
            1 => 0.8,
            2 => -0.2,
            3 => 0.1,
            _ => return 0.0,
        };
        if constant {
            base
        } else {
            base * (1.0 + 0.5 * ((i * 7 + j) % 5) as f64 / 5.0)
        }
    })
}

#[test]
fn banded_matrices_by_diagonals() {
    for constant in [false, true] {
        for n in [3, 7, 700] {
            let a = banded(n, constant);
            let (indptr, indices, data) = csr_of(&a);
            let csr = CsrMatrix::new((n, n), &indptr, &indices, &data).unwrap();
            let dia = csr.banded(8).expect("six diagonals");
            let b = pseudo_random(n, 2, 21);
            for t in [0.7, -0.4] {
                let want = if n <= 7 {
                    reference(&a, &b, t)
                } else {
                    expm_multiply(&csr, b.view(), t).unwrap()
                };
                for cols in [1, 2] {
                    let bk = b.slice(ndarray::s![.., ..cols]).to_owned();
                    let got = expm_multiply(&dia, bk.view(), t).unwrap();
                    let err = rel_err(got.view(), want.slice(ndarray::s![.., ..cols]));
                    assert!(err <= tol(&a, t), "n={n} constant={constant} t={t}: {err}");
                }
            }
            // products and adjoint products (the norm estimator's) agree with the dense matrix
            let x = pseudo_random(n, 3, 22);
            for op in [&dia as &dyn LinearOperator<f64>, &csr] {
                let mut y = Array2::zeros((n, 3));
                op.apply(x.view(), y.view_mut()).unwrap();
                assert!(rel_err(y.view(), a.dot(&x).view()) <= 1e-15);
                op.apply_adjoint(x.view(), y.view_mut()).unwrap();
                assert!(rel_err(y.view(), a.t().dot(&x).view()) <= 1e-15);
            }
        }
    }
    // scipy's layout: data indexed by column, wider than n, entries outside the matrix ignored.
    let data = array![[9.0_f64, 1.0, 2.0, 7.0], [3.0, 4.0, 5.0, 7.0]];
    let dia = DiaMatrix::new(3, vec![1, 0], data.view()).unwrap();
    let mut y = Array2::zeros((3, 3));
    dia.apply(Array2::eye(3).view(), y.view_mut()).unwrap();
    assert_eq!(y, array![[3.0, 1.0, 0.0], [0.0, 4.0, 2.0], [0.0, 0.0, 5.0]]);
    assert_eq!(dia.trace(), Some(12.0));
    assert_eq!(dia.norm1_shifted(1.0), Some(6.0));
    assert!(matches!(
        DiaMatrix::new(3, vec![0, 0], data.view()),
        Err(Error::InvalidSparse { .. })
    ));
    assert!(matches!(
        DiaMatrix::new(3, vec![3, 0], data.view()),
        Err(Error::InvalidSparse { .. })
    ));
    // a CSR matrix spread over many diagonals is not converted
    let a = test_matrix(30, 1);
    let (indptr, indices, data) = csr_of(&a);
    assert!(
        CsrMatrix::new((30, 30), &indptr, &indices, &data)
            .unwrap()
            .banded(16)
            .is_none()
    );
}

/// `exp(t D) b` for `D = diag(d)`: `e^(t d_i) b_i` (the reference of the overflow tests).
fn diagonal_action(d: &[f64], b: &[f64], t: f64) -> Vec<f64> {
    d.iter()
        .zip(b)
        .map(|(&di, &bi)| (t * di).exp() * bi)
        .collect()
}

/// The three storages of one diagonal matrix: dense, CSR (zeros not stored) and DIA (one diagonal
/// of width n, zeros stored).
/// CSR arrays: `indptr`, `indices`, `data`.
type Csr = (Vec<i32>, Vec<i32>, Vec<f64>);

fn diagonal_operators(d: &[f64]) -> (Array2<f64>, Csr, Array2<f64>) {
    let dense = Array2::from_diag(&ndarray::arr1(d));
    let csr = csr_of(&dense);
    let dia = Array2::from_shape_vec((1, d.len()), d.to_vec()).unwrap();
    (dense, csr, dia)
}

/// Compares entry by entry: infinite where the exact value is (with its sign), 0 (to 1e-300)
/// where it underflows, else within `rtol` relative to the largest finite exact entry (the
/// Taylor sums are accurate in norm: an entry far below the largest carries the cancellation
/// of its alternating series, as in Al-Mohy & Higham's analysis).
fn assert_entrywise(got: &[f64], want: &[f64], rtol: f64) {
    let scale = want
        .iter()
        .filter(|w| w.is_finite())
        .fold(0.0f64, |m, w| m.max(w.abs()));
    for (g, w) in got.iter().zip(want) {
        if w.is_infinite() {
            assert_eq!(g, w, "{got:?} vs {want:?}");
        } else if *w == 0.0 {
            assert!(g.abs() <= 1e-300, "{got:?} vs {want:?}");
        } else {
            assert!((g - w).abs() <= rtol * scale, "{got:?} vs {want:?}");
        }
    }
}

#[test]
fn overflow_gives_inf_where_exact_and_exact_values_elsewhere() {
    // Issue 7: once an entry of the state overflows, 0 * inf in the dense product made every
    // other entry NaN, and the truncation relative to the infinite norm cut the other sums after
    // one term. Exact: e^(t d_i) b_i, with e^-1000 below the smallest float.
    let b = [1.0, 1.0, 1.0, 2.0];
    for d in [
        [1e3, -1e3, 0.0, 0.5],
        [800.0, -3.0, 0.0, 1.0],
        [1e3, 2.0, -1.0, 0.0],
    ] {
        let want = diagonal_action(&d, &b, 1.0);
        let (dense, (p, i, v), dia) = diagonal_operators(&d);
        let bb = Array2::from_shape_vec((4, 1), b.to_vec()).unwrap();
        let ops: [Box<dyn LinearOperator<f64>>; 3] = [
            Box::new(DenseOperator::new(dense.view()).unwrap()),
            Box::new(CsrMatrix::new((4, 4), &p, &i, &v).unwrap()),
            Box::new(DiaMatrix::new(4, vec![0], dia.view()).unwrap()),
        ];
        for op in &ops {
            let got = expm_multiply(op.as_ref(), bb.view(), 1.0).unwrap();
            assert_entrywise(got.as_slice().unwrap(), &want, 1e-12);
        }
        // On a grid: t = 0, 0.25, ..., 1 (e^250 finite, e^1000 not), and reversed.
        for (start, stop) in [(0.0, 1.0), (1.0, 0.0)] {
            let grid = TimeGrid::linspace(start, stop, 5, true);
            for op in &ops {
                let got = expm_multiply_grid(op.as_ref(), bb.view(), grid).unwrap();
                for k in 0..5 {
                    let want = diagonal_action(&d, &b, grid.time(k));
                    let row: Vec<f64> = got
                        .index_axis(ndarray::Axis(0), k)
                        .iter()
                        .copied()
                        .collect();
                    assert_entrywise(&row, &want, 1e-12);
                }
            }
        }
    }
}

#[test]
fn huge_shift_is_applied_in_pieces() {
    // A = 1000 I: A - mu I = 0, and exp(A) b = e^1000 b, finite for b = 1e-300 (1.97e134) though
    // e^1000 itself overflows; e^-1000 b for b = 1e300 is 5.1e-135 though e^-1000 underflows.
    for (c, x) in [(1e3_f64, 1e-300_f64), (-1e3, 1e300)] {
        let a = Array2::from_diag(&ndarray::arr1(&[c, c]));
        let b = array![[x], [0.0]];
        let got = expm_multiply(&DenseOperator::new(a.view()).unwrap(), b.view(), 1.0).unwrap();
        let want = (c + x.ln()).exp();
        assert!(
            ((got[[0, 0]] - want) / want).abs() < 1e-12,
            "{got:?} {want}"
        );
        assert_eq!(got[[1, 0]], 0.0);
    }
}

#[test]
fn norms_of_powers_that_overflow_are_infinite() {
    // diag(1e308, -1e308, 0): the exact powers overflow, and the NaN of inf - 0 * inf in them
    // was dropped by the maximum, so the Taylor step count came out as 1 and the result
    // [inf, inf, 1] (exact [inf, 0, 1]). Now the norm is infinite: too many Taylor steps, an
    // error for CSR. A dense diagonal A is exponentiated exactly instead.
    let (dense, (p, i, v), _) = diagonal_operators(&[1e308, -1e308, 0.0]);
    let b = Array2::ones((3, 1));
    let got = expm_multiply(&DenseOperator::new(dense.view()).unwrap(), b.view(), 1.0).unwrap();
    assert_eq!(got, array![[f64::INFINITY], [0.0], [1.0]]);
    let got = expm_multiply(&CsrMatrix::new((3, 3), &p, &i, &v).unwrap(), b.view(), 1.0);
    assert!(matches!(got, Err(Error::TooManySteps { .. })), "{got:?}");
}

/// The chain `0 -> 1 -> ... -> n-1` with rate `c` (`A` upper bidiagonal, the last state
/// absorbing): every state ends in the last one, `exp(tA) -> e_{n-1}^T`-rows as `ct -> inf`, so
/// `exp(tA) B` has every row equal to the last row of `B`. With `c t = 1e10` the Taylor steps are
/// past their limit (`TooManySteps` for CSR); a dense `A` is exponentiated by scaling and squaring
/// instead (a few dozen products).
fn absorbing_chain_case<S: Scalar>(rate: S) {
    let n = 4;
    let a = Array2::from_shape_fn((n, n), |(i, j)| {
        if i + 1 == n {
            S::zero()
        } else if i == j {
            -rate
        } else if j == i + 1 {
            rate
        } else {
            S::zero()
        }
    });
    let b = pseudo_random(n, 2, 7).mapv(S::from_f64);
    let op = DenseOperator::new(a.view()).unwrap();
    let got = expm_multiply(&op, b.view(), S::Real::from_f64(1.0)).unwrap();
    for col in 0..2 {
        let want = b[[n - 1, col]];
        for i in 0..n {
            let err = (got[[i, col]] - want).modulus().to_f64();
            assert!(err <= 4.0 * eps::<S>(), "{got:?} vs {want:?}");
        }
    }
}

#[test]
fn dense_matrix_past_the_taylor_limit_is_exponentiated() {
    // The `action` fuzz target's slow input: complex64 diag(0.9375, 0) at t = -429916288 took
    // about 4e8 Taylor products (under the 1e9 limit, so it ran for minutes); exp(tA) B is
    // [0, b_1], now from one exponential.
    let z = Complex::new(0.0f32, 0.0);
    let a = array![[Complex::new(0.9375f32, 0.0), z], [z, z]];
    let b = array![[Complex::new(1.0f32, 2.0)], [Complex::new(-3.0, 0.5)]];
    let got = expm_multiply(
        &DenseOperator::new(a.view()).unwrap(),
        b.view(),
        -429916288.0,
    );
    assert_eq!(got.unwrap(), array![[z], [b[[1, 0]]]]);
    // c = 1e10, and a complex rate c (1 + i) for the complex types (e^(-c(1+i)t) vanishes too).
    absorbing_chain_case(1e10f32);
    absorbing_chain_case(1e10f64);
    absorbing_chain_case(Complex::new(1e10f32, 1e10));
    absorbing_chain_case(Complex::new(1e10f64, 1e10));
    // The same chain as CSR: no dense matrix to exponentiate, too many Taylor steps.
    let a = Array2::from_shape_fn((4, 4), |(i, j)| match (i, j) {
        (3, _) => 0.0,
        _ if i == j => -1e10,
        _ if j == i + 1 => 1e10,
        _ => 0.0,
    });
    let (p, i, v) = csr_of(&a);
    let csr = CsrMatrix::new((4, 4), &p, &i, &v).unwrap();
    let got = expm_multiply(&csr, Array2::ones((4, 1)).view(), 1.0);
    assert!(matches!(got, Err(Error::TooManySteps { .. })), "{got:?}");
    // exp(-c J) for the all-ones J is I - J/3 + e^(-3c) J/3: finite, but scaling and squaring
    // gives +-inf for c = 1e300; such a result goes to the Taylor steps, which are too many.
    let a = Array2::from_elem((3, 3), -1e300);
    let got = expm_multiply(
        &DenseOperator::new(a.view()).unwrap(),
        array![[1.0], [0.0], [0.0]].view(),
        1.0,
    );
    assert!(matches!(got, Err(Error::TooManySteps { .. })), "{got:?}");
}

/// Where scaling and squaring is cheaper (a large `||tA||_1`, one column), the dense result is
/// `expm(tA) B` bit for bit; where the Taylor steps are cheaper it is unchanged (and agrees with
/// `expm(tA) B` to rounding).
#[test]
fn dense_action_takes_the_cheaper_method() {
    // A skew-symmetric A: exp(tA) is orthogonal, nothing decays or grows.
    let n = 40;
    let r = pseudo_random(n, n, 3);
    let a = &r - &r.t();
    let b = pseudo_random(n, 1, 5);
    let op = DenseOperator::new(a.view()).unwrap();
    for t in [1e-3, 1.0, 30.0, 1e3] {
        let got = expm_multiply(&op, b.view(), t).unwrap();
        let want = reference(&a, &b, t);
        assert!(rel_err(got.view(), want.view()) <= tol(&a, t), "t = {t}");
    }
    // ||tA||_1 = 1e3 x ||A||_1: thousands of Taylor products against about 20 of n x n.
    let t = 1e3;
    let e = expm(a.mapv(|x| x * t).view()).unwrap();
    assert_eq!(expm_multiply(&op, b.view(), t).unwrap(), e.dot(&b));
}

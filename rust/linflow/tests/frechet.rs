//! Integration tests of `expm_frechet`, `ExpmFrechet` and `expm_cond` against closed forms and
//! the block-enlargement reference, for every scalar type.

use linflow::{
    Error, ExpmFrechet, FrechetMethod, Precision, RealScalar, Scalar, expm, expm_cond,
    expm_cond_batch, expm_frechet, expm_frechet_batch, expm_frechet_with,
};
use ndarray::{Array2, Array3, array};
use num_complex::Complex;

fn eps<S: Scalar>() -> f64 {
    match S::PRECISION {
        Precision::Single => f32::EPSILON as f64,
        Precision::Double => f64::EPSILON,
    }
}

/// max |x - y| / max |y|.
fn rel_err<S: Scalar>(x: &Array2<S>, y: &Array2<S>) -> f64 {
    let scale = y.iter().map(|v| v.modulus().to_f64()).fold(0.0, f64::max);
    let diff = x
        .iter()
        .zip(y)
        .map(|(a, b)| (*a - *b).modulus().to_f64())
        .fold(0.0, f64::max);
    diff / scale
}

fn cast<S: Scalar>(a: &Array2<f64>) -> Array2<S> {
    a.mapv(S::from_f64)
}

/// A deterministic "random" matrix with entries in [-1, 1].
fn pseudo_random(n: usize, seed: u64) -> Array2<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Array2::from_shape_fn((n, n), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

fn sps_matches_block_enlargement<S: Scalar>() {
    // 1-norms around every threshold ell_m and well beyond (scaled order).
    for (n, seed) in [(2, 1), (3, 2), (5, 3), (8, 4)] {
        let base = pseudo_random(n, seed);
        let dir = pseudo_random(n, seed + 100);
        for target in [1e-3, 0.05, 0.3, 1.0, 2.5, 4.0, 9.0, 40.0] {
            let norm = base
                .columns()
                .into_iter()
                .map(|c| c.iter().map(|v| v.abs()).sum::<f64>())
                .fold(0.0, f64::max);
            let a = cast::<S>(&(&base * (target / norm)));
            let e = cast::<S>(&dir);
            let (x1, l1) = expm_frechet(a.view(), e.view()).unwrap();
            let (x2, l2) =
                expm_frechet_with(a.view(), e.view(), FrechetMethod::BlockEnlarge).unwrap();
            let tol = 64.0 * eps::<S>() * target.max(1.0);
            assert!(
                rel_err(&x1, &x2) <= tol,
                "expm n={n} norm={target}: {}",
                rel_err(&x1, &x2)
            );
            assert!(
                rel_err(&l1, &l2) <= tol,
                "L n={n} norm={target}: {}",
                rel_err(&l1, &l2)
            );
            assert!(rel_err(&x1, &expm(a.view()).unwrap()) <= tol);
        }
    }
}

#[test]
fn sps_matches_block_enlargement_all_types() {
    sps_matches_block_enlargement::<f32>();
    sps_matches_block_enlargement::<f64>();
    sps_matches_block_enlargement::<Complex<f32>>();
    sps_matches_block_enlargement::<Complex<f64>>();
}

/// exp'(x) divided differences: f[a, b] = (e^a - e^b) / (a - b), f[a, a] = e^a.
fn divided_difference(a: f64, b: f64) -> f64 {
    if a == b {
        a.exp()
    } else {
        // e^b (e^(a-b) - 1) / (a - b): stable for close a, b.
        b.exp() * (a - b).exp_m1() / (a - b)
    }
}

fn diagonal_closed_form<S: Scalar>() {
    // L(D, E)_ij = E_ij f[d_i, d_j] for diagonal D.
    let d = [-3.0, -0.5, 0.25, 0.25 + 1e-9, 2.0];
    let n = d.len();
    let a = Array2::from_shape_fn((n, n), |(i, j)| if i == j { d[i] } else { 0.0 });
    let e = pseudo_random(n, 7);
    let want = Array2::from_shape_fn((n, n), |(i, j)| e[[i, j]] * divided_difference(d[i], d[j]));
    let (_, l) = expm_frechet(cast::<S>(&a).view(), cast::<S>(&e).view()).unwrap();
    assert!(
        rel_err(&l, &cast::<S>(&want)) <= 32.0 * eps::<S>(),
        "{}",
        rel_err(&l, &cast::<S>(&want))
    );
}

#[test]
fn diagonal_matrices_give_divided_differences() {
    diagonal_closed_form::<f32>();
    diagonal_closed_form::<f64>();
    diagonal_closed_form::<Complex<f32>>();
    diagonal_closed_form::<Complex<f64>>();
}

#[test]
fn commuting_direction_gives_exp_times_direction() {
    // L(A, A) = A exp(A), L(A, I) = exp(A).
    let a = array![[0.3_f64, -1.2, 0.5], [0.7, 0.1, -0.4], [-0.2, 0.9, -0.6]] * 3.0;
    let x = expm(a.view()).unwrap();
    let (_, l) = expm_frechet(a.view(), a.view()).unwrap();
    assert!(rel_err(&l, &a.dot(&x)) <= 64.0 * f64::EPSILON);
    let (_, l) = expm_frechet(a.view(), Array2::eye(3).view()).unwrap();
    assert!(rel_err(&l, &x) <= 64.0 * f64::EPSILON);
}

#[test]
fn reusable_setup_matches_single_calls() {
    for scale in [0.01, 1.0, 30.0] {
        let a = pseudo_random(6, 11) * scale;
        let f = ExpmFrechet::new(a.view()).unwrap();
        for seed in 0..3 {
            let e = pseudo_random(6, 20 + seed);
            let (x, l) = expm_frechet(a.view(), e.view()).unwrap();
            assert!(rel_err(&f.derivative(e.view()).unwrap(), &l) <= 1e-14);
            assert!(rel_err(&f.expm().to_owned(), &x) <= 1e-15);
        }
    }
}

#[test]
fn batches_match_single_calls() {
    let a = Array3::from_shape_fn((40, 4, 4), |(k, i, j)| {
        ((k * 7 + i * 3 + j) % 5) as f64 * 0.3 - 0.6
    });
    let e = Array3::from_shape_fn((40, 4, 4), |(k, i, j)| {
        ((k + i * 2 + j * 5) % 3) as f64 - 1.0
    });
    for method in [FrechetMethod::Sps, FrechetMethod::BlockEnlarge] {
        let (x, l) = expm_frechet_batch(a.view(), e.view(), method).unwrap();
        for k in 0..40 {
            let (xk, lk) = expm_frechet_with(
                a.index_axis(ndarray::Axis(0), k),
                e.index_axis(ndarray::Axis(0), k),
                method,
            )
            .unwrap();
            assert_eq!(x.index_axis(ndarray::Axis(0), k), xk);
            assert_eq!(l.index_axis(ndarray::Axis(0), k), lk);
        }
    }
    let kappa = expm_cond_batch(a.view()).unwrap();
    assert_eq!(
        kappa[5],
        expm_cond(a.index_axis(ndarray::Axis(0), 5)).unwrap()
    );
}

#[test]
fn errors_are_values() {
    let a = Array2::<f64>::zeros((2, 3));
    assert_eq!(
        expm_frechet(a.view(), a.view()).unwrap_err(),
        Error::NotSquare { rows: 2, cols: 3 }
    );
    let (a, e) = (Array2::<f64>::zeros((2, 2)), Array2::<f64>::zeros((3, 3)));
    assert!(matches!(
        expm_frechet(a.view(), e.view()),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut e = Array2::<f64>::zeros((2, 2));
    e[[0, 1]] = f64::NAN;
    assert_eq!(
        expm_frechet(a.view(), e.view()).unwrap_err(),
        Error::NonFinite
    );
    assert_eq!(expm_cond(e.view()).unwrap_err(), Error::NonFinite);
    let empty = Array2::<f64>::zeros((0, 0));
    let (x, l) = expm_frechet(empty.view(), empty.view()).unwrap();
    assert_eq!((x.dim(), l.dim()), ((0, 0), (0, 0)));
}

fn cond_of_scalars<S: Scalar>() {
    for x in [-5.0, -1.0, 0.0, 0.01, 2.0, 30.0] {
        let k = expm_cond(array![[S::from_f64(x)]].view()).unwrap().to_f64();
        // exp(x) and L(x, .) = exp(x) each carry a relative error of about |x| eps (the
        // condition number of exp at x), which kappa = |L| |x| / |exp(x)| inherits.
        assert!(
            (k - x.abs()).abs() <= 4.0 * eps::<S>() * x.abs() * x.abs().max(1.0),
            "{x}: {k}"
        );
    }
}

#[test]
fn cond_of_scalars_is_their_modulus() {
    cond_of_scalars::<f32>();
    cond_of_scalars::<f64>();
    cond_of_scalars::<Complex<f32>>();
    cond_of_scalars::<Complex<f64>>();
}

#[test]
fn cond_of_diagonal_matrices() {
    // K is diagonal with entries f[d_i, d_j]: ||K||_2 = max |f[d_i, d_j]| = e^max(d).
    let d = [-2.0, 0.5, 1.5, 1.5];
    let a = Array2::from_shape_fn((4, 4), |(i, j)| if i == j { d[i] } else { 0.0 });
    let norm_a = d.iter().map(|v| v * v).sum::<f64>().sqrt();
    let norm_x = d.iter().map(|v| (2.0 * v).exp()).sum::<f64>().sqrt();
    let want = 1.5f64.exp() * norm_a / norm_x;
    let got = expm_cond(a.view()).unwrap();
    assert!(
        (got - want).abs() <= 8.0 * f64::EPSILON * want,
        "{got} {want}"
    );
}

#[test]
fn cond_of_a_huge_triangular_matrix() {
    // scipy's test_expm_bad_condition_number: kappa > 1e36.
    let a = array![
        [-1.128679820, 9.614183771e4, -4.524855739e9, 2.924969411e14],
        [0.0, -1.201010529, 9.634696872e4, -4.681048289e9],
        [0.0, 0.0, -1.132893222, 9.532491830e4],
        [0.0, 0.0, 0.0, -1.179475332]
    ];
    let k = expm_cond(a.view()).unwrap();
    assert!(k > 1e36, "{k}");
    // exp(A) returned with the derivative is the accurate one (scipy's is wrong in its top row).
    let (x, _) = expm_frechet(a.view(), Array2::eye(4).view()).unwrap();
    assert_eq!(x, expm(a.view()).unwrap());
}

/// `expm_cond` where `exp(A)` overflows or underflows the scalar type, against closed forms:
/// the scalar `a` (`kappa = |a|`), `diag(a, -a)` (`K` diagonal with entries `f[d_i, d_j]`, the
/// largest `e^a`: `kappa = sqrt(2) a e^a / sqrt(e^2a + e^-2a) = sqrt(2) a`), and `c J` for the
/// `n x n` matrix of ones `J` (normal, eigenvalues `n c` and `0`: for `n c >> 1`,
/// `kappa = n c e^(nc) / sqrt(e^(2nc) + n - 1) = n c`; for `-c J`,
/// `kappa = n c max(1, f[-nc, 0]) / sqrt(e^(-2nc) + n - 1) = n c / sqrt(n - 1)`, checked only
/// at `c = 1e4`: `exp(-c J)` is a projector whose eigenvalues 1 are squared `s = log2(n c)`
/// times, so their rounding errors grow as `2^s u`, the limit of scaling and squaring (scipy's
/// and `expm`'s too) for huge norms with eigenvalues near 0).
fn cond_beyond_overflow<S: Scalar>(big: f64) {
    let e = eps::<S>();
    // Each squaring rounds the ratio ||L|| / ||R|| by a few eps: s = log2(norm) of them.
    let tol = |norm: f64| 4.0 * (norm.log2().max(1.0) + 2.0) * e;
    let check_within = |a: Array2<f64>, want: f64, tol: f64| {
        let got = expm_cond(cast::<S>(&a).view()).unwrap().to_f64();
        assert!(
            ((got - want) / want).abs() <= tol,
            "{a:?}: got {got}, want {want}"
        );
    };
    let check = |a: Array2<f64>, want: f64, norm: f64| check_within(a, want, tol(norm));
    for x in [big, -big, 1e4, -1e4] {
        check(array![[x]], x.abs(), x.abs());
    }
    check(array![[big, 0.0], [0.0, -big]], 2f64.sqrt() * big, big);
    let n = 3;
    let ones = Array2::<f64>::ones((n, n));
    for c in [big, 1e4] {
        check(&ones * c, n as f64 * c, n as f64 * c);
    }
    if S::PRECISION == Precision::Double {
        let c = 1e4;
        let want = n as f64 * c / ((n - 1) as f64).sqrt();
        // 2^s u with s = log2(n c) squarings (see above).
        check_within(&ones * -c, want, 4.0 * n as f64 * c * e);
    }
}

#[test]
fn cond_is_finite_where_exp_overflows() {
    cond_beyond_overflow::<f64>(1e300);
    cond_beyond_overflow::<Complex<f64>>(1e300);
    // float16's largest value, 65504, computed in single precision (numpy's float16 -> float32).
    cond_beyond_overflow::<f32>(65504.0);
    cond_beyond_overflow::<Complex<f32>>(1e30);
    // The largest integers: i64::MAX everywhere (numpy's int64 -> float64).
    let a = Array2::from_elem((3, 3), i64::MAX as f64);
    let got = expm_cond(a.view()).unwrap();
    let want = 3.0 * i64::MAX as f64;
    assert!(((got - want) / want).abs() < 1e-13, "{got}");
}

#[test]
fn cond_overflows_to_inf_only_where_kappa_does() {
    // kappa = 3 c and 3 c / sqrt(2) for c the largest float: beyond it, so inf (never NaN).
    for c in [f64::MAX, -f64::MAX] {
        let k = expm_cond(Array2::from_elem((3, 3), c).view()).unwrap();
        assert_eq!(k, f64::INFINITY, "{c}");
    }
    let k = expm_cond(Array2::from_elem((3, 3), f32::MAX).view()).unwrap();
    assert_eq!(k, f32::INFINITY);
    // 1x1: kappa = |a| itself, representable.
    let k = expm_cond(array![[1e308_f64]].view()).unwrap();
    assert!((k / 1e308 - 1.0).abs() < 1e-12, "{k}");
}

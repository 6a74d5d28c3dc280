//! Integration tests of `expm` against closed forms, for every scalar type.

use linflow::{Error, Expm, RealScalar, Scalar, expm, expm_batch, expm_into};
use ndarray::{Array2, Array3, array};
use num_complex::Complex;

/// Largest entrywise |x - y| relative to max |y|.
fn rel_err<S: Scalar>(x: &Array2<S>, y: &Array2<S>) -> f64 {
    let scale = y.iter().map(|v| v.modulus().to_f64()).fold(0.0, f64::max);
    let diff = x
        .iter()
        .zip(y)
        .map(|(a, b)| (*a - *b).modulus().to_f64())
        .fold(0.0, f64::max);
    diff / scale
}

fn eps<S: Scalar>() -> f64 {
    match S::PRECISION {
        linflow::Precision::Single => f32::EPSILON as f64,
        linflow::Precision::Double => f64::EPSILON,
    }
}

fn cast<S: Scalar>(a: &Array2<f64>) -> Array2<S> {
    a.mapv(S::from_f64)
}

fn rotation_case<S: Scalar>() {
    for t in [0.1, 1.0, 2.5, 10.0, 100.0] {
        let a: Array2<f64> = array![[0.0, -t], [t, 0.0]];
        let want: Array2<f64> = array![[t.cos(), -t.sin()], [t.sin(), t.cos()]];
        let got = expm(cast::<S>(&a).view()).unwrap();
        // The conditioning of the angle grows with t: error ~ t eps.
        assert!(
            rel_err(&got, &cast::<S>(&want)) <= 8.0 * eps::<S>() * t.max(1.0),
            "t={t}"
        );
    }
}

fn nilpotent_and_jordan_case<S: Scalar>() {
    // exp([[l, 1, 0], [0, l, 1], [0, 0, l]]) = e^l [[1, 1, 1/2], [0, 1, 1], [0, 0, 1]]
    for l in [-3.0_f64, 0.0, 0.7] {
        let a: Array2<f64> = array![[l, 1.0, 0.0], [0.0, l, 1.0], [0.0, 0.0, l]];
        let e = l.exp();
        let want: Array2<f64> = array![[e, e, e / 2.0], [0.0, e, e], [0.0, 0.0, e]];
        let got = expm(cast::<S>(&a).view()).unwrap();
        assert!(
            rel_err(&got, &cast::<S>(&want)) <= 4.0 * eps::<S>(),
            "l={l}"
        );
        // The lower-triangular transpose.
        let got_t = expm(cast::<S>(&a.t().to_owned()).view()).unwrap();
        assert!(rel_err(&got_t, &cast::<S>(&want.t().to_owned())) <= 4.0 * eps::<S>());
    }
}

fn general_2x2_case<S: Scalar>() {
    // A = [[1, 3], [4, 5]] = 3I + N with N^2 = 16 I: exp(A) = e^3 (cosh(4) I + sinh(4)/4 N).
    let r = 4.0_f64;
    let e3 = 3f64.exp();
    let (ch, sh) = (r.cosh(), r.sinh() / r);
    let want: Array2<f64> = array![
        [e3 * (ch - 2.0 * sh), e3 * 3.0 * sh],
        [e3 * 4.0 * sh, e3 * (ch + 2.0 * sh)]
    ];
    let got = expm(cast::<S>(&array![[1.0, 3.0], [4.0, 5.0]]).view()).unwrap();
    assert!(
        rel_err(&got, &cast::<S>(&want)) <= 10.0 * eps::<S>(),
        "{}",
        rel_err(&got, &cast::<S>(&want))
    );
}

macro_rules! per_scalar {
    ($name:ident, $f:ident) => {
        mod $name {
            use super::*;
            #[test]
            fn f32_() {
                $f::<f32>();
            }
            #[test]
            fn f64_() {
                $f::<f64>();
            }
            #[test]
            fn complex_f32() {
                $f::<Complex<f32>>();
            }
            #[test]
            fn complex_f64() {
                $f::<Complex<f64>>();
            }
        }
    };
}

per_scalar!(rotation, rotation_case);
per_scalar!(jordan, nilpotent_and_jordan_case);
per_scalar!(general_2x2, general_2x2_case);

#[test]
fn triangular_with_close_eigenvalues_is_exact() {
    // exp([[1, b], [0, 1 + d]]) has (0, 1) entry b e (e^d - 1)/d: scipy 1.17 is off by 5e-7 here.
    let d: f64 = (1.0 + 1e-10) - 1.0;
    let a = array![[1.0, 1e8], [0.0, 1.0 + 1e-10]];
    let got = expm(a.view()).unwrap();
    let e = std::f64::consts::E;
    let want = array![
        [e, 1e8 * e * d.exp_m1() / d],
        [0.0, (1.0 + 1e-10_f64).exp()]
    ];
    assert!(rel_err(&got, &want) < 2e-15, "{}", rel_err(&got, &want));
}

#[test]
fn laplacian_decays_without_overflow() {
    // exp(-2000 L) for the path-graph Laplacian tends to the projector 11^T / n.
    let n = 6;
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n - 1 {
        l[[i, i]] += 1.0;
        l[[i + 1, i + 1]] += 1.0;
        l[[i, i + 1]] = -1.0;
        l[[i + 1, i]] = -1.0;
    }
    let got = expm((&l * -2000.0).view()).unwrap();
    let want = Array2::from_elem((n, n), 1.0 / n as f64);
    // The null direction of L has eigenvalue 1 in r_m(2^-s A) up to u, raised to 2^s by the
    // squarings: the relative condition number here is about ||2000 L||_1 = 8000.
    assert!(
        rel_err(&got, &want) < 8000.0 * f64::EPSILON,
        "{}",
        rel_err(&got, &want)
    );
}

#[test]
fn batch_matches_one_by_one() {
    let a = Array3::from_shape_fn((50, 4, 4), |(k, i, j)| {
        ((k * 7 + i * 3 + j * 5) % 11) as f64 / 5.0 - 1.0
    });
    let batch = expm_batch(a.view()).unwrap();
    let mut work = Expm::new();
    let mut one = Array2::zeros((4, 4));
    for k in 0..50 {
        expm_into(a.index_axis(ndarray::Axis(0), k), one.view_mut(), &mut work).unwrap();
        assert_eq!(batch.index_axis(ndarray::Axis(0), k), one);
    }
}

#[test]
fn errors_are_values() {
    let r = expm(Array2::<f64>::zeros((2, 3)).view());
    assert_eq!(r.unwrap_err(), Error::NotSquare { rows: 2, cols: 3 });
    let r = expm(array![[1.0, f64::NAN], [0.0, 1.0]].view());
    assert_eq!(r.unwrap_err(), Error::NonFinite);
    let r = expm(array![[1.0, 2.0], [3.0, f64::INFINITY]].view());
    assert_eq!(r.unwrap_err(), Error::NonFinite);
    assert_eq!(
        expm(Array2::<f64>::zeros((0, 0)).view()).unwrap().dim(),
        (0, 0)
    );
}

/// Large input is checked for infinities and NaNs in the pass that copies it: an entry in any
/// place (first, last, below or above the diagonal) of a general, triangular or diagonal
/// matrix, row- or column-major, on either side of the size where that pass is split in two.
#[test]
fn non_finite_entries_of_large_matrices_are_errors() {
    for n in [9usize, 40, 600] {
        let places = [
            (0, 0),
            (n - 1, n - 1),
            (n - 1, 0),
            (0, n - 1),
            (n / 2, n / 3),
        ];
        for (i, j) in places {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for shape in 0..4 {
                    let mut a = Array2::from_shape_fn((n, n), |(r, c)| match shape {
                        0 => ((r * 7 + c * 3) % 11) as f64 / (11.0 * n as f64),
                        1 if r <= c => 0.01,
                        2 if r >= c => 0.01,
                        3 if r == c => 0.01,
                        _ => 0.0,
                    });
                    a[[i, j]] = bad;
                    assert_eq!(
                        expm(a.view()).unwrap_err(),
                        Error::NonFinite,
                        "n {n} ({i}, {j})"
                    );
                    let f = a.t().as_standard_layout().into_owned().reversed_axes();
                    assert_eq!(
                        expm(f.view()).unwrap_err(),
                        Error::NonFinite,
                        "n {n} F-order"
                    );
                }
            }
        }
    }
}

#[test]
fn huge_norms_do_not_panic() {
    // ||A^2|| overflows; the result is inf or finite but the call returns.
    let a = array![[1e200, 1e200], [-1e200, 1e200]];
    let _ = expm(a.view()).unwrap();
    let b = array![[0.0, -1e300], [1e300, 0.0]];
    let _ = expm(b.view()).unwrap();
}

/// Found by `proptest_expm` (layouts, complex, 1 in ~30000 cases): the Pade denominator of this
/// scaled matrix has entries near 1e251, where the textbook complex division `p / q` computes
/// `|q|^2 = inf` and returned 0: the elimination skipped a row and reported `Singular`. Smith's
/// division keeps it finite, as the real-valued matrix of the same pattern always was.
#[test]
fn complex_division_near_overflow_is_not_singular() {
    let z = Complex::new(0.0, 0.0);
    let mut a = Array2::from_elem((4, 4), z);
    a[[1, 1]] = Complex::new(-600.4745596410289, 4.611984321728297e-309);
    a[[3, 1]] = Complex::new(1.495038811525878e-308, 7.0684245976077925e-298);
    a[[1, 3]] = Complex::new(1.113991252031243e270, 0.0);
    let e = expm(a.view()).expect("a finite exponential, not Singular");
    assert!(e.iter().all(|x| x.re.is_finite() && x.im.is_finite()));
    let real = expm(a.mapv(|x| x.re).view()).unwrap();
    assert_eq!(e[[1, 3]].re, real[[1, 3]]);
}

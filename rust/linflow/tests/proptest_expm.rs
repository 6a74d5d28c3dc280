//! Property tests of the public `expm` functions of the core at scale (issue 7, "never crash"):
//! any finite square input of any scalar type, size, magnitude, structure or memory layout
//! returns `Ok` without a panic; the result is finite wherever the exact `exp(A)` is known to be
//! (`||A||_1` below the overflow threshold, triangular zeros, reducible blocks); bad input is an
//! `Err` value; batches, reused workspaces and strided views give bit-identical results.
//!
//! Each property runs for every scalar type through the `per_scalar!` table at the bottom: a new
//! public function of the core is covered by adding its call to the properties here (as
//! `expm_batch` and `Expm` are next to `expm`) and, for a new property, one more table row.
//!
//! `PROPTEST_CASES` scales every property (default below); `PROPTEST_RNG_SEED` replays a run.

use linflow::{Error, Expm, RealScalar, Scalar, expm, expm_batch, expm_batch_into, expm_into};
use ndarray::{Array2, Array3, ArrayView2, Axis, s};
use num_complex::Complex;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Largest order drawn: past the fixed-size kernels (8) and the LAPACK-free solve (16).
const MAX_N: usize = 20;

/// `||A||_1` below which `exp(A)` cannot overflow (`||exp(A)|| <= e^||A||`), with a margin of
/// `e^9` (double) and `e^8` (single) for the rounding of a backward-stable method.
fn overflow_free_norm<S: Scalar>() -> f64 {
    match S::PRECISION {
        linflow::Precision::Double => 700.0,
        linflow::Precision::Single => 80.0,
    }
}

/// The four element types, built from real and imaginary parts (real types drop the imaginary).
trait Make: Scalar {
    fn make(re: f64, im: f64) -> Self;
}
/// Single precision clamps finite values to its finite range (`1e300 as f32` would be infinite).
fn single(x: f64) -> f32 {
    if x.is_finite() {
        x.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
    } else {
        x as f32
    }
}
impl Make for f32 {
    fn make(re: f64, _: f64) -> Self {
        single(re)
    }
}
impl Make for f64 {
    fn make(re: f64, _: f64) -> Self {
        re
    }
}
impl Make for Complex<f32> {
    fn make(re: f64, im: f64) -> Self {
        Complex::new(single(re), single(im))
    }
}
impl Make for Complex<f64> {
    fn make(re: f64, im: f64) -> Self {
        Complex::new(re, im)
    }
}

/// Any finite `f64`, weighted towards the values that break matrix functions: moderate ones,
/// zeros, huge and tiny magnitudes, subnormals and the extremes of the range.
fn wide() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        6 => -4.0..4.0f64,
        2 => Just(0.0),
        2 => -1e3..1e3f64,
        2 => prop::num::f64::NORMAL,
        1 => prop::num::f64::SUBNORMAL,
        1 => prop::sample::select(vec![
            f64::MAX, -f64::MAX, 1e300, -1e300, 1e154, -1e154, 1e38, -1e38, 3.4e38,
            f64::MIN_POSITIVE, 1e-300, 709.0, 710.0, -745.0, 88.0, 89.0,
        ]),
    ]
}

/// Moderate values, for properties that rescale the matrix to a given norm.
fn moderate() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![4 => -4.0..4.0f64, 1 => Just(0.0), 1 => -1e-3..1e-3f64]
}

/// The zero patterns worth drawing: general, upper or lower triangular, diagonal, sparse.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    General,
    Upper,
    Lower,
    Diagonal,
    Sparse,
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop::sample::select(vec![
        Pattern::General,
        Pattern::Upper,
        Pattern::Lower,
        Pattern::Diagonal,
        Pattern::Sparse,
    ])
}

/// An `n x n` matrix of `S` from real and imaginary parts drawn by `values`, zeroed outside
/// `pattern`.
fn matrix<S: Make>(
    n: std::ops::RangeInclusive<usize>,
    values: impl Strategy<Value = f64> + Clone + 'static,
    pattern: impl Strategy<Value = Pattern>,
) -> impl Strategy<Value = Array2<S>> {
    (n, pattern).prop_flat_map(move |(n, pat)| {
        prop::collection::vec((values.clone(), values.clone()), n * n).prop_map(move |v| {
            Array2::from_shape_fn((n, n), |(i, j)| {
                let keep = match pat {
                    Pattern::General => true,
                    Pattern::Upper => i <= j,
                    Pattern::Lower => i >= j,
                    Pattern::Diagonal => i == j,
                    Pattern::Sparse => (i * 7 + j * 3) % 4 == 0 || i == j,
                };
                let (re, im) = v[i * n + j];
                if keep { S::make(re, im) } else { S::zero() }
            })
        })
    })
}

/// A matrix for the properties that hold for any finite input: three in four of moderate values
/// (cheap), one in four from the whole range (norms up to `n f64::MAX`: about a thousand
/// squarings, the costly cases).
fn any_matrix<S: Make>(n: std::ops::RangeInclusive<usize>) -> BoxedStrategy<Array2<S>> {
    prop_oneof![
        3 => matrix::<S>(n.clone(), moderate(), pattern()),
        1 => matrix::<S>(n, wide(), pattern()),
    ]
    .boxed()
}

fn norm1<S: Scalar>(a: ArrayView2<S>) -> f64 {
    a.columns()
        .into_iter()
        .map(|c| c.iter().map(|x| x.modulus().to_f64()).sum::<f64>())
        .fold(0.0, f64::max)
}

fn all_finite<S: Scalar>(a: ArrayView2<S>) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Bit patterns of a matrix, so that NaN payloads and signed zeros compare too.
fn bits<S: Scalar>(a: ArrayView2<S>) -> Vec<String> {
    a.iter().map(|x| format!("{x:?}")).collect()
}

fn runner(default_cases: u32) -> TestRunner {
    // `Config::default()` reads PROPTEST_CASES; a suite-wide default is set here only when the
    // variable is absent.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    TestRunner::new(Config {
        cases,
        // A failure prints its minimal input; there is no source file to persist it next to.
        failure_persistence: None,
        ..Config::default()
    })
}

/// Any finite square input returns `Ok` of its shape: no panic, no `Err`. Runs the small kernels,
/// the general workspace, the fallback plan for overflowing powers and the triangular squaring.
fn never_fails_on_finite_input<S: Make>() {
    runner(1024)
        .run(&any_matrix::<S>(0..=MAX_N), |a| {
            let e = expm(a.view()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(e.dim(), a.dim());
            Ok(())
        })
        .unwrap();
}

/// `||A||_1` below the overflow threshold: every entry of the result is finite.
fn finite_below_overflow_threshold<S: Make>() {
    let limit = overflow_free_norm::<S>();
    let strategy = (matrix::<S>(1..=MAX_N, moderate(), pattern()), 0.0..1.0f64);
    runner(512)
        .run(&strategy, |(a, fraction)| {
            let norm = norm1(a.view());
            prop_assume!(norm > 0.0);
            let scale = S::Real::from_f64(fraction * limit / norm);
            let a = a.mapv(|x| x.scale(scale));
            let e = expm(a.view()).unwrap();
            prop_assert!(all_finite(e.view()), "norm {} -> {:?}", norm1(a.view()), e);
            Ok(())
        })
        .unwrap();
}

/// Triangular input of any magnitude: the zero triangle of `exp(A)` is exactly zero (no NaN from
/// `0 * inf` after an overflow) and its diagonal is exactly `exp(a_ii)`.
fn triangular_zeros_stay_zero<S: Make>() {
    let strategy = (
        matrix::<S>(1..=MAX_N, wide(), Just(Pattern::Upper)),
        any::<bool>(),
    );
    runner(256)
        .run(&strategy, |(upper, lower)| {
            let a = if lower { upper.t().to_owned() } else { upper };
            let e = expm(a.view()).unwrap();
            let n = a.nrows();
            for i in 0..n {
                prop_assert_eq!(format!("{:?}", e[[i, i]]), format!("{:?}", a[[i, i]].exp()));
                for j in 0..n {
                    let in_zero_triangle = if lower { j > i } else { i > j };
                    if in_zero_triangle {
                        prop_assert!(e[[i, j]] == S::zero(), "({i}, {j}) = {:?}", e[[i, j]]);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

/// A reducible matrix `diag(B1, B2)`: when `exp(B1)` overflows, `exp(B2)` stays finite and equal
/// to `expm(B2)` alone, and the off-diagonal blocks stay exactly zero. `B2` is scaled with the
/// `2^s` of the whole matrix, more than it needs alone: a relative rounding `u` of `r_m(2^-s B2)`
/// grows to about `2^s u` over the squarings (the overscaling of Al-Mohy & Higham 2009,
/// Section 1), with `2^s <= 2 ||A||_1 / theta`; that is the tolerance.
fn finite_block_survives_overflowing_block<S: Make>() {
    // Eigenvalues whose exponential overflows in the precision of S.
    let big = match S::PRECISION {
        linflow::Precision::Double => vec![1e3, 1e4, 3e5],
        linflow::Precision::Single => vec![100.0, 1e3],
    };
    let strategy = (
        matrix::<S>(1..=6, moderate(), Just(Pattern::General)),
        matrix::<S>(1..=6, moderate(), Just(Pattern::General)),
        prop::sample::select(big),
        0.0..3.0f64,
    );
    runner(256)
        .run(&strategy, |(b1, b2, big, small)| {
            let (n1, n2) = (b1.nrows(), b2.nrows());
            let (norm1_b1, norm1_b2) = (norm1(b1.view()), norm1(b2.view()));
            prop_assume!(norm1_b1 > 0.0);
            // B1 gets a positive real eigenvalue of about `big` (exp overflows), B2 norm `small`.
            let b1 = b1.mapv(|x| x.scale(S::Real::from_f64(1.0 / norm1_b1)))
                + Array2::from_diag_elem(n1, S::from_f64(big));
            let b2 = b2.mapv(|x| x.scale(S::Real::from_f64(small / norm1_b2.max(1.0))));
            let n = n1 + n2;
            let mut a = Array2::<S>::zeros((n, n));
            a.slice_mut(s![..n1, ..n1]).assign(&b1);
            a.slice_mut(s![n1.., n1..]).assign(&b2);
            let e = expm(a.view()).unwrap();
            prop_assert!(e.slice(s![..n1, n1..]).iter().all(|x| *x == S::zero()));
            prop_assert!(e.slice(s![n1.., ..n1]).iter().all(|x| *x == S::zero()));
            let block = e.slice(s![n1.., n1..]);
            prop_assert!(all_finite(block), "{:?}", e);
            let alone = expm(b2.view()).unwrap();
            let err = (&block - &alone)
                .iter()
                .map(|x| x.modulus().to_f64())
                .fold(0.0, f64::max)
                / norm1(alone.view());
            let growth = 2.0 * norm1(a.view()) / 3.9;
            let tol = 8.0 * n2 as f64 * growth * S::Real::UNIT_ROUNDOFF.to_f64();
            prop_assert!(err <= tol, "error {err:e}, tolerance {tol:e}");
            Ok(())
        })
        .unwrap();
}

/// NaN or infinity anywhere, or a non-square shape, is an `Err` value (also in a batch).
fn bad_input_is_an_error<S: Make>() {
    let bad = prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
    let strategy = (
        any_matrix::<S>(1..=MAX_N),
        any::<prop::sample::Index>(),
        bad,
        any::<bool>(),
        1..4usize,
    );
    runner(256)
        .run(&strategy, |(mut a, at, bad, imaginary, batch)| {
            let n = a.nrows();
            let k = at.index(n * n);
            let (i, j) = (k / n, k % n);
            a[[i, j]] = if imaginary && S::make(0.0, 1.0) != S::zero() {
                S::make(0.0, bad)
            } else {
                S::make(bad, 0.0)
            };
            prop_assert_eq!(expm(a.view()), Err(Error::NonFinite));
            let stack = Array3::from_shape_fn((batch, n, n), |(b, r, c)| {
                if b + 1 == batch { a[[r, c]] } else { S::zero() }
            });
            prop_assert_eq!(expm_batch(stack.view()), Err(Error::NonFinite));
            let cols = n + 1;
            let rect = Array2::<S>::zeros((n, cols));
            prop_assert_eq!(expm(rect.view()), Err(Error::NotSquare { rows: n, cols }));
            let mut out = Array2::<S>::zeros((n, n));
            let r = expm_into(a.view(), out.view_mut(), &mut Expm::new());
            prop_assert_eq!(r, Err(Error::NonFinite));
            let mut wide_out = Array2::<S>::zeros((n, cols));
            let r = expm_into(out.view(), wide_out.view_mut(), &mut Expm::new());
            let expected = Error::ShapeMismatch {
                expected: vec![n, n],
                found: vec![n, cols],
            };
            prop_assert_eq!(r, Err(expected));
            Ok(())
        })
        .unwrap();
}

/// `expm_batch` (parallel), `expm_batch_into`, `expm_into` with one reused workspace and `expm`
/// agree bit for bit, whatever the sizes drawn in sequence.
fn batch_and_workspace_agree<S: Make>() {
    let strategy = (0..=MAX_N, 0..12usize).prop_flat_map(|(n, batch)| {
        (
            prop::collection::vec(any_matrix::<S>(n..=n), batch),
            prop::collection::vec(any_matrix::<S>(0..=MAX_N), 1..6),
        )
    });
    let work = std::cell::RefCell::new(Expm::<S>::new());
    runner(64)
        .run(&strategy, |(same_size, mixed)| {
            if let Some(first) = same_size.first() {
                let n = first.nrows();
                let stack = Array3::from_shape_fn((same_size.len(), n, n), |(b, i, j)| {
                    same_size[b][[i, j]]
                });
                let batch = expm_batch(stack.view()).unwrap();
                let mut into = Array3::<S>::zeros(stack.raw_dim());
                expm_batch_into(stack.view(), into.view_mut()).unwrap();
                for (k, a) in same_size.iter().enumerate() {
                    let one = expm(a.view()).unwrap();
                    prop_assert_eq!(bits(batch.index_axis(Axis(0), k)), bits(one.view()));
                    prop_assert_eq!(bits(into.index_axis(Axis(0), k)), bits(one.view()));
                }
            }
            // The workspace outlives the cases: nothing of an earlier matrix leaks into a later.
            for a in same_size.iter().chain(&mixed) {
                let mut out = Array2::<S>::zeros(a.raw_dim());
                expm_into(a.view(), out.view_mut(), &mut work.borrow_mut()).unwrap();
                prop_assert_eq!(bits(out.view()), bits(expm(a.view()).unwrap().view()));
            }
            Ok(())
        })
        .unwrap();
}

/// Transposed, reversed and strided views as input and as output give the result of the
/// contiguous copy, bit for bit.
fn layouts_agree<S: Make>() {
    let strategy = (
        any_matrix::<S>(1..=MAX_N),
        prop::sample::select(vec![0usize, 1, 2, 3]),
    );
    runner(128)
        .run(&strategy, |(a, layout)| {
            let n = a.nrows();
            // A buffer twice as large in each direction, holding `a` at every other entry.
            let mut big = Array2::<S>::from_elem((2 * n, 2 * n), S::from_f64(7.0));
            let view = match layout {
                0 => {
                    big.slice_mut(s![..;2, ..;2]).assign(&a);
                    big.slice(s![..;2, ..;2])
                }
                1 => {
                    big.slice_mut(s![..;-2, ..;-2]).assign(&a);
                    big.slice(s![..;-2, ..;-2])
                }
                2 => {
                    big.slice_mut(s![..n, ..n]).assign(&a.t());
                    big.slice(s![..n, ..n]).reversed_axes()
                }
                _ => {
                    big.slice_mut(s![n.., ..;-2]).assign(&a);
                    big.slice(s![n.., ..;-2])
                }
            };
            prop_assert_eq!(view.to_owned(), a.clone());
            let want = expm(a.view()).unwrap();
            prop_assert_eq!(bits(expm(view).unwrap().view()), bits(want.view()));
            // A strided, column-major output buffer; and the transposed input.
            let mut out_buf = Array2::<S>::zeros((2 * n, n));
            let out = out_buf.slice_mut(s![..;2, ..]).reversed_axes();
            expm_into(view, out, &mut Expm::new()).unwrap();
            let got = out_buf.slice(s![..;2, ..]).reversed_axes();
            prop_assert_eq!(bits(got), bits(want.view()));
            let transposed = expm(a.t().to_owned().view()).unwrap();
            prop_assert_eq!(
                bits(expm(view.t()).unwrap().view()),
                bits(transposed.view())
            );
            Ok(())
        })
        .unwrap();
}

macro_rules! per_scalar {
    ($($name:ident => $f:ident),* $(,)?) => {
        $(
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
        )*
    };
}

per_scalar! {
    never_fails => never_fails_on_finite_input,
    finite_below_threshold => finite_below_overflow_threshold,
    triangular => triangular_zeros_stay_zero,
    reducible => finite_block_survives_overflowing_block,
    errors => bad_input_is_an_error,
    batch_and_workspace => batch_and_workspace_agree,
    layouts => layouts_agree,
}

// ------------------------------------------------------------------------------------------
// Overflow cases found by these properties, each once, with the answer worked out by hand
// (or against 80-digit mpmath, as noted). Every one returned NaN, or a wrong finite value, before
// the fixes in `expm/plan.rs`, `expm/structure.rs`, the squaring loops and `scalar.rs`.

/// `[[-c, c], [0, -c]]` with `c >= 1e154`: `A^2` overflows to NaN (`inf * 0`); the norms dropped
/// the NaN (`f64::max`) and planned `m = 3, s = 0` for a matrix of norm 2e154 (NaN result).
/// Exact: `e^-c [[1, c], [0, 1]]`, which underflows to zero.
#[test]
fn overflowed_powers_are_not_small() {
    for c in [1e154, 1e200, 1e300, f64::MAX] {
        for n in [2, 3, 12] {
            let a = Array2::from_shape_fn((n, n), |(i, j)| match j as i64 - i as i64 {
                0 => -c,
                1 => c,
                _ => 0.0,
            });
            let e = expm(a.view()).unwrap();
            assert!(e.iter().all(|x| *x == 0.0), "c = {c:e}, n = {n}: {e:?}");
        }
    }
}

/// A 1-norm above `f64::MAX` saturated the squaring count, scaled `A` to zero and returned `I`.
/// `[[M, M], [M, M]]` (`M = 1.7e308`) has `exp = I + (e^2M - 1)/2 [[1, 1], [1, 1]]`: all `inf`.
#[test]
fn overflowing_norm_still_scales_correctly() {
    let m = 1.7e308;
    let e = expm(ndarray::array![[m, m], [m, m]].view()).unwrap();
    assert!(e.iter().all(|x| *x == f64::INFINITY), "{e:?}");
    let big = Array2::from_elem((10, 10), m);
    let e = expm(big.view()).unwrap();
    assert!(e.iter().all(|x| *x == f64::INFINITY), "{e:?}");
}

/// Triangular and reducible input with an overflowing eigenvalue: the zeros stayed NaN-free
/// only if the overflow came at the last squaring. `exp(diag(3000, R))` with the rotation
/// generator `R` is `diag(inf, rotation by 1 rad)`.
#[test]
fn overflow_leaves_exact_zeros_and_finite_blocks() {
    let a = ndarray::array![[3000.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]];
    let e = expm(a.view()).unwrap();
    let want_lower = [[1, 0], [2, 0], [2, 1]];
    for [i, j] in want_lower {
        assert_eq!(e[[i, j]], 0.0, "{e:?}");
    }
    let e1 = std::f64::consts::E;
    assert_eq!(e[[1, 1]], e1);
    assert!((e[[1, 2]] - e1).abs() < 4e-16 * e1);
    assert!(e.row(0).iter().all(|x| *x == f64::INFINITY));
    let n = 12;
    let mut a = Array2::<f64>::zeros((n, n));
    a[[0, 0]] = 3000.0;
    for k in (2..n).step_by(2) {
        a[[k, k + 1]] = 1.0;
        a[[k + 1, k]] = -1.0;
    }
    let e = expm(a.view()).unwrap();
    assert_eq!(e[[0, 0]], f64::INFINITY);
    let (c, s1) = (1f64.cos(), 1f64.sin());
    // The rotations are squared with the s of ||A||_1 = 3000 (s = 10; alone they need none):
    // their rounding grows to about 2^s u = 1.1e-13 (see the reducible property).
    for k in (2..n).step_by(2) {
        let err = (e[[k, k]] - c).abs().max((e[[k, k + 1]] - s1).abs());
        assert!(err < 8.0 * 1024.0 * f64::EPSILON / 2.0, "{err:e}");
    }
    // Everything outside the blocks is exactly zero.
    let zeros = e
        .indexed_iter()
        .filter(|((i, j), _)| i / 2 != j / 2 && (*i, *j) != (0, 0));
    assert!(zeros.into_iter().all(|(_, x)| *x == 0.0), "{e:?}");
}

/// The superdiagonal of triangular input from the divided difference of `exp`: it overflowed
/// where the answer is representable (`[[700, 1], [0, 710]]`: `(e^710 - e^700) / 10 = 2.2e307`,
/// 80-digit mpmath: 2.2338933429562376e307) and gave NaN next to a zero superdiagonal entry.
#[test]
fn triangular_superdiagonal_near_overflow() {
    let e = expm(ndarray::array![[700.0, 1.0], [0.0, 710.0]].view()).unwrap();
    let want: f64 = 2.2338933429562376e307;
    assert!((e[[0, 1]] - want).abs() < 4e-16 * want, "{e:?}");
    assert_eq!(e[[1, 1]], f64::INFINITY);
    let e = expm(ndarray::array![[1000.0, 0.0, 1.0], [0.0, 1000.0, 0.0], [0.0, 0.0, 1.0]].view())
        .unwrap();
    assert_eq!(e[[0, 1]], 0.0, "{e:?}");
    assert_eq!(e[[1, 2]], 0.0, "{e:?}");
    let e = expm(ndarray::array![[1000.0, 1.0], [0.0, 1003.0]].view()).unwrap();
    assert_eq!(e[[0, 1]], f64::INFINITY, "{e:?}");
}

/// `exp(x + 0i)` for an overflowing `x` is `inf + 0i` (numpy, C99 `cexp`), not `inf + NaN i`.
#[test]
fn complex_overflow_on_the_real_axis() {
    let a = ndarray::array![
        [Complex::new(1000.0, 0.0), Complex::new(0.0, 0.0)],
        [Complex::new(0.0, 0.0), Complex::new(1.0, 0.0)]
    ];
    let e = expm(a.view()).unwrap();
    assert_eq!(e[[0, 0]], Complex::new(f64::INFINITY, 0.0));
    assert_eq!(e[[1, 1]], Complex::new(std::f64::consts::E, 0.0));
}

/// Entries near the overflow threshold whose powers are small (nearly nilpotent, not
/// triangular): the power norms choose a low Pade order unscaled, and `exp(A) = I + A + ...` is
/// finite. The integer Pade coefficients (`b_1 = 60` at order 3) overflowed here. Found by `never_fails::f32_` (the 5x5) and the `flow` fuzz target (the complex 3x3).
#[test]
fn large_entries_with_small_powers() {
    // a11 = d, a13 = M, a40 = c: exp(A) has e^d, M (e^d - 1) / d = M (1 + d/2 + ...) and c there.
    fn check<S: Make>(big: f64, d: f64) {
        let c = 2.4904797;
        let mut a = Array2::<S>::zeros((5, 5));
        a[[1, 1]] = S::make(d, 0.0);
        a[[1, 3]] = S::make(big, 0.0);
        a[[4, 0]] = S::make(c, 0.0);
        let e = expm(a.view()).unwrap();
        let mut want = Array2::<S>::eye(5);
        want[[1, 1]] = S::make(d.exp(), 0.0);
        want[[1, 3]] = S::make(big * (1.0 + d / 2.0), 0.0);
        want[[4, 0]] = S::make(c, 0.0);
        let eps = 2.0 * S::Real::UNIT_ROUNDOFF.to_f64();
        for (x, y) in e.iter().zip(want.iter()) {
            let scale = y.modulus().to_f64().max(1.0);
            assert!((*x - *y).modulus().to_f64() <= 4.0 * eps * scale, "{e:?}");
        }
    }
    check::<f32>(f64::from(f32::MAX), 7.646882e-16);
    check::<Complex<f32>>(f64::from(f32::MAX), 7.646882e-16);
    // In double precision d^3 M must be small too (with d = 7.6e-16 the powers are large, the plan
    // scales by 2^-79, and the squarings amplify a one-ulp error of the diagonal: scipy gives NaN).
    check::<f64>(1e308, 1e-120);
    check::<Complex<f64>>(1e308, 1e-120);
    // exp of [[0, 0, b], [c, 0, 0], [0, 0, 0]] is I + A + A^2 / 2 (A^3 = 0), A^2 = c b e_1 e_2^T.
    fn nilpotent<S: Make>(b: S, c: f64) {
        let z = S::zero();
        let cs = S::make(c, 0.0);
        let a = ndarray::array![[z, z, b], [cs, z, z], [z, z, z]];
        let e = expm(a.view()).unwrap();
        let half = S::make(0.5 * c, 0.0) * b;
        let o = S::one();
        let want = ndarray::array![[o, z, b], [cs, o, half], [z, z, o]];
        let eps = 2.0 * S::Real::UNIT_ROUNDOFF.to_f64();
        for (x, y) in e.iter().zip(want.iter()) {
            let scale = y.modulus().to_f64().max(1.0);
            assert!((*x - *y).modulus().to_f64() <= 4.0 * eps * scale, "{e:?}");
        }
    }
    nilpotent(Complex::new(0.0f32, -2.4e38), 1.375);
    nilpotent(-2.4e38f32, 1.375);
    nilpotent(Complex::new(0.0f64, -1.2e308), 1.375);
    nilpotent(-1.2e308f64, 1.375);
}

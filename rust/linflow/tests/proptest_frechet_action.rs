//! Property tests of the Frechet derivative, the condition number and the action of `expm`
//! at scale (proptest), the stable-toolchain counterpart of the `frechet` and `action` fuzz
//! targets (`rust/linflow/fuzz`): no panic on any input; `Err(NonFinite)` exactly for NaN and
//! infinity, `Err(InvalidSparse)` for any malformed CSR structure; finite results where the
//! exact answer is finite, also where `exp` itself overflows (`expm_cond`, and the entries of
//! `exp(tA) B` that do not overflow for diagonal `A`).

use linflow::{
    CsrMatrix, DenseOperator, Error, ExpmFrechet, expm_cond, expm_frechet, expm_multiply,
};
use ndarray::{Array2, ArrayView2};
use num_complex::Complex;
use proptest::prelude::*;

/// A square matrix of order 1 to `max_n` with entries in `-r..r`.
fn matrix(max_n: usize, r: f64) -> impl Strategy<Value = Array2<f64>> {
    (1usize..=max_n).prop_flat_map(move |n| {
        proptest::collection::vec(-r..r, n * n)
            .prop_map(move |a| Array2::from_shape_vec((n, n), a).unwrap())
    })
}

/// Any finite `f64` bit pattern (subnormals and the extremes included), zero one time in four.
fn any_finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        1 => Just(0.0),
    ]
}

/// A square matrix of order 1 to 4 of any finite entries.
fn wild_matrix() -> impl Strategy<Value = Array2<f64>> {
    (1usize..=4).prop_flat_map(|n| {
        proptest::collection::vec(any_finite(), n * n)
            .prop_map(move |a| Array2::from_shape_vec((n, n), a).unwrap())
    })
}

fn all_finite<'a, S: linflow::Scalar + 'a>(it: impl IntoIterator<Item = &'a S>) -> bool {
    it.into_iter().all(|v| v.is_finite())
}

/// `p` applied on both sides: `P A P^T` for the permutation `i -> p[i]`.
fn permuted(a: ArrayView2<f64>, p: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| a[[p[i], p[j]]])
}

/// CSR arrays of the nonzeros of `a` (row-major, the diagonal split in two stored entries so
/// duplicates are exercised).
fn csr_of(a: &Array2<f64>) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let (mut indptr, mut indices, mut data) = (vec![0], vec![], vec![]);
    for ((i, j), &v) in a.indexed_iter() {
        if v != 0.0 {
            if i == j {
                indices.extend([j, j]);
                data.extend([0.5 * v, 0.5 * v]);
            } else {
                indices.push(j);
                data.push(v);
            }
        }
        if j + 1 == a.ncols() {
            indptr.push(indices.len());
        }
    }
    (indptr, indices, data)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// ||A||_1 <= 4 * 8 = 32: exp(A), L(A, E) and kappa are finite; kappa is invariant under
    /// transposition and permutation similarity (K(P A P^T) = (P (x) P) K(A) (P (x) P)^T).
    #[test]
    fn frechet_and_cond_finite_and_invariant(
        a in matrix(4, 8.0),
        seed in 0usize..24,
    ) {
        let n = a.nrows();
        let (x, l) = expm_frechet(a.view(), a.t()).unwrap();
        prop_assert!(all_finite(&x) && all_finite(&l));
        let k = expm_cond(a.view()).unwrap();
        prop_assert!(k.is_finite() && k >= 0.0, "{k}");
        let kt = expm_cond(a.t()).unwrap();
        let mut p: Vec<usize> = (0..n).collect();
        p.rotate_left(seed % n);
        let kp = expm_cond(permuted(a.view(), &p).view()).unwrap();
        // A few dozen roundings, each conditioned by at most ||A||_1 (the Lanczos values).
        let tol = 1e-10 * k.max(1.0);
        prop_assert!((kt - k).abs() <= tol && (kp - k).abs() <= tol, "{k} {kt} {kp}");
        let kc = expm_cond(a.mapv(|v| Complex::new(v as f32, 0.0)).view()).unwrap();
        prop_assert!(kc.is_finite());
    }

    /// Any finite entries, up to the largest float: `expm_frechet` and `ExpmFrechet` return a
    /// value, and `expm_cond` is a number, never NaN (infinite only where it overflows).
    #[test]
    fn frechet_and_cond_never_panic_on_huge_input(a in wild_matrix()) {
        prop_assert!(expm_frechet(a.view(), a.view()).is_ok());
        prop_assert!(ExpmFrechet::new(a.view()).is_ok());
        let k = expm_cond(a.view()).unwrap();
        prop_assert!(!k.is_nan(), "{a:?}: {k}");
        prop_assert!(k >= 0.0);
    }

    /// c J (all entries c, order n): kappa = n |c| for n c >> 1, finite although exp(c J)
    /// overflows (e^(n c)).
    #[test]
    fn cond_of_constant_matrices_beyond_overflow(n in 1usize..=4, c in 1e3..1e300_f64) {
        let k = expm_cond(Array2::from_elem((n, n), c).view()).unwrap();
        let want = n as f64 * c;
        prop_assert!(((k - want) / want).abs() < 1e-12, "{n} {c}: {k}");
    }

    /// NaN or infinity anywhere: `Error::NonFinite` from every function.
    #[test]
    fn frechet_cond_action_non_finite_is_an_error(
        a in matrix(4, 2.0),
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        k in 0usize..16,
    ) {
        let n = a.nrows();
        let mut bad_a = a.clone();
        bad_a[[k % n, (k / n) % n]] = bad;
        prop_assert_eq!(expm_frechet(bad_a.view(), a.view()).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(expm_frechet(a.view(), bad_a.view()).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(expm_cond(bad_a.view()).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(ExpmFrechet::new(bad_a.view()).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(DenseOperator::new(bad_a.view()).unwrap_err(), Error::NonFinite);
        let (p, i, v) = csr_of(&bad_a);
        prop_assert_eq!(CsrMatrix::new((n, n), &p, &i, &v).unwrap_err(), Error::NonFinite);
        let op = DenseOperator::new(a.view()).unwrap();
        let mut b = Array2::ones((n, 1));
        b[[k % n, 0]] = bad;
        prop_assert_eq!(expm_multiply(&op, b.view(), 1.0).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(expm_multiply(&op, Array2::ones((n, 1)).view(), bad).unwrap_err(), Error::NonFinite);
    }

    /// ||tA||_1 <= 6 * 2 * 4 = 48: exp(tA) B is finite, and the dense and CSR results agree.
    #[test]
    fn action_finite_and_storage_independent(
        a in matrix(6, 2.0),
        zeros in proptest::collection::vec(any::<bool>(), 36),
        t in -4.0..4.0_f64,
    ) {
        let n = a.nrows();
        let a = Array2::from_shape_fn((n, n), |(i, j)| if zeros[i * n + j] { 0.0 } else { a[[i, j]] });
        let b = Array2::from_shape_fn((n, 2), |(i, j)| 1.0 + i as f64 - j as f64);
        let dense = expm_multiply(&DenseOperator::new(a.view()).unwrap(), b.view(), t).unwrap();
        prop_assert!(all_finite(&dense));
        let (p, i, v) = csr_of(&a);
        let csr = expm_multiply(&CsrMatrix::new((n, n), &p, &i, &v).unwrap(), b.view(), t).unwrap();
        let scale = dense.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let diff = dense.iter().zip(&csr).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        prop_assert!(diff <= 1e-10 * scale, "{diff} {scale}");
    }

    /// Diagonal A with entries up to 1e3 (e^(t d) overflows for t d > 709.8): exp(tA) b is
    /// e^(t d_i) b_i, infinite exactly where that overflows, never NaN, finite entries accurate.
    #[test]
    fn action_of_diagonal_matrices_overflows_entrywise(
        d in proptest::collection::vec(-1e3..1e3_f64, 1..6),
        t in -1.0..1.0_f64,
        csr in any::<bool>(),
    ) {
        let n = d.len();
        let a = Array2::from_diag(&ndarray::Array1::from(d.clone()));
        let b = Array2::ones((n, 1));
        let got = if csr {
            let (p, i, v) = csr_of(&a);
            expm_multiply(&CsrMatrix::new((n, n), &p, &i, &v).unwrap(), b.view(), t)
        } else {
            expm_multiply(&DenseOperator::new(a.view()).unwrap(), b.view(), t)
        }.unwrap();
        let want: Vec<f64> = d.iter().map(|&di| (t * di).exp()).collect();
        let scale = want.iter().filter(|w| w.is_finite()).fold(0.0f64, |m, w| m.max(*w));
        for (g, w) in got.iter().zip(&want) {
            prop_assert!(!g.is_nan(), "{d:?} {t}: {got:?}");
            if w.is_infinite() {
                prop_assert_eq!(*g, *w);
            } else {
                // exp at |t d| <= 1e3: relative condition 1e3, a few dozen roundings; in norm
                // when nothing overflows (the algorithm's guarantee), entrywise otherwise.
                let overflowed = want.iter().any(|w| w.is_infinite());
                let reference = if overflowed { w.abs().max(1e-300) } else { scale };
                prop_assert!((g - w).abs() <= 1e3 * 50.0 * f64::EPSILON * reference, "{d:?} {t}: {got:?} vs {want:?}");
            }
        }
    }

    /// Any finite entries and times: `Ok` or `Err(TooManySteps)` (norms beyond the Taylor
    /// steps), never a panic. (`||tA||_1` from 1e3 to 1e11 is left out: up to 1e9 products with
    /// `A`, correct but too slow for a test.)
    #[test]
    fn action_never_panics_on_huge_input(a in wild_matrix(), t in any_finite()) {
        let norm = t.abs() * a.columns().into_iter().map(|c| c.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
        prop_assume!(!(1e3..1e11).contains(&norm));
        let n = a.nrows();
        let b = Array2::ones((n, 1));
        let op = DenseOperator::new(a.view()).unwrap();
        match expm_multiply(&op, b.view(), t) {
            Ok(x) => prop_assert_eq!(x.dim(), (n, 1)),
            Err(e) => {
                let too_many = matches!(e, Error::TooManySteps { .. });
                prop_assert!(too_many, "{:?}", e);
            }
        }
    }

    /// Any CSR arrays (lengths, pointers and column indices out of order or out of range):
    /// `Err(InvalidSparse)` (or `NonFinite`) for malformed structure, never a panic; a valid
    /// structure gives a value.
    #[test]
    fn csr_structure_is_checked(
        rows in 0usize..5,
        cols in 0usize..5,
        indptr in proptest::collection::vec(-2i64..8, 0..7),
        indices in proptest::collection::vec(-2i64..6, 0..8),
        data in proptest::collection::vec(-3.0..3.0_f64, 0..8),
    ) {
        match CsrMatrix::new((rows, cols), &indptr, &indices, &data) {
            Ok(csr) => {
                let b = Array2::ones((cols, 1));
                let got = expm_multiply(&csr, b.view(), 0.5);
                if rows == cols {
                    prop_assert!(got.is_ok_and(|x| all_finite(&x)));
                } else {
                    let not_square = matches!(got, Err(Error::NotSquare { .. }));
                    prop_assert!(not_square);
                }
            }
            Err(e) => {
                let invalid = matches!(e, Error::InvalidSparse { .. });
                prop_assert!(invalid, "{:?}", e);
            }
        }
    }
}

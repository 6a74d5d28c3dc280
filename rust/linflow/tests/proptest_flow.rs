//! Property tests of the core's flow, Frechet and action functions at scale (proptest): on any
//! finite input they return a value (`Ok`, or an `Err` for the documented reasons), never
//! panic, and where the exact answer is finite (moderate norms and times) the result is finite.
//! Non-finite input is `Error::NonFinite`; a huge `t A` is the overflow of `exp`, not an error.

use linflow::flow::Propagator;
use linflow::{
    DenseOperator, Error, discretize, expm_frechet, expm_multiply, propagators, trajectory,
    trajectory_many,
};
use ndarray::{Array1, Array2};
use proptest::prelude::*;

/// A square matrix of order 1 to 6 with entries in `-r..r`, and a state of the same order.
fn system(r: f64) -> impl Strategy<Value = (Array2<f64>, Array1<f64>)> {
    (1usize..=6).prop_flat_map(move |n| {
        (
            proptest::collection::vec(-r..r, n * n),
            proptest::collection::vec(-4.0..4.0_f64, n),
        )
            .prop_map(move |(a, x)| (Array2::from_shape_vec((n, n), a).unwrap(), Array1::from(x)))
    })
}

fn all_finite<'a>(it: impl IntoIterator<Item = &'a f64>) -> bool {
    it.into_iter().all(|v| v.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// ||t A||_1 <= 6 * 2 * 5 = 60: every exponential is finite, so are all results.
    #[test]
    fn finite_where_exact_is_finite(
        (a, x) in system(2.0),
        times in proptest::collection::vec(-5.0..5.0_f64, 0..12),
        dt in -5.0..5.0_f64,
        uniform in 2usize..80,
    ) {
        let traj = trajectory(a.view(), x.view(), &times).unwrap();
        prop_assert!(all_finite(&traj));
        let grid: Vec<f64> = (0..uniform).map(|k| -1.0 + 4.0 * k as f64 / uniform as f64).collect();
        let x0 = Array2::from_shape_fn((3, a.nrows()), |(i, j)| x[j] * (i as f64 - 1.0));
        prop_assert!(all_finite(&trajectory_many(a.view(), x0.view(), &grid).unwrap()));
        let p = Propagator::new(a.view(), dt / 40.0).unwrap();
        prop_assert!(all_finite(&p.iterate(x.view(), 40).unwrap()));
        prop_assert!(all_finite(&propagators(a.view(), &times).unwrap()));
        let (ad, bd) = discretize(a.view(), x.view().insert_axis(ndarray::Axis(1)), dt).unwrap();
        prop_assert!(all_finite(&ad) && all_finite(&bd));
        let (e, l) = expm_frechet(a.view(), a.t()).unwrap();
        prop_assert!(all_finite(&e) && all_finite(&l));
        let op = DenseOperator::new(a.view()).unwrap();
        let y = expm_multiply(&op, x.view().insert_axis(ndarray::Axis(1)), dt).unwrap();
        prop_assert!(all_finite(&y));
    }

    /// Any finite entries (up to the largest float) and times: a result or an `Err`, no panic.
    /// Times and matrices beyond the overflow of `t A` give results, never `NonFinite`.
    #[test]
    fn never_panics_on_huge_input(
        (a, x) in system(f64::MAX),
        times in proptest::collection::vec(-1e308..1e308_f64, 0..6),
    ) {
        let traj = trajectory(a.view(), x.view(), &times);
        prop_assert!(traj.is_ok(), "{traj:?}");
        let p = propagators(a.view(), &times);
        prop_assert!(p.is_ok());
        let _ = expm_frechet(a.view(), a.view());
        let (_, _) = discretize(a.view(), a.view(), 2.0).unwrap();
    }

    /// NaN or infinity anywhere in the input is `Error::NonFinite`.
    #[test]
    fn non_finite_input_is_an_error((a, x) in system(2.0), bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY)], k in 0usize..36) {
        let mut a_bad = a.clone();
        let n = a.nrows();
        a_bad[[k % n, (k / n) % n]] = bad;
        prop_assert_eq!(trajectory(a_bad.view(), x.view(), &[0.0, 1.0]).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(propagators(a_bad.view(), &[1.0]).unwrap_err(), Error::NonFinite);
        let mut x_bad = x.clone();
        x_bad[k % n] = bad;
        prop_assert_eq!(trajectory(a.view(), x_bad.view(), &[0.0, 1.0]).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(trajectory(a.view(), x.view(), &[0.0, bad]).unwrap_err(), Error::NonFinite);
        prop_assert_eq!(expm_frechet(a_bad.view(), a.view()).unwrap_err(), Error::NonFinite);
    }
}

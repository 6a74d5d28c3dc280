//! Integration tests of the flow module against closed forms, for every scalar type.

use linflow::flow::{
    BLOCK, Propagator, discretize, flow_map, propagators, trajectory, trajectory_into,
    trajectory_many, vector_field,
};
use linflow::{Error, Precision, RealScalar, Scalar, expm};
use ndarray::{Array1, Array2, Array3, array, s};
use num_complex::Complex;

fn eps<S: Scalar>() -> f64 {
    match S::PRECISION {
        Precision::Single => f32::EPSILON as f64,
        Precision::Double => f64::EPSILON,
    }
}

fn cast2<S: Scalar>(a: &Array2<f64>) -> Array2<S> {
    a.mapv(S::from_f64)
}

fn real<S: Scalar>(x: f64) -> S::Real {
    <S::Real as Scalar>::from_f64(x)
}

fn grid<S: Scalar>(start: f64, step: f64, count: usize) -> (Vec<f64>, Vec<S::Real>) {
    let t: Vec<f64> = (0..count).map(|k| start + step * k as f64).collect();
    let r = t.iter().map(|&x| real::<S>(x)).collect();
    (t, r)
}

/// Worst over the states of `|x_k - ref_k| / |ref_k|` (Euclidean norms, in f64).
fn worst_state_err<S: Scalar>(x: &Array2<S>, reference: &Array2<f64>) -> f64 {
    x.outer_iter()
        .zip(reference.outer_iter())
        .map(|(got, want)| {
            let diff: f64 = got
                .iter()
                .zip(want.iter())
                .map(|(g, &w)| (*g - S::from_f64(w)).modulus().to_f64().powi(2))
                .sum();
            let norm: f64 = want.iter().map(|w| w * w).sum();
            (diff / norm).sqrt()
        })
        .fold(0.0, f64::max)
}

/// The closed forms of the worked examples: (A, x0, x(t)).
type Example = (Array2<f64>, Array1<f64>, fn(f64) -> Vec<f64>);

fn examples() -> Vec<(&'static str, Example)> {
    vec![
        (
            "decoupled diag(-1, -2)",
            (array![[-1.0, 0.0], [0.0, -2.0]], array![1.0, 1.0], |t| {
                vec![(-t).exp(), (-2.0 * t).exp()]
            }),
        ),
        (
            "saddle diag(-1, 0.5)",
            (array![[-1.0, 0.0], [0.0, 0.5]], array![1.0, 0.4], |t| {
                vec![(-t).exp(), 0.4 * (0.5 * t).exp()]
            }),
        ),
        (
            "damped spiral",
            (array![[-0.5, 1.0], [-1.0, -0.5]], array![2.0, 0.0], |t| {
                let r = 2.0 * (-0.5 * t).exp();
                vec![r * t.cos(), -r * t.sin()]
            }),
        ),
        (
            "3-D spiral decay",
            (
                array![[-0.1, 1.0, 0.0], [-1.0, -0.1, 0.0], [0.0, 0.0, -0.5]],
                array![1.0, 0.0, 2.0],
                |t| {
                    let r = (-0.1 * t).exp();
                    vec![r * t.cos(), -r * t.sin(), 2.0 * (-0.5 * t).exp()]
                },
            ),
        ),
        (
            "upper triangular [[-1, 2], [0, -3]]",
            (array![[-1.0, 2.0], [0.0, -3.0]], array![1.0, 1.0], |t| {
                vec![2.0 * (-t).exp() - (-3.0 * t).exp(), (-3.0 * t).exp()]
            }),
        ),
    ]
}

fn closed_form_trajectories<S: Scalar>() {
    for (name, (a, x0, exact)) in examples() {
        let (t, tr) = grid::<S>(0.0, 0.05, 401);
        let x = trajectory(cast2::<S>(&a).view(), x0.mapv(S::from_f64).view(), &tr).unwrap();
        // The reference at the times as the solver sees them (rounded to S::Real).
        let want = Array2::from_shape_fn((t.len(), a.nrows()), |(k, i)| exact(tr[k].to_f64())[i]);
        let err = worst_state_err(&x, &want);
        // t ||A|| <= 20 * 1.2: the conditioning of exp at tA scales the unit roundoff.
        assert!(err <= 64.0 * eps::<S>(), "{name}: {err:e}");
    }
}

#[test]
fn closed_forms_every_type() {
    closed_form_trajectories::<f32>();
    closed_form_trajectories::<f64>();
    closed_form_trajectories::<Complex<f32>>();
    closed_form_trajectories::<Complex<f64>>();
}

#[test]
fn rotation_stepped_100000_times_keeps_norm_and_angle() {
    let h = 2.0 * std::f64::consts::PI / 1000.0;
    let p = Propagator::new(array![[0.0_f64, -1.0], [1.0, 0.0]].view(), h).unwrap();
    let x = p.iterate(array![1.0, 0.0].view(), 100_000).unwrap();
    let (mut norm_err, mut angle_err) = (0.0_f64, 0.0_f64);
    for (k, row) in x.outer_iter().enumerate() {
        norm_err = norm_err.max((row[0].hypot(row[1]) - 1.0).abs());
        // The angle against k h, both reduced to (-pi, pi].
        let want = (k as f64 * h).sin().atan2((k as f64 * h).cos());
        let mut d = (row[1].atan2(row[0]) - want).abs();
        d = d.min(2.0 * std::f64::consts::PI - d);
        angle_err = angle_err.max(d);
    }
    assert!(norm_err <= 1e-11, "{norm_err:e}");
    assert!(angle_err <= 1e-10, "{angle_err:e}");
    // In fact far better: the error does not grow with the step count.
    assert!(norm_err <= 1e-13, "{norm_err:e}");
}

#[test]
fn error_does_not_grow_with_the_step_count() {
    // The same time span [0, 10] at 10^3 and 10^5 steps: the finer grid is no less accurate
    // (plain stepping would lose about 100 times more).
    let a = array![[-0.5, 1.0], [-1.0, -0.5]];
    let exact = |t: f64| {
        let r = 2.0 * (-0.5 * t).exp();
        [r * t.cos(), -r * t.sin()]
    };
    let mut errs = vec![];
    for count in [1_001, 100_001] {
        let (t, _) = grid::<f64>(0.0, 10.0 / (count - 1) as f64, count);
        let x = trajectory(a.view(), array![2.0, 0.0].view(), &t).unwrap();
        let want = Array2::from_shape_fn((count, 2), |(k, i)| exact(t[k])[i]);
        errs.push(worst_state_err(&x, &want));
    }
    assert!(errs[1] <= 1e-14, "{errs:?}");
    assert!(errs[1] <= 4.0 * errs[0].max(4.0 * f64::EPSILON), "{errs:?}");
}

#[test]
fn many_states_match_one_by_one() {
    let a = array![[-0.5, 1.0], [-1.0, -0.5]];
    let x0 = array![
        [2.0, 0.0],
        [0.0, 2.0],
        [-2.0, 0.0],
        [0.0, -2.0],
        [1.5, 1.5],
        [-1.5, 1.5],
        [-1.5, -1.5],
        [1.5, -1.5]
    ];
    let (t, _) = grid::<f64>(0.0, 0.05, 201);
    let all = trajectory_many(a.view(), x0.view(), &t).unwrap();
    assert_eq!(all.dim(), (8, 201, 2));
    // Many states anchor on one exponential per anchor, one state on the tree of exact
    // powers (cheaper for it): the two agree to rounding, not bit for bit.
    for (i, row) in x0.outer_iter().enumerate() {
        let one = trajectory(a.view(), row, &t).unwrap();
        let want = Array2::from_shape_fn((201, 2), |(k, j)| one[[k, j]]);
        let err = worst_state_err(&all.slice(s![i, .., ..]).to_owned(), &want);
        assert!(err <= 16.0 * f64::EPSILON, "state {i}: {err:e}");
    }
}

/// A non-normal 12x12 system (above the register kernel's size), stepped with matrix products.
fn larger_system() -> Array2<f64> {
    Array2::from_shape_fn((12, 12), |(i, j)| {
        let x = ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.5;
        if i == j { x - 1.0 } else { 0.4 * x }
    })
}

#[test]
fn larger_system_many_states_against_direct_exponentials() {
    let a = larger_system();
    let x0 = Array2::from_shape_fn((5, 12), |(i, j)| ((i + 2 * j) % 5) as f64 - 2.0);
    let (t, _) = grid::<f64>(0.0, 0.01, 3 * BLOCK + 5);
    let x = trajectory_many(a.view(), x0.view(), &t).unwrap();
    for (k, &tk) in t.iter().enumerate() {
        let e = expm((&a * tk).view()).unwrap();
        let want = x0.dot(&e.t());
        let got = x.slice(s![.., k, ..]).to_owned();
        let err = (&got - &want).iter().fold(0.0_f64, |m, d| m.max(d.abs()));
        let scale = want.iter().fold(0.0_f64, |m, d| m.max(d.abs()));
        assert!(err <= 1e3 * f64::EPSILON * scale, "k={k}: {err:e}");
    }
}

fn direct<S: Scalar>(a: &Array2<S>, x0: &Array1<S>, t: S::Real) -> Array1<S> {
    expm(a.mapv(|x| x.scale(t)).view()).unwrap().dot(x0)
}

fn unordered_and_negative_times<S: Scalar>() {
    let a = cast2::<S>(&array![[-0.5, 1.0], [-1.0, -0.5]]);
    let x0 = array![2.0, 0.0].mapv(S::from_f64);
    let tol = 64.0 * eps::<S>();
    // A uniform grid through 0 (stepped both ways), descending, shuffled, and non-uniform.
    let (_, up) = grid::<S>(-3.0, 0.05, 121);
    let down: Vec<S::Real> = up.iter().rev().copied().collect();
    let mut shuffled = up.clone();
    for k in 0..shuffled.len() {
        shuffled.swap(k, (k * 37 + 11) % up.len());
    }
    let uneven: Vec<S::Real> = [0.3, -2.0, 0.0, 5.0, 0.31, -0.7, 1e-3]
        .iter()
        .map(|&x| real::<S>(x))
        .collect();
    for times in [up, down, shuffled, uneven] {
        let x = trajectory(a.view(), x0.view(), &times).unwrap();
        for (k, &t) in times.iter().enumerate() {
            let want = direct(&a, &x0, t);
            let err = (&x.row(k) - &want)
                .iter()
                .map(|d| d.modulus().to_f64())
                .fold(0.0, f64::max);
            let scale = want
                .iter()
                .map(|d| d.modulus().to_f64())
                .fold(0.0, f64::max);
            assert!(err <= tol * scale, "t={t}: {err:e}");
        }
    }
}

#[test]
fn unordered_and_negative_times_every_type() {
    unordered_and_negative_times::<f32>();
    unordered_and_negative_times::<f64>();
    unordered_and_negative_times::<Complex<f32>>();
    unordered_and_negative_times::<Complex<f64>>();
}

#[test]
fn stiff_system_on_a_grid_through_zero_stays_accurate() {
    // Eigenvalues -1 and -20, non-normal: stepping forward from t = -5 would carry the
    // e^100-sized error of the fast mode into x(5). Stepping outward from t = 0 does not.
    let a = array![[-1.0_f64, 30.0], [0.0, -20.0]];
    let (t, _) = grid::<f64>(-5.0, 0.01, 1001);
    let x = trajectory(a.view(), array![1.0, 1.0].view(), &t).unwrap();
    for k in [0, 250, 500, 750, 1000] {
        let want = direct(&a, &array![1.0, 1.0], t[k]);
        let err = (&x.row(k) - &want)
            .iter()
            .fold(0.0_f64, |m, d| m.max(d.abs()));
        let scale = want.iter().fold(0.0_f64, |m, d| m.max(d.abs()));
        assert!(err <= 1e-12 * scale, "t={}: {err:e}", t[k]);
    }
}

#[test]
fn growing_mode_past_overflow_of_the_powers() {
    // exp(t diag(-1, 0.5)) overflows for t > 1420, but from (1, 0) the solution is (e^-t, 0):
    // the anchors fall back to the finite powers and the result stays finite and right.
    let a = array![[-1.0, 0.0], [0.0, 0.5]];
    let (t, _) = grid::<f64>(0.0, 0.1, 20_001);
    // One state (anchors on the tree of powers) and many (anchors on their own exponentials).
    let starts = Array2::from_shape_fn((8, 2), |(i, j)| if j == 0 { 1.0 + i as f64 } else { 0.0 });
    let many = trajectory_many(a.view(), starts.view(), &t).unwrap();
    let one = trajectory(a.view(), array![1.0, 0.0].view(), &t).unwrap();
    for (scale, x) in [(1.0, one.view()), (8.0, many.slice(s![7, .., ..]))] {
        assert!(x.iter().all(|v| v.is_finite()));
        for k in [0, 100, 5_000, 20_000] {
            let want = scale * (-t[k]).exp();
            // e^-t has relative condition number t (a rounding of t alone moves it by t eps).
            // (At t = 2000 both underflow to 0.)
            let err = (x[[k, 0]] - want).abs();
            assert!(err <= (t[k] + 16.0) * f64::EPSILON * want, "k={k}: {err:e}");
            assert_eq!(x[[k, 1]], 0.0);
        }
    }
}

#[test]
fn degenerate_grids() {
    let a = array![[0.0, 1.0], [-1.0, 0.0]];
    let x0 = array![1.0, 0.0];
    // One time, repeated times, no times.
    let one = trajectory(a.view(), x0.view(), &[0.5]).unwrap();
    assert!((one[[0, 0]] - 0.5_f64.cos()).abs() < 1e-16);
    let same = trajectory(a.view(), x0.view(), &[2.0, 2.0, 2.0]).unwrap();
    assert_eq!(same.row(0), same.row(2));
    assert_eq!(trajectory(a.view(), x0.view(), &[]).unwrap().dim(), (0, 2));
    // No states, and an empty system.
    let none = trajectory_many(a.view(), Array2::zeros((0, 2)).view(), &[0.0, 1.0]).unwrap();
    assert_eq!(none.dim(), (0, 2, 2));
    let empty = trajectory_many(
        Array2::<f64>::zeros((0, 0)).view(),
        Array2::zeros((3, 0)).view(),
        &[1.0],
    )
    .unwrap();
    assert_eq!(empty.dim(), (3, 1, 0));
    // Zero steps.
    let p = Propagator::new(a.view(), 0.1).unwrap();
    assert_eq!(p.iterate(x0.view(), 0).unwrap(), array![[1.0, 0.0]]);
}

#[test]
fn propagator_step_and_flow_map() {
    let a = array![[-1.0, 0.0], [0.0, 0.5]];
    let p = Propagator::new(a.view(), 0.1).unwrap();
    assert_eq!(p.dt(), 0.1);
    assert_eq!(p.dim(), 2);
    assert_eq!(p.generator(), a);
    let b = p.matrix();
    assert_eq!(b[[0, 0]], (-0.1_f64).exp());
    let x = p.step(array![1.0, 0.4].view()).unwrap();
    assert_eq!(x, array![(-0.1_f64).exp(), 0.4 * 0.05_f64.exp()]);
    let grid = array![[-1.0, -1.0], [0.0, 0.6], [0.2, 1.0]];
    let moved = flow_map(a.view(), grid.view(), 0.1).unwrap();
    assert_eq!(moved, p.step_many(grid.view()).unwrap());
    let back = flow_map(a.view(), moved.view(), -0.1).unwrap();
    for (u, v) in back.iter().zip(grid.iter()) {
        assert!((u - v).abs() <= 2.0 * f64::EPSILON);
    }
}

#[test]
fn propagators_stack() {
    let a = array![[0.0, -1.0], [1.0, 0.0]];
    let b = propagators(a.view(), &[0.0, 0.5, -2.0]).unwrap();
    assert_eq!(b.dim(), (3, 2, 2));
    for (k, t) in [0.0_f64, 0.5, -2.0].into_iter().enumerate() {
        assert!((b[[k, 0, 0]] - t.cos()).abs() < 1e-15);
        assert!((b[[k, 1, 0]] - t.sin()).abs() < 1e-15);
    }
}

#[test]
fn discretize_closed_forms() {
    // x' = a x + u (scalar): A_d = e^(a dt), B_d = (e^(a dt) - 1) / a.
    let (ad, bd) = discretize(array![[-2.0]].view(), array![[3.0]].view(), 0.25).unwrap();
    assert!((ad[[0, 0]] - (-0.5_f64).exp()).abs() < 1e-16);
    assert!((bd[[0, 0]] - 3.0 * (-0.5_f64).exp_m1() / -2.0).abs() < 1e-16);
    // The double integrator: A_d = [[1, dt], [0, 1]], B_d = [dt^2 / 2, dt].
    let (ad, bd) = discretize(
        array![[0.0_f64, 1.0], [0.0, 0.0]].view(),
        array![[0.0], [1.0]].view(),
        0.1,
    )
    .unwrap();
    assert_eq!(ad, array![[1.0, 0.1], [0.0, 1.0]]);
    assert!((bd[[0, 0]] - 0.005).abs() < 1e-18 && (bd[[1, 0]] - 0.1).abs() < 1e-17);
}

#[test]
fn vector_field_velocity_and_displacement() {
    let a = array![[-1.0, 0.0], [0.0, 0.5]];
    let xs: Vec<f64> = (0..=10).map(|k| -1.0 + 0.2 * k as f64).collect();
    let f = vector_field(a.view(), &xs, &xs[..5], None).unwrap();
    assert_eq!(f.x.dim(), (5, 11));
    assert_eq!(f.x[[3, 7]], xs[7]);
    assert_eq!(f.y[[3, 7]], xs[3]);
    assert_eq!(f.u[[3, 7]], -xs[7]);
    assert_eq!(f.v[[3, 7]], 0.5 * xs[3]);
    // Displacements over a tiny step keep full relative accuracy.
    let dt = 1e-9;
    let d = vector_field(a.view(), &xs, &xs, Some(dt)).unwrap();
    let want_u = xs[0] * (-dt).exp_m1();
    let want_v = xs[10] * (0.5 * dt).exp_m1();
    assert!((d.u[[10, 0]] - want_u).abs() <= 2.0 * f64::EPSILON * want_u.abs());
    assert!((d.v[[10, 0]] - want_v).abs() <= 2.0 * f64::EPSILON * want_v.abs());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let a = array![[0.0, 1.0], [-1.0, 0.0]];
    let rect = Array2::<f64>::zeros((2, 3));
    assert_eq!(
        Propagator::new(rect.view(), 0.1).unwrap_err(),
        Error::NotSquare { rows: 2, cols: 3 }
    );
    assert!(matches!(
        trajectory(a.view(), array![1.0, 2.0, 3.0].view(), &[0.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert_eq!(
        trajectory(a.view(), array![1.0, f64::NAN].view(), &[0.0]).unwrap_err(),
        Error::NonFinite
    );
    assert_eq!(
        trajectory(a.view(), array![1.0, 0.0].view(), &[0.0, f64::INFINITY]).unwrap_err(),
        Error::NonFinite
    );
    assert_eq!(
        Propagator::new(a.view(), f64::NAN).unwrap_err(),
        Error::NonFinite
    );
    let mut wrong = Array3::zeros((1, 3, 2));
    assert!(matches!(
        trajectory_into(
            a.view(),
            array![[1.0, 0.0]].view(),
            &[0.0, 1.0],
            wrong.view_mut()
        ),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        discretize(a.view(), Array2::zeros((3, 1)).view(), 0.1),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        vector_field(Array2::<f64>::eye(3).view(), &[0.0], &[0.0], None),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// The `flow` fuzz target's finding: a complex64 block matrix `dt [[A, B], [0, 0]]` that is
/// nilpotent with entries near the float32 limit returned `Err(Singular)` (the integer Pade
/// coefficients overflowed). `exp` of it is `I + M + M^2 / 2`: `A_d = I + dt A` and
/// `B_d = (dt I + dt^2 A / 2) B`, here accurate in norm (to a few float32 eps of `||B_d||`).
#[test]
fn discretize_nilpotent_block_near_the_float32_limit() {
    let z = Complex::new(0.0f32, 0.0);
    let (dt, c) = (3.8125f32, 1.4375f32);
    let a = array![[z, z], [Complex::new(c, 0.0), z]];
    let b0 = Complex::new(2.5e30f32, -2.5e37);
    let b = array![[b0], [z]];
    let (ad, bd) = discretize(a.view(), b.view(), dt).unwrap();
    let want_b = [
        Complex::<f64>::new(2.5e30, -2.5e37) * f64::from(dt),
        Complex::<f64>::new(2.5e30, -2.5e37) * f64::from(dt * dt * c / 2.0),
    ];
    let scale = want_b[1].norm();
    for (got, want) in bd.iter().zip(want_b) {
        let got = Complex::new(f64::from(got.re), f64::from(got.im));
        assert!(
            (got - want).norm() <= 4.0 * eps::<Complex<f32>>() * scale,
            "{bd:?}"
        );
    }
    assert_eq!(ad[[0, 0]], Complex::new(1.0, 0.0), "{ad:?}");
    assert_eq!(ad[[0, 1]], z, "{ad:?}");
    assert!(
        (ad[[1, 0]] - Complex::new(dt * c, 0.0)).norm() <= 1e-6 * dt * c,
        "{ad:?}"
    );
    // dt B itself overflows in the imaginary part: the exact B_d is not representable; the call
    // still succeeds (complex overflow gives NaN entries, as numpy's complex arithmetic does).
    let b = array![[Complex::new(2.5e30f32, -2.5e38)], [z]];
    let (ad, bd) = discretize(a.view(), b.view(), dt).unwrap();
    assert!(bd.iter().all(|x| !x.is_finite()), "{bd:?}");
    assert_eq!(ad[[0, 0]], Complex::new(1.0, 0.0), "{ad:?}");
}

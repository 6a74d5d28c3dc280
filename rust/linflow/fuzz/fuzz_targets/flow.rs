//! Fuzz target: the flow functions (`trajectory`, `trajectory_many`, `Propagator` with `step`
//! and `iterate`, `propagators`, `flow_map`, `discretize`). Any bytes become `A` (order 0 to 5),
//! states, times and steps of one of the four scalar types. Checked (as
//! `tests/proptest_flow.rs`): no panic; `Err(NonFinite)` exactly for non-finite input; otherwise
//! `Ok` whatever the size of `t A` (its overflow is the result's, not an error), finite when
//! `||t A||_1` and the states keep `exp(t A) x` below overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linflow::{
    Error, Propagator, RealScalar as _, Scalar, discretize, flow_map, propagators, trajectory,
    trajectory_many,
};
use ndarray::{Array1, ArrayView2};
use num_complex::Complex;

#[path = "common.rs"]
mod common;
use common::{FromBytes, Reader, all_finite, max_modulus, norm1, overflow_free_norm};

/// Whether `exp(t A) x` cannot overflow for `|t| <= t_max` and states `x`.
fn safe<S: Scalar>(a: ArrayView2<S>, x: ArrayView2<S>, t_max: f64) -> bool {
    let n = x.ncols().max(1) as f64;
    t_max * norm1(a) + (n * max_modulus(x)).max(1.0).ln() <= overflow_free_norm::<S>() - 2.0
}

fn check<S: FromBytes>(r: &mut Reader) {
    let n = usize::from(r.byte() % 6);
    let a = r.matrix::<S>(n, n);
    let x = Array1::from_iter((0..n).map(|_| r.scalar::<S>()));
    let times: Vec<S::Real> = (0..usize::from(r.byte() % 6)).map(|_| r.real::<S>()).collect();
    let dt = r.real::<S>();
    let steps = usize::from(r.byte() % 6);
    let finite_a = all_finite(&a);
    let finite_x = all_finite(&x);
    let finite_t = times.iter().all(|t| t.is_finite());
    let t_max = times.iter().fold(0.0f64, |m, t| m.max(t.to_f64().abs()));
    let xs = x.view().insert_axis(ndarray::Axis(0));

    let traj = trajectory(a.view(), x.view(), &times);
    if !finite_a || !finite_x || !finite_t {
        assert_eq!(traj.unwrap_err(), Error::NonFinite);
    } else {
        let traj = traj.unwrap();
        assert_eq!(traj.dim(), (times.len(), n));
        if safe(a.view(), xs, t_max) {
            assert!(all_finite(&traj), "{a:?} {x:?} {times:?}: {traj:?}");
        }
        let many = trajectory_many(a.view(), xs, &times).unwrap();
        assert_eq!(many.dim(), (1, times.len(), n));
    }

    let props = propagators(a.view(), &times);
    if !finite_a || !finite_t {
        assert_eq!(props.unwrap_err(), Error::NonFinite);
    } else {
        let props = props.unwrap();
        if t_max * norm1(a.view()) <= overflow_free_norm::<S>() {
            assert!(all_finite(&props), "{a:?} {times:?}");
        }
    }

    let finite_dt = dt.is_finite();
    let p = Propagator::new(a.view(), dt);
    let moved = flow_map(a.view(), xs, dt);
    let zoh = discretize(a.view(), xs.t(), dt);
    if !finite_a || !finite_dt {
        assert_eq!(p.unwrap_err(), Error::NonFinite);
        assert_eq!(moved.unwrap_err(), Error::NonFinite);
        assert_eq!(zoh.unwrap_err(), Error::NonFinite);
        return;
    }
    let p = p.unwrap();
    let dtf = dt.to_f64().abs();
    if !finite_x {
        assert_eq!(p.step(x.view()).unwrap_err(), Error::NonFinite);
        assert_eq!(p.iterate(x.view(), steps).unwrap_err(), Error::NonFinite);
        assert_eq!(moved.unwrap_err(), Error::NonFinite);
        assert_eq!(zoh.unwrap_err(), Error::NonFinite);
        return;
    }
    let one = p.step(x.view()).unwrap();
    let path = p.iterate(x.view(), steps).unwrap();
    let moved = moved.unwrap();
    let (ad, bd) = zoh.unwrap();
    assert_eq!(path.dim(), (steps + 1, n));
    if safe(a.view(), xs, dtf * steps.max(1) as f64) {
        assert!(all_finite(&one) && all_finite(&path) && all_finite(&moved), "{a:?} {x:?} {dt:?}");
    }
    if safe(a.view(), xs, dtf) && dtf * norm1(a.view()) <= overflow_free_norm::<S>() - 2.0 {
        assert!(all_finite(&ad), "{a:?} {dt:?}");
        // B_d = int_0^dt exp(s A) ds B: at most dt e^(dt ||A||) ||B||.
        if (dtf.max(1e-300)).ln() + dtf * norm1(a.view()) + (n as f64 * max_modulus(xs)).max(1.0).ln()
            <= overflow_free_norm::<S>() - 2.0
        {
            assert!(all_finite(&bd), "{a:?} {x:?} {dt:?}: {bd:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    match r.byte() % 4 {
        0 => check::<f32>(&mut r),
        1 => check::<f64>(&mut r),
        2 => check::<Complex<f32>>(&mut r),
        _ => check::<Complex<f64>>(&mut r),
    }
});

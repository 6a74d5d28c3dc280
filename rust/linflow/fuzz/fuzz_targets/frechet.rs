//! Fuzz target: the Frechet derivative and the condition number. Any bytes become `A` and `E`
//! of one of the four scalar types, of order 0 to 6, entries of any bit pattern or moderate.
//! Checked (as `tests/proptest_frechet_action.rs`): no panic; `Err(NonFinite)` exactly for
//! non-finite input; otherwise `Ok` (or `Singular` for a Pade denominator of an overflowing
//! exponential); `exp(A)` and `L(A, E)` finite when `||A||_1` (and `||E||`) keep them below
//! overflow; `expm_cond` never NaN, finite below overflow; `ExpmFrechet`, `expm_frechet_batch`
//! and `expm_cond_batch` bit-identical to the single calls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linflow::{
    Error, ExpmFrechet, FrechetMethod, RealScalar as _, Scalar, expm_cond, expm_cond_batch,
    expm_frechet, expm_frechet_batch,
};
use ndarray::{Array3, Axis};
use num_complex::Complex;

#[path = "common.rs"]
mod common;
use common::{FromBytes, Reader, all_finite, bits, max_modulus, norm1, overflow_free_norm};

fn check<S: FromBytes>(n: usize, r: &mut Reader) {
    let a = r.matrix::<S>(n, n);
    let e = r.matrix::<S>(n, n);
    let (finite_a, finite_e) = (all_finite(&a), all_finite(&e));
    let got = expm_frechet(a.view(), e.view());
    let cond = expm_cond(a.view());
    if !finite_a || !finite_e {
        assert_eq!(got, Err(Error::NonFinite));
        assert_eq!(cond.is_err_and(|e| e == Error::NonFinite), !finite_a);
        return;
    }
    let limit = overflow_free_norm::<S>();
    let norm = norm1(a.view());
    let (x, l) = match got {
        Ok(pair) => pair,
        Err(Error::Singular) if norm > limit => return,
        Err(err) => panic!("{a:?} {e:?}: {err:?}"),
    };
    if norm <= limit {
        assert!(all_finite(&x), "{a:?} -> {x:?}");
        // ||L(A, E)|| <= ||E|| e^||A||.
        let e_norm = max_modulus(e.view()) * n as f64;
        if e_norm.ln() + norm <= limit {
            assert!(all_finite(&l), "{a:?} {e:?} -> {l:?}");
        }
    }
    match cond {
        Ok(k) => {
            let k = k.to_f64();
            if n == 0 {
                // 0 * 0 / 0, NaN as scipy's value for an empty matrix (documented).
                assert!(k.is_nan());
                return;
            }
            assert!(!k.is_nan() && k >= 0.0, "{a:?}: {k}");
            if norm <= limit {
                assert!(k.is_finite(), "{a:?}: {k}");
            }
            let stack = Array3::from_shape_fn((2, n, n), |(_, i, j)| a[[i, j]]);
            let batch = expm_cond_batch(stack.view()).unwrap();
            assert!(batch.iter().all(|b| format!("{b:?}") == format!("{:?}", S::Real::from_f64(k))));
        }
        Err(Error::Singular) if norm > limit => {}
        Err(err) => panic!("{a:?}: {err:?}"),
    }
    // The reusable setup gives the same derivative; a stack of two gives the single results.
    let f = ExpmFrechet::new(a.view()).unwrap();
    assert!(f.derivative(e.view()).is_ok());
    let sa = Array3::from_shape_fn((2, n, n), |(_, i, j)| a[[i, j]]);
    let se = Array3::from_shape_fn((2, n, n), |(_, i, j)| e[[i, j]]);
    let (bx, bl) = expm_frechet_batch(sa.view(), se.view(), FrechetMethod::Sps).unwrap();
    for k in 0..2 {
        assert_eq!(bits(bx.index_axis(Axis(0), k)), bits(x.view()));
        assert_eq!(bits(bl.index_axis(Axis(0), k)), bits(l.view()));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let (kind, n) = (r.byte() % 4, usize::from(r.byte() % 7));
    match kind {
        0 => check::<f32>(n, &mut r),
        1 => check::<f64>(n, &mut r),
        2 => check::<Complex<f32>>(n, &mut r),
        _ => check::<Complex<f64>>(n, &mut r),
    }
});

//! Fuzz target: any bytes become a matrix (or a stack) of one of the four scalar types, of any
//! order up to 24, any bit patterns (NaN, infinities, subnormals, the extremes), any zero pattern
//! and memory layout, and go through every public `expm` function of the core. The properties
//! are those of `tests/proptest_expm.rs`: no panic; `Err(NonFinite)` exactly for non-finite input;
//! otherwise `Ok`, finite when `||A||_1` is below the overflow threshold, the zero triangle of a
//! triangular input exactly zero, and `expm_batch`, `expm_into` with a reused workspace and views
//! in other layouts bit-identical to `expm`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linflow::{Error, Expm, Precision, RealScalar as _, expm, expm_batch, expm_into};
use ndarray::{Array2, Array3, Axis, s};
use num_complex::Complex;

#[path = "common.rs"]
mod common;
use common::{FromBytes, bits};

fn check<S: FromBytes>(n: usize, flags: u8, data: &[u8]) {
    // The entries cycle through the bytes given (a short input still fills a large matrix).
    let count = (data.len() / S::SIZE).max(1);
    let value = |k: usize| {
        if data.len() < S::SIZE {
            S::zero()
        } else {
            S::read(&data[(k % count) * S::SIZE..])
        }
    };
    let mut a = Array2::from_shape_fn((n, n), |(i, j)| value(i * n + j));
    let upper = flags & 1 != 0;
    if upper {
        a.indexed_iter_mut().for_each(|((i, j), x)| {
            if i > j {
                *x = S::zero()
            }
        });
    }
    if flags & 2 != 0 {
        a = a.t().to_owned();
    }
    let finite = a.iter().all(|x| x.is_finite());
    let got = expm(a.view());
    if !finite {
        assert_eq!(got, Err(Error::NonFinite));
        return;
    }
    let e = got.expect("finite square input");
    let norm = a
        .columns()
        .into_iter()
        .map(|c| c.iter().map(|x| x.modulus().to_f64()).sum::<f64>())
        .fold(0.0, f64::max);
    let limit = match S::PRECISION {
        Precision::Double => 700.0,
        Precision::Single => 80.0,
    };
    if norm <= limit {
        assert!(e.iter().all(|x| x.is_finite()), "{a:?} -> {e:?}");
    }
    if upper {
        let lower = flags & 2 != 0;
        for ((i, j), x) in e.indexed_iter() {
            if (lower && j > i) || (!lower && i > j) {
                assert!(*x == S::zero(), "{a:?} -> {e:?}");
            }
        }
    }
    // The same matrix reversed in memory, in a stack of three, and through a reused workspace.
    let mut reversed = Array2::<S>::zeros((n, n));
    reversed.slice_mut(s![..;-1, ..;-1]).assign(&a);
    let view = reversed.slice(s![..;-1, ..;-1]);
    assert_eq!(bits(expm(view).unwrap().view()), bits(e.view()));
    let stack = Array3::from_shape_fn((3, n, n), |(_, i, j)| a[[i, j]]);
    let batch = expm_batch(stack.view()).unwrap();
    for k in 0..3 {
        assert_eq!(bits(batch.index_axis(Axis(0), k)), bits(e.view()));
    }
    let mut work = Expm::new();
    let mut out = Array2::zeros((n, n));
    let small = Array2::from_shape_fn((n, n), |(i, j)| S::from_f64(((i + 2 * j) % 5) as f64 * 0.1));
    expm_into(small.view(), out.view_mut(), &mut work).unwrap();
    expm_into(a.view(), out.view_mut(), &mut work).unwrap();
    assert_eq!(bits(out.view()), bits(e.view()));
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (kind, n, flags) = (data[0] % 4, usize::from(data[1] % 25), data[0] >> 2);
    let rest = &data[2..];
    match kind {
        0 => check::<f32>(n, flags, rest),
        1 => check::<f64>(n, flags, rest),
        2 => check::<Complex<f32>>(n, flags, rest),
        _ => check::<Complex<f64>>(n, flags, rest),
    }
});

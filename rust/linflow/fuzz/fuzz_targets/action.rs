//! Fuzz target: the action `exp(tA) B`, dense and CSR. Any bytes become `A` (order 0 to 6), `B`
//! (0 to 2 columns), a time or a grid, in `f64` or `Complex<f32>`, and CSR arrays of any
//! structure (lengths, pointers and column indices in or out of range, out of order,
//! duplicates). Checked (as `tests/proptest_frechet_action.rs`): no panic; `Err(NonFinite)`
//! exactly for non-finite input; `Err(InvalidSparse)` for malformed CSR structure (never a
//! panic), `Ok` for a valid one; otherwise `Ok` or `Err(TooManySteps)` (norms beyond the Taylor
//! steps), finite when `||tA||_1` and `B` keep `exp(tA) B` below overflow; a diagonal `A` gives
//! `e^(t d_i) b_i`, infinite exactly where that overflows and never NaN; a CSR matrix gives the
//! dense matrix's result to rounding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linflow::{
    CsrMatrix, DenseOperator, Error, RealScalar as _, Scalar, TimeGrid, expm_multiply,
    expm_multiply_grid,
};
use ndarray::{Array2, ArrayView2};
use num_complex::Complex;

#[path = "common.rs"]
mod common;
use common::{FromBytes, Reader, all_finite, max_modulus, norm1, overflow_free_norm};

/// Whether `exp(tA) B` cannot overflow: `||tA||_1 + ln(n ||B||_max)` below the limit.
fn safe<S: Scalar>(a: ArrayView2<S>, b: ArrayView2<S>, t: f64) -> bool {
    let n = b.nrows().max(1) as f64;
    t.abs() * norm1(a) + (n * max_modulus(b)).max(1.0).ln() <= overflow_free_norm::<S>() - 2.0
}

/// The properties of one result of `expm_multiply` for finite input.
fn check_result<S: Scalar>(
    got: &linflow::Result<Array2<S>>,
    a: ArrayView2<S>,
    b: ArrayView2<S>,
    t: f64,
) {
    match got {
        Ok(x) => {
            assert_eq!(x.dim(), b.dim());
            if safe(a, b, t) {
                assert!(all_finite(x), "{a:?} {b:?} {t}: {x:?}");
            }
        }
        Err(Error::TooManySteps { .. }) => assert!(!safe(a, b, t) || t.abs() * norm1(a) > 1e9),
        Err(err) => panic!("{a:?} {b:?} {t}: {err:?}"),
    }
}

fn check<S: FromBytes>(r: &mut Reader) {
    let n = usize::from(r.byte() % 7);
    let k = usize::from(r.byte() % 3);
    let diagonal = r.byte() % 4 == 0;
    let mut a = r.matrix::<S>(n, n);
    if diagonal {
        a.indexed_iter_mut().for_each(|((i, j), v)| {
            if i != j {
                *v = S::zero()
            }
        });
    }
    let b = r.matrix::<S>(n, k);
    let t = r.real::<S>().to_f64();
    let op = DenseOperator::new(a.view());
    if !all_finite(&a) {
        assert!(matches!(op, Err(Error::NonFinite)));
        return;
    }
    let op = op.unwrap();
    let got = expm_multiply(&op, b.view(), S::Real::from_f64(t));
    if !all_finite(&b) || !t.is_finite() {
        assert_eq!(got.unwrap_err(), Error::NonFinite);
        return;
    }
    check_result(&got, a.view(), b.view(), t);
    // Never NaN for real diagonal A up to the norm where a result that overflowed is recomputed
    // (1e5); complex overflow is NaN in its imaginary part (inf * 0), as in numpy.
    let real = std::mem::size_of::<S>() == std::mem::size_of::<S::Real>();
    let recomputed = t.abs() * norm1(a.view()) <= 1e5;
    if let (true, true, true, Ok(x)) = (diagonal, real, recomputed, &got) {
        for ((i, j), v) in x.indexed_iter() {
            let want = (S::from_f64(t) * a[[i, i]]).exp() * b[[i, j]];
            let nan = |z: S| z.modulus().to_f64().is_nan();
            assert!(!nan(*v) || nan(want), "{a:?} {b:?} {t}: {x:?}");
            // Finite well below the largest float (rounding cannot carry it over): finite.
            let largest = match S::PRECISION {
                linflow::Precision::Double => f64::MAX,
                linflow::Precision::Single => f64::from(f32::MAX),
            };
            if want.modulus().to_f64() <= 1e-3 * largest && !v.is_finite() {
                panic!("{a:?} {b:?} {t}: {x:?}");
            }
        }
    }
    // A short grid from t: every point as its own call would be.
    let count = usize::from(r.byte() % 4);
    let step = r.real::<S>();
    let grid = TimeGrid { start: S::Real::from_f64(t), step, count };
    let res = expm_multiply_grid(&op, b.view(), grid);
    if !step.is_finite() {
        assert!(count <= 1 || res.is_err());
    } else if let Ok(x) = res {
        assert_eq!(x.dim(), (count, n, k));
    }
    // CSR from the bytes: any structure.
    let rows = usize::from(r.byte() % 7);
    let len = usize::from(r.byte() % 9);
    let indptr: Vec<i32> = (0..len).map(|_| i32::from(r.byte() as i8) % 9).collect();
    let nnz = usize::from(r.byte() % 12);
    let indices: Vec<i32> = (0..nnz).map(|_| i32::from(r.byte() as i8) % 8).collect();
    let data: Vec<S> = (0..usize::from(r.byte() % 12)).map(|_| r.scalar::<S>()).collect();
    let csr = match CsrMatrix::new((rows, rows), &indptr, &indices, &data) {
        Ok(csr) => csr,
        Err(Error::InvalidSparse { .. } | Error::NonFinite) => return,
        Err(err) => panic!("{err:?}"),
    };
    // Valid: the dense matrix of its entries (duplicates add up) gives the same result.
    let mut dense = Array2::<S>::zeros((rows, rows));
    for i in 0..rows {
        for p in indptr[i] as usize..indptr[i + 1] as usize {
            dense[[i, indices[p] as usize]] += data[p];
        }
    }
    let bb = Array2::from_shape_fn((rows, 1), |(i, _)| S::from_f64(1.0 + i as f64));
    let tt = S::Real::from_f64(0.5);
    let got = expm_multiply(&csr, bb.view(), tt);
    check_result(&got, dense.view(), bb.view(), 0.5);
    let want = expm_multiply(&DenseOperator::new(dense.view()).unwrap(), bb.view(), tt);
    if let (Ok(x), Ok(y)) = (&got, &want) {
        if 0.5 * norm1(dense.view()) <= 4.0 {
            let scale = max_modulus(y.view()).max(1.0);
            let diff = x.iter().zip(y).map(|(p, q)| (*p - *q).modulus().to_f64()).fold(0.0, f64::max);
            let eps = S::Real::UNIT_ROUNDOFF.to_f64();
            assert!(diff <= 1e4 * eps * scale, "{dense:?}: {x:?} vs {y:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    match r.byte() % 2 {
        0 => check::<f64>(&mut r),
        _ => check::<Complex<f32>>(&mut r),
    }
});

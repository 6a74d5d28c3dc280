//! The block 1-norm estimator of Higham & Tisseur (2000), Algorithm 2.4, for a product `B = P Q`
//! of two square matrices that is never formed: `B X = P (Q X)` and `B^H Y` through `B^T`, so an
//! estimate of `||A^8||_1 = ||A^4 A^4||_1` costs a few `n x t` products instead of an `n x n` one.
//!
//! The estimate is a lower bound, in practice within a factor of 3 (on the unit test's random
//! products, within 1.26; often exact). Al-Mohy & Higham (2009) use it in exactly
//! this role: `d_8` and `d_10` only pick the scaling, and an underestimate there is caught by the
//! backward-error correction `ell`, which is exact (its `|| |A|^(2m+1) ||_1` is formed, or
//! bounded closely enough to give the same correction; see `plan::AbsPowerBounds`).
//!
//! The starting block is fixed (no random numbers drawn per call), so the same matrix always gets
//! the same estimate: results are deterministic across runs and threads.

use crate::dense::mat_mul;
use ndarray::{Array2, ArrayView2};

use num_traits::{One, Zero};

use crate::scalar::{RealScalar, Scalar};

/// Number of columns of the block (Higham & Tisseur's `t`).
const T: usize = 2;
/// Iteration limit (their `itmax`).
const ITMAX: usize = 5;

/// `||P Q||_1`, estimated (a lower bound, see the module docs).
pub(crate) fn norm1_product_estimate<S: Scalar>(p: ArrayView2<S>, q: ArrayView2<S>) -> f64 {
    let n = p.nrows();
    if n <= 4 {
        // The estimator needs distinct unit vectors to move to; tiny matrices are formed exactly.
        let mut b = Array2::<S>::zeros((n, n));
        mat_mul(S::one(), &p, &q, S::zero(), &mut b);
        return super::norm1(b.view());
    }
    let mut x = Array2::<S>::zeros((n, T));
    let mut mid = Array2::<S>::zeros((n, T));
    let mut y = Array2::<S>::zeros((n, T));
    let inv_n = S::from_f64(1.0 / n as f64);
    // Column 0: all ones; column 1: alternating signs with a slow ramp (a fixed, "generic" +-1
    // pattern that is not parallel to the first), both scaled by 1/n.
    for i in 0..n {
        x[[i, 0]] = inv_n;
        let sign = if (i / 3) % 2 == 0 { 1.0 } else { -1.0 };
        x[[i, 1]] = S::from_f64(sign) * inv_n;
    }
    let apply = |x: &Array2<S>, mid: &mut Array2<S>, y: &mut Array2<S>, transpose: bool| {
        if transpose {
            // B^T x = Q^T (P^T x).
            mat_mul(S::one(), &p.t(), x, S::zero(), mid);
            mat_mul(S::one(), &q.t(), mid, S::zero(), y);
        } else {
            mat_mul(S::one(), &q, x, S::zero(), mid);
            mat_mul(S::one(), &p, mid, S::zero(), y);
        }
    };
    let mut visited = vec![false; n];
    let mut est_old = 0.0;
    let mut best_index = 0usize;
    let mut current: [Option<usize>; T] = [None; T];
    let mut signs_old: Option<Array2<S>> = None;
    let mut signs = Array2::<S>::zeros((n, T));
    let mut h = vec![0.0f64; n];
    let mut est = 0.0;
    for k in 0..ITMAX {
        apply(&x, &mut mid, &mut y, false);
        let (j_best, col_best) = (0..T)
            .map(|j| {
                (
                    j,
                    y.column(j)
                        .iter()
                        .map(|v| v.modulus().to_f64())
                        .sum::<f64>(),
                )
            })
            .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        if !col_best.is_finite() || y.iter().any(|v| !v.is_finite()) {
            // The product overflows (inf, or NaN from inf - inf): its norm is not small.
            return f64::INFINITY;
        }
        est = col_best;
        if k >= 1 && est <= est_old {
            est = est_old;
            break;
        }
        est_old = est;
        if let Some(i) = current[j_best] {
            best_index = i;
        }
        // S = sign(Y) (y / |y|, and 1 for y = 0); conjugated, so that B^T conj(S) = conj(B^H S).
        for (s, &v) in signs.iter_mut().zip(y.iter()) {
            let m = v.modulus();
            *s = if m == <S::Real as Zero>::zero() {
                S::one()
            } else {
                v.conj().scale(<S::Real as One>::one() / m)
            };
        }
        if let Some(old) = &signs_old {
            // Every column of S parallel to one of the previous S: no new information.
            let parallel = |a: ndarray::ArrayView1<S>, b: ndarray::ArrayView1<S>| {
                let dot = a
                    .iter()
                    .zip(b.iter())
                    .fold(S::zero(), |acc, (&u, &v)| acc + u * v.conj());
                (RealScalar::to_f64(dot.modulus()) - n as f64).abs() <= 1e-3 * n as f64
            };
            if (0..T).all(|j| (0..T).any(|l| parallel(signs.column(j), old.column(l)))) {
                break;
            }
        }
        apply(&signs, &mut mid, &mut y, true);
        for (i, hi) in h.iter_mut().enumerate() {
            *hi = (0..T)
                .map(|j| y[[i, j]].modulus().to_f64())
                .fold(0.0, f64::max);
        }
        let h_max = h.iter().cloned().fold(0.0, f64::max);
        if k >= 1 && h_max == h[best_index] {
            break;
        }
        // The T largest entries of h among rows not visited yet.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| h[b].total_cmp(&h[a]).then(a.cmp(&b)));
        if order[..T].iter().all(|&i| visited[i]) {
            break;
        }
        let fresh: Vec<usize> = order.into_iter().filter(|&i| !visited[i]).take(T).collect();
        if fresh.is_empty() {
            break;
        }
        x.fill(S::zero());
        current = [None; T];
        for (j, &i) in fresh.iter().enumerate() {
            x[[i, j]] = S::one();
            visited[i] = true;
            current[j] = Some(i);
        }
        if fresh.len() < T {
            // Fewer fresh rows than columns: repeat the first (harmless, the norm is a max).
            for j in fresh.len()..T {
                x[[fresh[0], j]] = S::one();
                current[j] = Some(fresh[0]);
            }
        }
        signs_old = Some(signs.clone());
    }
    est
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use num_complex::Complex;

    fn exact<S: Scalar>(p: &Array2<S>, q: &Array2<S>) -> f64 {
        super::super::norm1(p.dot(q).view())
    }

    fn lcg(state: &mut u64) -> f64 {
        crate::test_rng::uniform(state) * 2.0 - 1.0
    }

    #[test]
    fn estimates_are_lower_bounds_and_close() {
        let mut state = 7u64;
        let mut ratios = Vec::new();
        for n in [5usize, 9, 20, 50, 120] {
            for _ in 0..6 {
                let p = Array2::from_shape_fn((n, n), |_| lcg(&mut state));
                let q = Array2::from_shape_fn((n, n), |_| lcg(&mut state));
                let e = exact(&p, &q);
                let est = norm1_product_estimate(p.view(), q.view());
                assert!(est <= e * (1.0 + 1e-12), "n={n}: {est} > {e}");
                ratios.push(e / est);
            }
        }
        // Higham & Tisseur: within a factor 3 in essentially all of their random tests.
        assert!(ratios.iter().all(|&r| r < 3.0), "{ratios:?}");
    }

    #[test]
    fn complex_and_structured() {
        let n = 40;
        // A single large column: the estimate must find it.
        let mut p = Array2::<Complex<f64>>::eye(n);
        for i in 0..n {
            p[[i, 17]] = Complex::new(3.0, -4.0);
        }
        let q = Array2::<Complex<f64>>::eye(n);
        let est = norm1_product_estimate(p.view(), q.view());
        assert!((est - exact(&p, &q)).abs() <= 1e-12 * est, "{est}");
        // Deterministic.
        assert_eq!(est, norm1_product_estimate(p.view(), q.view()));
    }
}

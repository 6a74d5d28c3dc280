//! Structure that changes how `expm` is computed: diagonal input is exact, and triangular input
//! has its diagonal and first superdiagonal recomputed during squaring (Al-Mohy & Higham 2009,
//! Section 2, Code Fragment 2.1), which keeps `[[1, 1e8], [0, 1 + 1e-10]]` right to ~1e-15.

use ndarray::{ArrayView2, ArrayViewMut2};

use num_traits::One;

use crate::scalar::Scalar;

/// The zero pattern of a square matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Structure {
    Diagonal,
    Upper,
    Lower,
    General,
}

impl Structure {
    pub(crate) fn of<S: Scalar>(a: ArrayView2<S>) -> Self {
        let n = a.nrows();
        let (mut upper, mut lower) = (true, true); // "is upper / lower triangular"
        for i in 0..n {
            for j in 0..n {
                if a[[i, j]] != S::zero() {
                    if i > j {
                        upper = false;
                    } else if i < j {
                        lower = false;
                    }
                }
            }
            if !upper && !lower {
                return Structure::General;
            }
        }
        match (upper, lower) {
            (true, true) => Structure::Diagonal,
            (true, false) => Structure::Upper,
            (false, true) => Structure::Lower,
            (false, false) => Structure::General,
        }
    }
}

/// The divided difference `(exp(b) - exp(a)) / (b - a)` (`exp(a)` when `a = b`), evaluated without
/// cancellation: for `|b - a| <= 2` as `exp((a + b) / 2) sinh(z) / z` with `z = (b - a) / 2`
/// (Higham 2008, *Functions of Matrices*, eq. (10.42)); otherwise directly, where the difference
/// of exponentials loses nothing. `sinh(z) / z` is its Taylor series `1 + z^2/6 + z^4/120` for
/// `|z| < 1e-3` (the next term is below `2e-22`), which also keeps a complex division by a
/// subnormal `z` from underflowing to NaN.
pub(crate) fn exp_divided_difference<S: Scalar>(a: S, b: S) -> S {
    let half = S::Real::from_f64(0.5);
    let z = (b - a).scale(half);
    let zmod = z.modulus();
    let mid = (a + b).scale(half).exp();
    if zmod < S::Real::from_f64(1e-3) {
        let z2 = z * z;
        mid * (S::one() + z2 * (S::from_f64(1.0 / 6.0) + z2 * S::from_f64(1.0 / 120.0)))
    } else if zmod <= S::Real::one() {
        mid * (z.sinh() / z)
    } else {
        (b.exp() - a.exp()) / (b - a)
    }
}

/// Overwrites the diagonal and first superdiagonal of `x ~ exp(h T)` (upper triangular `T`, given
/// by its diagonal `diag` and superdiagonal `sup`) with their exact values.
pub(crate) fn fix_triangular<S: Scalar>(
    mut x: ArrayViewMut2<S>,
    diag: &[S],
    sup: &[S],
    h: S::Real,
) {
    let n = diag.len();
    for i in 0..n {
        x[[i, i]] = diag[i].scale(h).exp();
    }
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (diag[i].scale(h), diag[i + 1].scale(h));
        x[[i, i + 1]] = sup[i].scale(h) * exp_divided_difference(a, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use num_complex::Complex;

    #[test]
    fn structure_detection() {
        let cases = [
            (array![[1.0, 0.0], [0.0, 2.0]], Structure::Diagonal),
            (array![[1.0, 3.0], [0.0, 2.0]], Structure::Upper),
            (array![[1.0, 0.0], [3.0, 2.0]], Structure::Lower),
            (array![[1.0, 4.0], [3.0, 2.0]], Structure::General),
        ];
        for (a, want) in cases {
            assert_eq!(Structure::of(a.view()), want);
        }
    }

    #[test]
    fn divided_difference_is_accurate_near_and_far() {
        // (e^(1+d) - e) / d = e * (e^d - 1) / d = e * (1 + d/2 + ...)
        let d = 1e-10_f64;
        let exact = std::f64::consts::E * d.exp_m1() / d;
        let got = exp_divided_difference(1.0, 1.0 + d);
        // 1.0 + d is not exactly 1 + 1e-10: use the stored difference.
        let ds = (1.0 + d) - 1.0;
        let exact_stored = std::f64::consts::E * ds.exp_m1() / ds;
        assert!(
            (got - exact_stored).abs() <= 2e-16 * exact,
            "{got} {exact_stored}"
        );
        let far: f64 = exp_divided_difference(0.0, 5.0);
        assert!((far - (5f64.exp() - 1.0) / 5.0).abs() < 1e-14 * far);
        let c = exp_divided_difference(Complex::new(0.0, 0.0), Complex::new(0.0, 1e-9));
        assert!((c - Complex::new(1.0, 5e-10)).norm() < 1e-16);
        // A subnormal difference must not underflow a complex division into NaN.
        let tiny = exp_divided_difference(Complex::new(0.0, 2.2e-308), Complex::new(0.0, 0.0));
        assert!((tiny - Complex::new(1.0, 0.0)).norm() < 1e-16, "{tiny}");
        let mid: f64 = exp_divided_difference(0.5, 0.5 + 1e-2);
        assert!((mid - (0.51f64.exp() - 0.5f64.exp()) / 1e-2).abs() < 1e-13);
    }
}

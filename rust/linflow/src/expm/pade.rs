//! Pade approximants to `exp` and the choice of order `m` and scaling `s`
//! (Al-Mohy & Higham 2009, Algorithm 3.1, with the backward-error correction `ell` of their
//! Section 5).
//!
//! The thresholds `theta_m` are the largest `theta` with `sum_k |c_k| theta^(k-1) <= u`, where
//! `log(exp(-x) r_m(x)) = sum_{k >= 2m+1} c_k x^k` is the backward-error series of the `[m/m]`
//! approximant `r_m` and `u` the unit roundoff. `benches/pade_thresholds.py` recomputes every value
//! below with mpmath; its double-precision results reproduce Al-Mohy & Higham 2009, Table 3.1.

use crate::scalar::Precision;

/// Orders of the Pade approximants the algorithm chooses from.
pub(crate) const ORDERS: [usize; 5] = [3, 5, 7, 9, 13];

/// `theta_m` for `u = 2^-53` (Al-Mohy & Higham 2009, Table 3.1; `benches/pade_thresholds.py`).
const THETA_DOUBLE: [f64; 5] = [
    1.495585217958292e-2,
    2.539398330063232e-1,
    9.504178996162932e-1,
    2.097847961257068e0,
    5.371920351148152e0,
];

/// `theta_m` for `u = 2^-24` (Higham 2005, Table 2.1 lists the same single-precision values to
/// the digits it prints; recomputed at 80 digits by `benches/pade_thresholds.py`).
const THETA_SINGLE: [f64; 5] = [
    4.258730034897931e-1,
    1.880152698533769e0,
    3.925724846433284e0,
    6.249156334514102e0,
    11.248737636475399,
];

/// The Pade thresholds of a precision, indexed like [`ORDERS`].
pub(crate) fn thetas(precision: Precision) -> &'static [f64; 5] {
    match precision {
        Precision::Double => &THETA_DOUBLE,
        Precision::Single => &THETA_SINGLE,
    }
}

/// The order used together with scaling: the one that needs the fewest matrix products per unit
/// of `log2 ||A||`, i.e. that maximises `log2(theta_m) - (products of r_m)`. With the costs
/// 2, 3, 4, 5, 6 products for m = 3, 5, 7, 9, 13 that is m = 13 in double precision
/// (Al-Mohy & Higham 2009, Section 3) and m = 7 in single precision (Higham 2005, Section 4).
pub(crate) fn scaled_order(precision: Precision) -> usize {
    match precision {
        Precision::Double => 13,
        Precision::Single => 7,
    }
}

/// The threshold `s` is chosen against when scaling towards [`scaled_order`]: `2^-s eta <= theta`.
///
/// In double precision this is 4.25, not `theta_13 = 5.37`: `eta` bounds `rho(A)` through
/// `||A^k||^(1/k)` more optimistically than `||A||_1` does, and Al-Mohy & Higham's order-13 scaling
/// step uses 4.25 (so does `scipy.sparse.linalg.expm`, which implements their algorithm). Measured
/// here on a 3x3 normal-entries matrix of 1-norm 100: 5.37 chose one squaring fewer and erred by
/// 4.6e-14 against mpmath, 4.25 by 2.6e-16 (`benches/ACCURACY.md`, `dense_n3_1e+02`). In single
/// precision the order-7 threshold itself is used: `benches/ACCURACY.md` shows float32 errors within
/// a few eps with it.
pub(crate) fn scaling_threshold(precision: Precision) -> f64 {
    match precision {
        Precision::Double => 4.25,
        Precision::Single => theta(Precision::Single, 7),
    }
}

/// The threshold `theta_m` of order `m`.
pub(crate) fn theta(precision: Precision, m: usize) -> f64 {
    let i = ORDERS
        .iter()
        .position(|&o| o == m)
        .expect("m is one of ORDERS");
    thetas(precision)[i]
}

/// Coefficients `b_0..b_m` of the numerator `p_m(x) = sum_j b_j x^j` of the `[m/m]` Pade
/// approximant to `exp` (the denominator is `p_m(-x)`), scaled so that `b_m = 1`:
/// `b_j = (2m-j)! / ((m-j)! j!) = C(2m-j, m) m! / j!`, an integer computed exactly and then
/// rounded once to `f64`. Entries past `m` are zero.
pub(crate) const fn pade_coefficients(m: usize) -> [f64; 14] {
    let mut b = [0.0; 14];
    let mut j = 0;
    while j <= m {
        // C(2m - j, m) by the multiplicative formula, exact at every step.
        let mut binom: u128 = 1;
        let mut i: u128 = 1;
        while i <= m as u128 {
            binom = binom * ((2 * m - j - m) as u128 + i) / i;
            i += 1;
        }
        // m! / j!
        let mut ratio: u128 = 1;
        let mut k = j + 1;
        while k <= m {
            ratio *= k as u128;
            k += 1;
        }
        b[j] = (binom * ratio) as f64;
        j += 1;
    }
    b
}

/// [`pade_coefficients`] divided by `2^e`, the power of two with `b_0 <= 2^e < 2 b_0`, so that
/// `b_0 / 2^e` is in `(1/2, 1]` and every coefficient is at most 1 (`b_j / b_0 <= 1 / (2^j j!)`).
/// Division by a power of two is exact: the evaluation rounds exactly as it would with the
/// integers (bit-identical results), only `2^e` times further from overflow.
///
/// The quotient `r_m = p_m(A) / p_m(-A)` does not depend on the common factor, but the integers
/// reach `b_0 = 6.5e16` (order 13) and `1.7e7` (order 7): `b_1 A` overflows for entries above
/// `f32::MAX / 60` even at order 3, which is chosen unscaled for nearly nilpotent `A` with huge
/// entries (small power norms) whose `exp(A) = I + A + ...` is finite. Scaled, the terms are about
/// the size of the Taylor terms `A^j / j!` of the result.
pub(crate) const fn normalized_pade_coefficients(m: usize) -> [f64; 14] {
    let b = pade_coefficients(m);
    let mut scale = 1.0;
    while scale < b[0] {
        scale *= 2.0;
    }
    let mut c = [0.0; 14];
    let mut j = 0;
    while j <= m {
        c[j] = b[j] / scale;
        j += 1;
    }
    c
}

/// The normalized coefficient tables of the orders 3, 5, 7, 9 and 13, evaluated at compile time.
const PADE_TABLES: [[f64; 14]; 5] = [
    normalized_pade_coefficients(3),
    normalized_pade_coefficients(5),
    normalized_pade_coefficients(7),
    normalized_pade_coefficients(9),
    normalized_pade_coefficients(13),
];

/// [`normalized_pade_coefficients`] of an order used by `expm` (3, 5, 7, 9 or 13), from a table
/// built at compile time: the arithmetic is not repeated per matrix.
pub(crate) fn pade_table(m: usize) -> &'static [f64; 14] {
    match m {
        3 => &PADE_TABLES[0],
        5 => &PADE_TABLES[1],
        7 => &PADE_TABLES[2],
        9 => &PADE_TABLES[3],
        _ => &PADE_TABLES[4],
    }
}

/// Leading coefficient `|c_{2m+1}| = (m!)^2 / ((2m)! (2m+1)!)` of the backward-error series of
/// `r_m` (Al-Mohy & Higham 2009, eq. (5.1) and the `ell` function of Algorithm 3.1).
pub(crate) fn leading_error_coefficient(m: usize) -> f64 {
    // Factorials up to 27! are below 1e29: no overflow in f64, a few ulps of rounding.
    let factorial = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
    factorial(m) * factorial(m) / (factorial(2 * m) * factorial(2 * m + 1))
}

/// [`leading_error_coefficient`] of the orders 3, 5, 7, 9, 13 (checked against it in the tests).
const LEADING: [f64; 5] = [
    1.0 / 100800.0,
    1.0 / 10059033600.0,
    1.0 / 4487938430976000.0,
    1.0 / 5914384781877411840000.0,
    1.0 / 113250775606021113483283660800000000.0,
];

/// The backward-error correction `ell(A, m) = max(0, ceil(log2(alpha / u) / (2m)))` with
/// `alpha = |c_{2m+1}| || |A|^{2m+1} ||_1 / ||A||_1` (Al-Mohy & Higham 2009, Algorithm 3.1,
/// line 18 and Section 5): extra squarings needed because the bound through `||A^k||^(1/k)` is
/// too optimistic for this `A`. `abs_power_norm` is `|| |A|^{2m+1} ||_1` and `norm` is `||A||_1`.
#[inline(always)]
pub(crate) fn ell(m: usize, abs_power_norm: f64, norm: f64, unit_roundoff: f64) -> u32 {
    if norm == 0.0 || abs_power_norm == 0.0 {
        return 0;
    }
    let coefficient = match m {
        3 => LEADING[0],
        5 => LEADING[1],
        7 => LEADING[2],
        9 => LEADING[3],
        13 => LEADING[4],
        _ => leading_error_coefficient(m),
    };
    // alpha = c |||A|^(2m+1)|| / ||A|| <= u, tested without a division (the common outcome).
    let scaled = coefficient * abs_power_norm;
    if scaled.is_nan() || scaled <= unit_roundoff * norm {
        // Also NaN: no correction.
        return 0;
    }
    let alpha = scaled / norm;
    let ratio = alpha / unit_roundoff;
    if !ratio.is_finite() {
        return u32::MAX;
    }
    // ceil(log2(r) / 2m) = ceil(ceil(log2 r) / 2m), and ceil(log2 r) is exact from the bits: no
    // logarithm on the path of a small matrix. (r > 1 here, so it is at least 1.)
    let two_m = 2 * m as i64;
    let value = (ceil_log2(ratio) + two_m - 1) / two_m;
    value.clamp(0, i64::from(u32::MAX)) as u32
}

/// The smallest integer `e` with `x <= 2^e`, for finite `x > 0`, read exactly from the bits of
/// `x` (`ceil(log2 x)` without rounding error).
#[inline(always)]
pub(crate) fn ceil_log2(x: f64) -> i64 {
    debug_assert!(x > 0.0 && x.is_finite());
    // Subnormals: scale into the normal range first (exact).
    let (x, offset) = if x < f64::MIN_POSITIVE {
        (x * 2f64.powi(64), -64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let fraction = bits & ((1u64 << 52) - 1);
    exponent + offset + i64::from(fraction != 0)
}

/// `max(0, ceil(log2(eta / theta)))` as a squaring count, saturating for huge or infinite `eta`.
pub(crate) fn squarings_for(eta: f64, theta: f64) -> u32 {
    let x = eta / theta;
    if x.is_nan() || x <= 1.0 {
        0
    } else if x == f64::INFINITY {
        MAX_SQUARINGS
    } else {
        ceil_log2(x).min(i64::from(MAX_SQUARINGS)) as u32
    }
}

/// More squarings than any finite `f64` input needs (its norm is below `2^1024`, and the scaling
/// threshold above `2^-4`): the saturation value of the squaring counts.
pub(crate) const MAX_SQUARINGS: u32 = 4096;

/// `max(0, ceil(x))` as a squaring count for `x = log2(eta / theta)`, saturating.
pub(crate) fn squarings_for_log2(x: f64) -> u32 {
    let s = x.ceil();
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= f64::from(MAX_SQUARINGS) {
        MAX_SQUARINGS
    } else {
        s as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pade_coefficients_are_the_classical_integers() {
        assert_eq!(&pade_coefficients(3)[..4], &[120.0, 60.0, 12.0, 1.0]);
        assert_eq!(
            &pade_coefficients(5)[..6],
            &[30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0]
        );
        let b13 = pade_coefficients(13);
        // (26)!/(13)! and the next coefficients, as integers (Higham 2005, eq. (2.3) scaled).
        assert_eq!(b13[0], 64764752532480000.0);
        assert_eq!(b13[1], 32382376266240000.0);
        assert_eq!(b13[2], 7771770303897600.0);
        assert_eq!(b13[12], 182.0);
        assert_eq!(b13[13], 1.0);
    }

    #[test]
    fn normalized_coefficients_are_exact_power_of_two_multiples() {
        for m in ORDERS {
            let (b, c) = (pade_coefficients(m), normalized_pade_coefficients(m));
            assert!(c[0] > 0.5 && c[0] <= 1.0, "m = {m}: {}", c[0]);
            let ratio = b[0] / c[0];
            assert_eq!(ratio.log2().fract(), 0.0, "m = {m}: {ratio}");
            for j in 0..=m {
                assert_eq!(c[j] * ratio, b[j], "m = {m}, j = {j}");
                assert_eq!(f64::from(c[j] as f32) * ratio, f64::from(b[j] as f32));
            }
        }
    }

    #[test]
    fn leading_coefficients_match_the_closed_form() {
        // 1/c_{2m+1} from benches/pade_thresholds.py
        let inv = [
            (3, 100800.0),
            (5, 10059033600.0),
            (7, 4487938430976000.0),
            (9, 5914384781877411840000.0),
            (13, 1.132_507_756_060_211e35),
        ];
        for (m, v) in inv {
            let c = leading_error_coefficient(m);
            assert!((c * v - 1.0).abs() < 1e-13, "m={m}: {}", c * v);
            let k = [3, 5, 7, 9, 13].iter().position(|&x| x == m).unwrap();
            assert!((LEADING[k] * v - 1.0).abs() < 1e-15, "table m={m}");
            assert_eq!(pade_table(m), &normalized_pade_coefficients(m));
        }
    }

    #[test]
    fn ceil_log2_is_exact() {
        assert_eq!(ceil_log2(1.0), 0);
        assert_eq!(ceil_log2(1.0 + f64::EPSILON), 1);
        assert_eq!(ceil_log2(2.0), 1);
        assert_eq!(ceil_log2(3.0), 2);
        assert_eq!(ceil_log2(0.5), -1);
        assert_eq!(ceil_log2(0.75), 0);
        assert_eq!(ceil_log2(f64::MAX), 1024);
        assert_eq!(ceil_log2(f64::MIN_POSITIVE), -1022);
        assert_eq!(ceil_log2(f64::from_bits(1)), -1074);
        assert_eq!(ceil_log2(3.0 * f64::from_bits(1)), -1072);
        let mut x = 1e-300_f64;
        while x < 1e300 {
            assert_eq!(ceil_log2(x), x.log2().ceil() as i64, "x = {x:e}");
            x *= 1.37;
        }
    }

    #[test]
    fn squaring_counts_match_their_definition() {
        assert_eq!(squarings_for(5.0, 5.0), 0);
        assert_eq!(squarings_for(5.1, 5.0), 1);
        assert_eq!(squarings_for(20.0, 5.0), 2);
        assert_eq!(squarings_for(20.1, 5.0), 3);
        assert_eq!(squarings_for(f64::INFINITY, 5.0), MAX_SQUARINGS);
        assert_eq!(squarings_for(f64::NAN, 5.0), 0);
        // ell: ceil(log2(alpha / u) / 2m) with alpha = c_{2m+1} || |A|^(2m+1) || / ||A||.
        let u = 2f64.powi(-53);
        for (abs, norm) in [(1e30, 3.0), (7.5e12, 2.0), (1e-3, 1.0), (1e300, 1e-300)] {
            for (k, m) in [3usize, 5, 7, 9, 13].into_iter().enumerate() {
                let alpha = LEADING[k] * abs / norm;
                let want = ((alpha / u).log2() / (2 * m) as f64).ceil().max(0.0);
                let want = if want.is_finite() {
                    want as u32
                } else {
                    u32::MAX
                };
                assert_eq!(ell(m, abs, norm, u), want, "m = {m}, alpha = {alpha:e}");
            }
        }
    }
}

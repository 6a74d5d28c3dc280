//! The choice of Pade order `m` and squarings `s` (Al-Mohy & Higham 2009, Algorithm 3.1), shared
//! by the fixed-size kernels and the general workspace: both describe their matrix through
//! [`PowerNorms`] and get the same [`Plan`] for the same input.

use super::pade::{
    MAX_SQUARINGS, ceil_log2, ell, scaled_order, scaling_threshold, squarings_for,
    squarings_for_log2, theta,
};
use crate::Precision;

/// The order and scaling chosen for one matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) m: usize,
    pub(crate) s: u32,
}

/// What the choice needs to know about `A` (unscaled).
pub(crate) trait PowerNorms {
    /// `||A||_1`.
    fn norm(&self) -> f64;
    /// `||A^k||_1` for `k` in 4, 6 and 8, exact (4 and 6 are asked first; `A^8`, once formed,
    /// is also used by the order-9 evaluation).
    fn power_norm(&mut self, k: u32) -> f64;
    /// `||A^k||_1` for `k` in 8 and 10, exact or estimated (the Higham-Tisseur estimator, where
    /// forming the power would cost a matrix product).
    fn power_norm_estimate(&mut self, k: u32) -> f64;
    /// True where a matrix product costs less than the `O(n^2 m)` backward-error test (small
    /// `n`): the tests are then ordered to form powers first.
    fn cheap_products(&self) -> bool;
    /// `|| |f A|^(2m+1) ||_1`, the input of the backward-error correction `ell`, or a bound on
    /// it that already settles the caller's question: an implementation that forms
    /// `1^T |f A|^j` one `j` at a time may pass its lower and upper bounds on the final norm to
    /// `settle` after each step, and return what `settle` returns (see [`AbsPowerBounds`]); one
    /// that computes the norm otherwise ignores `settle`.
    fn abs_power_norm(&mut self, m: usize, f: f64, settle: Settle<'_>) -> f64;
}

/// What [`PowerNorms::abs_power_norm`] asks of lower and upper bounds on the norm:
/// `Some(value to return)` when they settle the caller's question.
pub(crate) type Settle<'a> = &'a dyn Fn(f64, f64) -> Option<f64>;

/// Bounds on `|| B^p ||_1 = max(1^T B^p)` for a non-negative `B` from the rows
/// `r_j = 1^T B^j` formed so far (Collatz-Wielandt): with `lo = min_i r_j[i] / r_(j-1)[i]` and
/// `hi = max_i r_j[i] / r_(j-1)[i]` over the `i` with `r_(j-1)[i] > 0`, `lo r_(j-1) <= r_j <= hi
/// r_(j-1)` entrywise, hence (multiplying by `B >= 0` again and again) `lo^k r_j <= r_(j+k) <=
/// hi^k r_j`, and `lo^k max(r_j) <= || B^(j+k) ||_1 <= hi^k max(r_j)`. For a matrix with a
/// dominant Perron root both ratios approach it within a few steps, so where the backward-error
/// correction only has to be known up to a cap (or to be zero or not) a few of the `2m + 1`
/// vector-matrix products settle it.
pub(crate) struct AbsPowerBounds {
    lo: f64,
    hi: f64,
    top: f64,
    n: usize,
}

impl AbsPowerBounds {
    /// The bounds from the previous row `prev = r_(j-1)` and the new one `next = r_j`.
    pub(crate) fn new(prev: &[f64], next: &[f64]) -> Self {
        let (mut lo, mut hi, mut top) = (f64::INFINITY, 0.0f64, 0.0f64);
        for (&x, &y) in prev.iter().zip(next) {
            if x > 0.0 {
                let r = y / x;
                lo = lo.min(r);
                hi = hi.max(r);
            } else if y > 0.0 {
                hi = f64::INFINITY;
            }
            top = norm_max(top, y);
        }
        Self {
            lo,
            hi,
            top,
            n: next.len(),
        }
    }

    /// `(lower, upper)` bounds on `max(r_(j+k))` for the `p = j + k`-th row of `steps = p`,
    /// widened for the rounding errors of the computed rows (see [`bound_margin`]). `None` when
    /// the rows are zero (then so is the norm) or hold a NaN.
    pub(crate) fn after(&self, k: usize, steps: usize) -> Option<(f64, f64)> {
        if self.top == 0.0 || self.top.is_nan() || self.lo.is_nan() || self.hi.is_nan() {
            return None;
        }
        let margin = bound_margin(steps, self.n);
        let k = k.min(i32::MAX as usize) as i32;
        let lo = self.lo.powi(k) * self.top * (1.0 - margin);
        let hi = self.hi.powi(k) * self.top * (1.0 + margin);
        Some((lo, hi))
    }
}

/// Relative widening of [`AbsPowerBounds`] for rows of length `n` and `steps` products: every
/// row is a sum of non-negative terms, so its computed entries are within `j n u` (relative) of
/// the exact ones after `j` products, a ratio of two rows within `2 j n u`, its `k`-th power
/// within `2 j k n u`, and the bound within `steps^2 n u` in all; the fully computed norm is
/// within `steps n u`. A bound that clears a threshold by `steps^2 n eps = 2 steps^2 n u` (at
/// least `1e-8`) clears it for the fully computed norm as well: the correction is the one the
/// `steps` products would give (`1.7e-10` for `steps = 27`, `n = 1024`, so `1e-8` there).
fn bound_margin(steps: usize, n: usize) -> f64 {
    let steps = steps as f64;
    (steps * steps * n as f64 * f64::EPSILON).max(1e-8)
}

/// `min(ell(2^-s A, m), enough)` with `f = 2^-s`: the callers need the correction only up to
/// `enough` (1 where they ask whether it is zero; the squarings left below the cap for the
/// final one), which bounds on `|| |f A|^(2m+1) ||_1` often settle before it is formed.
#[inline(always)]
fn ell_of<P: PowerNorms>(p: &mut P, m: usize, f: f64, unit_roundoff: f64, enough: u32) -> u32 {
    if enough == 0 {
        return 0;
    }
    let norm = p.norm() * f;
    // || |fA|^(2m+1) ||_1 <= ||fA||_1^(2m+1): when this bound already gives no correction (the
    // common case for small norms), the exact value, 2m+1 vector-matrix products, is not needed.
    let bound = norm.powi(2 * m as i32 + 1);
    if ell(m, bound, norm, unit_roundoff) == 0 {
        return 0;
    }
    // ell is non-decreasing in the norm: a lower bound reaching `enough`, or an upper bound
    // giving zero, is the answer.
    let settle = |lo: f64, hi: f64| {
        if ell(m, lo, norm, unit_roundoff) >= enough {
            Some(lo)
        } else if ell(m, hi, norm, unit_roundoff) == 0 {
            Some(hi)
        } else {
            None
        }
    };
    let abs = p.abs_power_norm(m, f, &settle);
    ell(m, abs, norm, unit_roundoff).min(enough)
}

/// Algorithm 3.1, steps 1-19. `None` when the powers overflow: then [`fallback_plan`].
#[inline(always)]
pub(crate) fn choose_plan<P: PowerNorms>(
    p: &mut P,
    precision: Precision,
    unit_roundoff: f64,
) -> Option<Plan> {
    // eta <= theta is tested as ||A^k|| <= theta^k, and the scaling works with log2 d_k =
    // log2(||A^k||) / k: no k-th roots on the path of a small matrix.
    let below = |norm: f64, k: i32, th: f64| norm <= th.powi(k);
    let n4 = p.power_norm(4);
    let n6 = p.power_norm(6);
    if !(n4.is_finite() && n6.is_finite()) {
        return None;
    }
    // Unscaled orders, cheapest first (steps 1-10): eta_1 = max(d4, d6), eta_3 = max(d6, d8).
    for m in [3, 5] {
        let th = theta(precision, m);
        if below(n4, 4, th) && below(n6, 6, th) && ell_of(p, m, 1.0, unit_roundoff, 1) == 0 {
            return Some(Plan { m, s: 0 });
        }
    }
    // eta_3 = max(d6, d8). ||A^8|| <= ||A^4||^2 often settles the test without A^8; otherwise
    // A^8 is formed (the order-9 evaluation then uses it). Where products are expensive, the
    // cheaper backward-error test goes first, so that A^8 is formed only for an order it serves.
    let n8_bound = n4 * n4;
    let mut n8: Option<f64> = None;
    let unscaled: &[usize] = match precision {
        Precision::Double => &[7, 9],
        Precision::Single => &[7],
    };
    let cheap = p.cheap_products();
    for &m in unscaled {
        let th = theta(precision, m);
        if !below(n6, 6, th) {
            continue;
        }
        if !cheap && ell_of(p, m, 1.0, unit_roundoff, 1) != 0 {
            continue;
        }
        let eta_ok = below(n8_bound, 8, th) || {
            let x = match n8 {
                Some(x) => x,
                None => p.power_norm(8),
            };
            n8 = Some(x);
            below(x, 8, th)
        };
        if eta_ok && (!cheap || ell_of(p, m, 1.0, unit_roundoff, 1) == 0) {
            return Some(Plan { m, s: 0 });
        }
    }
    let m = scaled_order(precision);
    let th = scaling_threshold(precision);
    let s = if below(n6, 6, th) && below(n8.unwrap_or(n8_bound), 8, th) {
        // eta_3 <= threshold: no scaling whatever d10 is (and A^10 is not formed).
        0
    } else {
        let n8 = match n8 {
            Some(x) => x,
            None => p.power_norm_estimate(8),
        };
        // s = ceil(log2(eta / th)) for eta = max or min of the d_k = ||A^k||^(1/k): the count
        // for each d_k alone, combined the same way (ceil is monotone). `None`: an infinite d_k.
        let (s6, s8) = (squarings_k(n6, 6, th), squarings_k(n8, 8, th));
        let eta3 = max_count(s6, s8);
        let s = if m == 13 {
            // Steps 11-13: d10 = ||A^10||^(1/10); eta = min(eta_3, max(d8, d10)).
            let s10 = squarings_k(p.power_norm_estimate(10), 10, th);
            min_count(eta3, max_count(s8, s10))
        } else {
            // Single precision scales towards m = 7, whose test quantity is eta_3.
            eta3
        };
        s?
    };
    // Steps 18-19: the backward-error correction for the scaled matrix, capped by the scaling
    // that ||2^-s A||_1 <= threshold alone would choose (always sufficient).
    // Only the squarings up to the cap matter (none when s is already there).
    let f = 0.5f64.powi(s.min(i32::MAX as u32) as i32);
    let cap = squarings_for(p.norm(), th).max(s);
    let extra = ell_of(p, m, f, unit_roundoff, cap - s);
    Some(Plan {
        m,
        s: s.saturating_add(extra).min(cap),
    })
}

/// `max(0, ceil(log2(||A^k||^(1/k) / th)))`, the squarings that bring `d_k` below `th`: with
/// `e = ceil(log2(||A^k|| / th^k))` (exact from the bits) it is `ceil(e / k)`, no `k`-th root or
/// logarithm needed. `None` when the norm is infinite or NaN.
#[inline(always)]
fn squarings_k(norm: f64, k: i32, th: f64) -> Option<u32> {
    let x = norm / th.powi(k);
    if !x.is_finite() {
        return None;
    }
    if x <= 1.0 {
        return Some(0);
    }
    let k = i64::from(k);
    Some(((ceil_log2(x) + k - 1) / k).min(i64::from(MAX_SQUARINGS)) as u32)
}

/// The larger of two squaring counts, `None` (infinite) winning.
#[inline(always)]
fn max_count(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    Some(a?.max(b?))
}

/// The smaller of two squaring counts, `None` (infinite) losing.
#[inline(always)]
fn min_count(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The plan when the powers of `A` overflow: scale by the 1-norm alone. A 1-norm that overflowed
/// itself (a column sum above `f64::MAX`) is at most `n sqrt(2) f64::MAX` (`n` entries of modulus
/// at most `sqrt(2) f64::MAX`): that bound sets `s` then, where an infinite norm would saturate
/// `s` and scale `A` to zero (and `exp(A)` to `I`).
pub(crate) fn fallback_plan(norm: f64, n: usize, precision: Precision) -> Plan {
    let th = scaling_threshold(precision);
    let s = if norm.is_finite() {
        squarings_for(norm, th)
    } else {
        squarings_for_log2(f64::MAX.log2() + 0.5 + (n as f64).log2() - th.log2())
    };
    Plan {
        m: scaled_order(precision),
        s,
    }
}

/// `max` for folding norms, with NaN counted as infinite: a power of `A` that overflowed holds
/// NaNs (`inf - inf`, `0 * inf`), which `f64::max` would drop, reporting the power as small.
#[inline(always)]
pub(crate) fn norm_max(acc: f64, x: f64) -> f64 {
    if x.is_nan() {
        f64::INFINITY
    } else {
        acc.max(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `AbsPowerBounds` brackets `|| B^p ||_1` from every earlier pair of rows, for non-negative
    /// matrices with and without zero columns, and the bracket tightens towards the end.
    #[test]
    fn bounds_bracket_the_norm_of_the_power() {
        let mut seed = 5u64;
        let mut uniform = move || crate::test_rng::uniform(&mut seed);
        for (n, zero_col) in [(7usize, None), (30, Some(3)), (50, None)] {
            let b: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    (0..n)
                        .map(|j| if Some(j) == zero_col { 0.0 } else { uniform() })
                        .collect()
                })
                .collect();
            let p = 27;
            let mut rows = vec![vec![1.0f64; n]];
            for _ in 0..p {
                let r = rows.last().unwrap();
                let next = (0..n)
                    .map(|j| (0..n).map(|i| r[i] * b[i][j]).sum::<f64>())
                    .collect();
                rows.push(next);
            }
            let norm = rows[p].iter().cloned().fold(0.0, f64::max);
            for j in 1..p {
                let (lo, hi) = AbsPowerBounds::new(&rows[j - 1], &rows[j])
                    .after(p - j, p)
                    .unwrap();
                assert!(lo <= norm && norm <= hi, "j = {j}: {lo} {norm} {hi}");
                if j + 1 == p {
                    assert!(hi / lo < 1.0 + 1e-6, "last bracket {lo} {hi}");
                }
            }
        }
        assert!(
            AbsPowerBounds::new(&[1.0, 0.0], &[0.0, 0.0])
                .after(3, 4)
                .is_none()
        );
    }
}

//! The choice of the Taylor degree `m` and the number of steps `s` (Al-Mohy & Higham 2011,
//! Section 3): `exp(tA) B = (T_m(tA/s))^s B` with the truncated Taylor series `T_m`, choosing
//! `(m, s)` to minimise the number `m s` of products subject to a backward error at most the unit
//! roundoff.

use std::cell::RefCell;

use super::estimate::{Rng, norm1_power};

/// `||A - mu I||_1`: exact when the operator can say, otherwise estimated.
pub(crate) fn norm1_shifted<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    op: &Op,
    mu: S,
    rng: &mut Rng,
) -> Result<f64> {
    match op.norm1_shifted(mu) {
        Some(v) => Ok(v),
        None => norm1_power(op, mu, 1, rng),
    }
}
use super::operator::LinearOperator;
use crate::error::Result;
use crate::scalar::{Precision, Scalar};

/// The largest Taylor degree considered (Al-Mohy & Higham 2011, Section 3: `m_max = 55`).
pub(crate) const M_MAX: usize = 55;
/// Columns assumed by the cost model of the norm estimates (their `ell = 2`).
const ESTIMATE_COLUMNS: usize = 2;

/// `theta_m` for `u = 2^-53`, `m = 1..=55`: the largest `theta` with
/// `sum_{k > m} |c_k| theta^(k-1) <= u` for `log(exp(-x) T_m(x)) = sum c_k x^k` (Al-Mohy & Higham
/// 2011, Table 3.1 prints every fifth to two digits; Higham & Al-Mohy 2010, Table A.3 the first 30;
/// all recomputed by `benches/action_thresholds.py`).
const THETA_DOUBLE: [f64; M_MAX] = [
    2.2204460492503052e-16,
    2.5809568029717673e-08,
    1.3863478661191213e-05,
    0.00033971688399769617,
    0.002400876357887274,
    0.009065656407595102,
    0.023844555325002736,
    0.049912288711153226,
    0.08957760203223343,
    0.1441829761614378,
    0.21423580684517107,
    0.2996158913811581,
    0.3997775336316795,
    0.5139146936124294,
    0.6410835233041199,
    0.7802874256626574,
    0.9305328460786568,
    1.0908637192900361,
    1.2603810606426389,
    1.438252596804337,
    1.6237159502358216,
    1.8160778162150857,
    2.014710780944616,
    2.2190488693650896,
    2.4285825244428265,
    2.6428534574594353,
    2.861449633934264,
    3.084000544989162,
    3.310172839890271,
    3.5396663487436895,
    3.772210495681751,
    4.00756108611804,
    4.245497442579696,
    4.485819859447369,
    4.728347345793539,
    4.972915626191981,
    5.219375371084058,
    5.467590630524544,
    5.717437447572013,
    5.968802630041849,
    6.221582661689891,
    6.4756827360799845,
    6.731015898381024,
    6.98750228213063,
    7.245068429597952,
    7.503646685788864,
    7.763174657377987,
    8.02359472893998,
    8.284853629803917,
    8.546902045684933,
    8.809694269971322,
    9.073187890176145,
    9.337343505612013,
    9.602124472826556,
    9.8674966757534,
];

/// `theta_m` for `u = 2^-24`, the same bound in single precision (Al-Mohy & Higham 2011,
/// Table 3.1, single-precision row; `benches/action_thresholds.py`).
const THETA_SINGLE: [f64; M_MAX] = [
    1.1920928007687876e-07,
    0.0005978858893805234,
    0.011233864735286706,
    0.05116619363445086,
    0.13084871645994703,
    0.24952893228466977,
    0.40145824235104804,
    0.5800524627688768,
    0.7795113374358031,
    0.9951840790004457,
    1.2234795424241427,
    1.4616615072090335,
    1.7076485296087012,
    1.959850585959898,
    2.2170443949747205,
    2.4782808775219713,
    2.7428171126987797,
    3.0100663628176343,
    3.279561212635997,
    3.5509262147064953,
    3.823857425450966,
    4.098106972191506,
    4.3734713118405,
    4.649782224100758,
    4.926899843755911,
    5.20470722801236,
    5.483106087658634,
    5.762013408447769,
    6.041358758192571,
    6.321082126301961,
    6.601132179501162,
    6.8814648452097185,
    7.16204215448776,
    7.4428312919365975,
    7.723803811553991,
    8.004934986436286,
    8.286203267002165,
    8.567589827662577,
    8.84907818592395,
    9.130653881090101,
    9.412304202219415,
    9.694017956963012,
    9.975785274470677,
    10.257597436797491,
    10.539446734242167,
    10.821326340852155,
    11.103230206980685,
    11.385152966309136,
    11.667089855178801,
    11.949036642428966,
    12.230989568228125,
    12.512945290624417,
    12.79490083873945,
    13.07685357169422,
    13.358801142493045,
];

/// `theta_m` of a precision.
pub(crate) fn theta(precision: Precision, m: usize) -> f64 {
    match precision {
        Precision::Double => THETA_DOUBLE[m - 1],
        Precision::Single => THETA_SINGLE[m - 1],
    }
}

/// The largest `p` with `p (p - 1) <= m_max + 1` (8 for `m_max = 55`).
pub(crate) const fn p_max(m_max: usize) -> usize {
    let mut p = 1;
    while (p + 1) * p <= m_max + 1 {
        p += 1;
    }
    p
}

/// The norms of `A - mu I` that the choice of `(m, s)` needs: the exact or estimated 1-norm, and
/// lazily `d_p = ||(A - mu I)^p||_1^(1/p)`, estimated once and reused for every `t`.
pub(crate) struct NormInfo<'a, S: Scalar, Op: LinearOperator<S> + ?Sized> {
    op: &'a Op,
    mu: S,
    norm1: f64,
    d: RefCell<Vec<Option<f64>>>,
    rng: RefCell<Rng>,
}

impl<'a, S: Scalar, Op: LinearOperator<S> + ?Sized> NormInfo<'a, S, Op> {
    /// The norms of `A - mu I`, whose 1-norm `norm1` the caller has computed.
    pub(crate) fn new(op: &'a Op, mu: S, norm1: f64, rng: Rng) -> Self {
        Self {
            op,
            mu,
            norm1,
            d: RefCell::new(vec![None; p_max(M_MAX) + 2]),
            rng: RefCell::new(rng),
        }
    }

    /// `||A - mu I||_1` (exact or estimated).
    pub(crate) fn norm1(&self) -> f64 {
        self.norm1
    }

    fn d(&self, p: usize) -> Result<f64> {
        if let Some(v) = self.d.borrow()[p] {
            return Ok(v);
        }
        let est = norm1_power(self.op, self.mu, p, &mut self.rng.borrow_mut())?;
        let v = est.powf(1.0 / p as f64);
        self.d.borrow_mut()[p] = Some(v);
        Ok(v)
    }

    /// `alpha_p = max(d_p, d_{p+1})` (Al-Mohy & Higham 2011, eq. (3.7)).
    fn alpha(&self, p: usize) -> Result<f64> {
        Ok(self.d(p)?.max(self.d(p + 1)?))
    }

    /// Code fragment 3.1 of Al-Mohy & Higham (2011) for `|t| A` (the norms of `tA` are `|t|`
    /// times those of `A` whatever the sign of `t`): `(m, s)` for `n0` columns. Returns `(0, 1)`
    /// when `t A = 0`.
    pub(crate) fn parameters(&self, t: f64, n0: usize) -> Result<(usize, usize)> {
        let precision = S::PRECISION;
        let t = t.abs();
        let norm = t * self.norm1;
        if norm == 0.0 {
            return Ok((0, 1));
        }
        if !norm.is_finite() {
            // Finite entries whose 1-norm overflows: far beyond the limit below.
            return Err(crate::Error::TooManySteps {
                products: u64::MAX,
                limit: MAX_PRODUCTS as u64,
            });
        }
        // (m, s) by the least cost m s, in f64 so that no count saturates before the limit test.
        let mut best: Option<(usize, f64)> = None;
        let mut consider = |m: usize, s: f64| {
            let s = if s.is_nan() { f64::INFINITY } else { s };
            if best.is_none_or(|(bm, bs)| (m as f64) * s < (bm as f64) * bs) {
                best = Some((m, s));
            }
        };
        let p_max = p_max(M_MAX);
        if condition_3_13(norm, n0, precision) {
            // ||tA||_1 is small enough that the norm estimates would cost more than they save.
            for m in 1..=M_MAX {
                consider(m, (norm / theta(precision, m)).ceil());
            }
        } else {
            for p in 2..=p_max {
                let alpha = t * self.alpha(p)?;
                for m in (p * (p - 1) - 1)..=M_MAX {
                    consider(m, (alpha / theta(precision, m)).ceil());
                }
            }
        }
        let (m, s) = best.expect("at least one candidate");
        let products = m as f64 * s.max(1.0);
        if products > MAX_PRODUCTS {
            // ||tA||_1 ~ 1e300 would take ~1e299 steps: an error, not a hang (scipy hangs).
            return Err(crate::Error::TooManySteps {
                // Saturating conversions: 1e299 products reads as u64::MAX.
                products: products as u64,
                limit: MAX_PRODUCTS as u64,
            });
        }
        Ok((m, (s as usize).max(1)))
    }
}

/// Most products with `A` (`m s`, per column block) that one time step of the action may take:
/// `||tA||_1` up to about `10^9 theta_55 = 10^10` in double precision. Beyond it the Taylor
/// steps would run for hours (`||A||_1 = 1e300` asks for about `1e299`); `expm` of a dense `A`
/// scales and squares instead.
pub(crate) const MAX_PRODUCTS: f64 = 1e9;

/// Condition (3.13) of Al-Mohy & Higham (2011): `||tA||_1 <= 2 ell p_max (p_max + 3) theta_mmax
/// / (n0 m_max)`, under which the choice from `||tA||_1` alone costs no more than the estimates.
fn condition_3_13(norm: f64, n0: usize, precision: Precision) -> bool {
    let p = p_max(M_MAX) as f64;
    let bound = 2.0 * ESTIMATE_COLUMNS as f64 * p * (p + 3.0) * theta(precision, M_MAX)
        / (n0.max(1) as f64 * M_MAX as f64);
    norm <= bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_max_of_55_is_8() {
        assert_eq!(p_max(55), 8);
        for m in 1..=55 {
            let p = p_max(m);
            assert!(p * (p - 1) <= m + 1 && (p + 1) * p > m + 1);
        }
    }

    #[test]
    fn thetas_increase_and_match_the_published_digits() {
        for prec in [Precision::Double, Precision::Single] {
            for m in 1..M_MAX {
                assert!(theta(prec, m) < theta(prec, m + 1));
            }
        }
        // Al-Mohy & Higham 2011, Table 3.1 (two significant digits).
        for (m, d, s) in [
            (5, 2.4e-3, 1.3e-1),
            (10, 1.4e-1, 1.0),
            (20, 1.4, 3.6),
            (30, 3.5, 6.3),
            (55, 9.9, 13.0),
        ] {
            assert!(
                (theta(Precision::Double, m) / d - 1.0).abs() < 0.05,
                "m={m}"
            );
            assert!(
                (theta(Precision::Single, m) / s - 1.0).abs() < 0.05,
                "m={m}"
            );
        }
    }
}

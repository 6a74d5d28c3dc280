//! Norms and traces of operators known only through products: the block 1-norm estimator of
//! Higham & Tisseur (2000) applied to powers `(A - mu I)^p`, and the Hutch++ trace estimator
//! (Meyer, Musco, Musco & Woodruff 2021). Both draw their random vectors from a fixed-seed
//! generator, so results are reproducible.

use ndarray::{Array2, ArrayView2, Zip, s};

use super::operator::{LinearOperator, nan_max};
use crate::error::Result;
use crate::scalar::{RealScalar, Scalar};

/// A small deterministic generator (xorshift64*): reproducible random signs and values.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `+1` or `-1` with equal probability.
    pub(crate) fn sign(&mut self) -> f64 {
        if self.next_u64() >> 63 == 0 {
            1.0
        } else {
            -1.0
        }
    }
}

/// `y = (A - mu I)^p x`, through `p` products (with `p = 0`: `y = x`).
fn apply_power<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    op: &Op,
    mu: S,
    p: usize,
    adjoint: bool,
    x: ArrayView2<S>,
) -> Result<Array2<S>> {
    let mut cur = x.to_owned();
    let mut next = Array2::zeros(x.raw_dim());
    let shift = if adjoint { mu.conj() } else { mu };
    for _ in 0..p {
        if adjoint {
            op.apply_adjoint(cur.view(), next.view_mut())?;
        } else {
            op.apply(cur.view(), next.view_mut())?;
        }
        Zip::from(&mut next)
            .and(&cur)
            .for_each(|y, &v| *y -= shift * v);
        std::mem::swap(&mut cur, &mut next);
    }
    Ok(cur)
}

/// Columns of the 1-norm estimator's blocks.
const ESTIMATOR_COLUMNS: usize = 2;
/// Iterations of the estimator (Higham & Tisseur 2000 and scipy's `onenormest` use 5).
const ESTIMATOR_ITERATIONS: usize = 5;

/// `||(A - mu I)^p||_1`: exact (through the identity) for orders up to `4 t`, where that costs
/// about as much as the estimate, otherwise estimated by Higham & Tisseur (2000), Algorithm 2.4,
/// with `t = 2` columns. The estimate is a lower bound, almost always within a factor 3.
pub(crate) fn norm1_power<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    op: &Op,
    mu: S,
    p: usize,
    rng: &mut Rng,
) -> Result<f64> {
    let n = op.shape().0;
    if n == 0 {
        return Ok(0.0);
    }
    if n <= 4 * ESTIMATOR_COLUMNS {
        let eye = Array2::from_shape_fn((n, n), |(i, j)| if i == j { S::one() } else { S::zero() });
        let y = apply_power(op, mu, p, false, eye.view())?;
        // NaN (a power that overflowed, inf - inf) counts as infinity: ignoring it would
        // underestimate the norm, and with it the number of Taylor steps.
        return Ok(column_norms(y.view()).into_iter().fold(0.0, nan_max));
    }
    let t = ESTIMATOR_COLUMNS;
    let real = is_real::<S>();
    // Starting block: a column of ones and random +-1 columns, each scaled to unit 1-norm.
    let inv_n = 1.0 / n as f64;
    let mut x = Array2::from_shape_fn((n, t), |(_, j)| {
        S::from_f64(if j == 0 { inv_n } else { 0.0 })
    });
    for j in 1..t {
        loop {
            for i in 0..n {
                x[[i, j]] = S::from_f64(rng.sign() * inv_n);
            }
            if !(0..j).any(|c| parallel_columns(x.view(), j, x.view(), c)) {
                break;
            }
        }
    }
    let mut est_old = 0.0;
    let mut best_index: Option<usize> = None;
    let mut history: Vec<usize> = Vec::new();
    let mut s_old: Option<Array2<S>> = None;
    let mut est = 0.0;
    for k in 1..=ESTIMATOR_ITERATIONS + 1 {
        let y = apply_power(op, mu, p, false, x.view())?;
        let norms = column_norms(y.view());
        let (jmax, &ymax) = norms
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("t >= 1 columns");
        est = ymax;
        if !est.is_finite() {
            // A product overflowed (NaN from inf - inf or 0 * inf counts too): the norm is
            // beyond any the Taylor steps could take.
            return Ok(f64::INFINITY);
        }
        if k >= 2 && est <= est_old {
            est = est_old;
            break;
        }
        if est > est_old || k == 2 {
            best_index = if k >= 2 {
                history.get(history.len() - t + jmax).copied()
            } else {
                None
            };
        }
        est_old = est;
        if k > ESTIMATOR_ITERATIONS {
            break;
        }
        // S = sign(Y); for real data, columns parallel to earlier ones are resampled.
        let mut sgn = y.mapv(sign);
        if real {
            if let Some(old) = &s_old {
                if (0..t).all(|j| (0..t).any(|c| parallel_columns(sgn.view(), j, old.view(), c))) {
                    break;
                }
            }
            for j in 0..t {
                let mut tries = 0;
                while tries < 100
                    && ((0..j).any(|c| parallel_columns(sgn.view(), j, sgn.view(), c))
                        || s_old.as_ref().is_some_and(|old| {
                            (0..t).any(|c| parallel_columns(sgn.view(), j, old.view(), c))
                        }))
                {
                    for i in 0..n {
                        sgn[[i, j]] = S::from_f64(rng.sign());
                    }
                    tries += 1;
                }
            }
        }
        let z = apply_power(op, mu, p, true, sgn.view())?;
        s_old = Some(sgn);
        // h_i = ||Z(i, :)||_inf: the most promising unit vectors.
        let h: Vec<f64> = z
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.modulus().to_f64()).fold(0.0, f64::max))
            .collect();
        let hmax = h.iter().cloned().fold(0.0, f64::max);
        if k >= 2 && best_index.is_some_and(|b| h[b] == hmax) {
            break;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| h[b].total_cmp(&h[a]));
        if order[..t].iter().all(|i| history.contains(i)) {
            break;
        }
        let fresh: Vec<usize> = order
            .into_iter()
            .filter(|i| !history.contains(i))
            .take(t)
            .collect();
        if fresh.len() < t {
            break;
        }
        x.fill(S::zero());
        for (j, &i) in fresh.iter().enumerate() {
            x[[i, j]] = S::one();
        }
        history.extend(fresh);
    }
    Ok(est)
}

/// Whether `S` is a real type (complex types hold two reals).
fn is_real<S: Scalar>() -> bool {
    std::mem::size_of::<S>() == std::mem::size_of::<S::Real>()
}

/// `sign(y) = y / |y|`, with `sign(0) = 1`.
fn sign<S: Scalar>(y: S) -> S {
    let m = y.modulus();
    if m.to_f64() == 0.0 {
        S::one()
    } else {
        y.scale(S::Real::from_f64(1.0) / m)
    }
}

/// Whether column `j` of `a` equals column `c` of `b` or its negative (for sign vectors).
fn parallel_columns<S: Scalar>(a: ArrayView2<S>, j: usize, b: ArrayView2<S>, c: usize) -> bool {
    let (x, y) = (a.column(j), b.column(c));
    x.iter().zip(y.iter()).all(|(&u, &v)| u == v) || x.iter().zip(y.iter()).all(|(&u, &v)| u == -v)
}

fn column_norms<S: Scalar>(y: ArrayView2<S>) -> Vec<f64> {
    y.columns()
        .into_iter()
        .map(|c| c.iter().map(|v| v.modulus().to_f64()).sum())
        .collect()
}

/// Queries of the Hutch++ trace estimator per block (3 blocks of this many products).
const TRACE_QUERIES: usize = 5;

/// `trace(A)`: exact through the identity for small orders, otherwise the Hutch++ estimate with
/// `3 m` products, `m = 5` (Meyer et al. 2021): the trace of `A` on a sketched range `Q` plus a
/// Hutchinson estimate on its complement.
pub(crate) fn estimate_trace<S: Scalar, Op: LinearOperator<S> + ?Sized>(
    op: &Op,
    rng: &mut Rng,
) -> Result<S> {
    let n = op.shape().0;
    let m = TRACE_QUERIES;
    let mut trace = S::zero();
    if n <= 3 * m {
        let eye = Array2::from_shape_fn((n, n), |(i, j)| if i == j { S::one() } else { S::zero() });
        let mut y = Array2::zeros((n, n));
        op.apply(eye.view(), y.view_mut())?;
        for i in 0..n {
            trace += y[[i, i]];
        }
        return Ok(trace);
    }
    let signs = |rng: &mut Rng| Array2::from_shape_fn((n, m), |_| S::from_f64(rng.sign()));
    let sk = signs(rng);
    let mut q = Array2::zeros((n, m));
    op.apply(sk.view(), q.view_mut())?;
    orthonormalize(&mut q);
    let mut aq = Array2::zeros((n, m));
    op.apply(q.view(), aq.view_mut())?;
    for j in 0..m {
        trace += dot(q.column(j), aq.column(j));
    }
    // G - Q Q^* G, then the Hutchinson average over its columns.
    let mut g = signs(rng);
    for _ in 0..2 {
        for c in 0..m {
            for j in 0..m {
                let coef = dot(q.column(j), g.column(c));
                let qj = q.column(j).to_owned();
                Zip::from(g.column_mut(c))
                    .and(&qj)
                    .for_each(|x, &y| *x -= coef * y);
            }
        }
    }
    let mut ag = Array2::zeros((n, m));
    op.apply(g.view(), ag.view_mut())?;
    let mut hutch = S::zero();
    for c in 0..m {
        hutch += dot(g.column(c), ag.column(c));
    }
    Ok(trace + hutch.scale(S::Real::from_f64(1.0 / m as f64)))
}

/// `<x, y> = sum conj(x_i) y_i`.
fn dot<S: Scalar>(x: ndarray::ArrayView1<S>, y: ndarray::ArrayView1<S>) -> S {
    x.iter()
        .zip(y.iter())
        .fold(S::zero(), |acc, (&a, &b)| acc + a.conj() * b)
}

/// Modified Gram-Schmidt, twice, on the columns; columns that vanish are set to zero.
fn orthonormalize<S: Scalar>(q: &mut Array2<S>) {
    let m = q.ncols();
    for j in 0..m {
        for _ in 0..2 {
            for i in 0..j {
                let (done, mut rest) = q.view_mut().split_at(ndarray::Axis(1), j);
                let qi = done.column(i);
                let coef = dot(qi, rest.column(0));
                Zip::from(rest.column_mut(0))
                    .and(&qi)
                    .for_each(|x, &y| *x -= coef * y);
            }
        }
        let norm = q
            .column(j)
            .iter()
            .map(|v| v.modulus().to_f64().powi(2))
            .sum::<f64>()
            .sqrt();
        let mut col = q.slice_mut(s![.., j]);
        if norm > 0.0 {
            let inv = S::Real::from_f64(1.0 / norm);
            col.mapv_inplace(|v| v.scale(inv));
        } else {
            col.fill(S::zero());
        }
    }
}

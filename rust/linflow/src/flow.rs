//! Flows of the linear ODE `x' = A x`, whose exact solution is `x(t) = exp(tA) x(0)`.
//!
//! The matrix `B = exp(h A)` maps every state `h` forward in time exactly, so the solution on a
//! uniform grid `t_k = t_0 + k h` is the sequence of products `x_{k+1} = B x_k`, and a whole set
//! of states (the rows of a matrix `X`) moves in one product `X B^T`.
//!
//! **Drift.** The computed `B` carries a rounding error of order `u ||B||` (`u` the unit
//! roundoff), and `k` products with it multiply that error by `k`: plain stepping loses about
//! `k u` after `k` steps, far more than the conditioning of the problem (`u t ||A||`) when the
//! step `h ||A||` is small. This module therefore re-anchors: every [`BLOCK`]-th grid state (an
//! anchor) is computed without stepping, and at most `BLOCK - 1` plain steps separate any grid
//! point from its anchor.
//!
//! - Many states (where an exponential per anchor costs little next to the products): anchor
//!   `j` is `exp(j L h A) x_0`, one exponential each, as accurate as the direct solution.
//! - Otherwise: anchor `j` is anchor `j - 2^q` times `E_q = exp(2^q L h A)`, with `2^q` the
//!   lowest set bit of `j` (capped at the stride that keeps every chain within about `L`
//!   products), each `E_q` computed by its own scaling and squaring, not by squaring `B`
//!   (which would carry `B`'s error along).
//!
//! The error then stays at the size of the direct `exp(t_k A) x_0` however many steps the grid
//! has. `benches/bench_flow.py` measures this against plain stepping, compensated (Kahan)
//! stepping and anchors on powers squared from `exp(L h A)`.
//!
//! The grid is stepped outward from its time nearest 0 (forward for later times, backward
//! for earlier ones), where the state is known best: stepping forward from a far negative time
//! would carry the error of a large, fast-decaying component into the later states.
//!
//! Grids that are not uniform get one exponential per time, computed in parallel for orders up
//! to 64 (above that one at a time, with BLAS's own threads).

use crate::dense::mat_mul;
use ndarray::{
    Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2, ArrayViewMut3, Axis, s,
};
use num_traits::{Float, Zero};
use rayon::prelude::*;

use crate::error::{Error, Result, try_zeros};
use crate::expm::Expm;
use crate::scalar::{RealScalar, Scalar};

/// Steps between two anchors on a uniform grid: a grid point is at most `BLOCK - 1` plain steps
/// from an exactly anchored state. A power of two, so that the anchor times `2^q BLOCK h` are
/// exact multiples of `h`.
pub const BLOCK: usize = 32;

/// Largest system order stepped by the scalar kernel (one state at a time, kept in registers);
/// larger systems step all states at once with a matrix product (BLAS).
const SMALL: usize = 8;

/// Below about this many flops a thread hand-off costs more than it saves.
const PARALLEL_FLOPS: usize = 1 << 18;

/// Largest system order whose per-time or per-block work runs in rayon's workers. Above it the
/// work goes one item at a time and each item's products, LU and solve are split over rayon's
/// pool (`crate::dense`), as in [`expm_batch_into`](crate::expm::expm_batch_into). (OpenBLAS's
/// threaded drivers, used before linflow kept OpenBLAS on one thread, kept tables of some MiB on
/// the stack of the calling thread, which overflowed rayon's default 2 MiB workers.)
const BLAS_THREADED_MIN: usize = 64;

/// A grid counts as uniform when every time is within this many unit roundoffs (times the
/// largest `|t|`) of `t_0 + k h`: `numpy.linspace` and `numpy.arange` grids stay within 4
/// (measured over random ranges and lengths, float64 and float32).
const GRID_TOLERANCE: f64 = 16.0;

/// The one-step map `B = exp(dt A)` of `x' = A x`, with the generator `A` kept so that long
/// runs can be re-anchored on exactly computed powers.
///
/// A state `x` (length `n`) moves to `B x`; many states, the rows of an `(m, n)` matrix `X`
/// (numpy's layout), move to `X B^T` in one product.
///
/// # Example
///
/// ```
/// use linflow::flow::Propagator;
/// use ndarray::array;
///
/// // x' = diag(-1, 0.5) x from (1, 0.4), dt = 0.1: x(t) = (e^-t, 0.4 e^(t/2)).
/// let p = Propagator::new(array![[-1.0_f64, 0.0], [0.0, 0.5]].view(), 0.1)?;
/// let x1 = p.step(array![1.0, 0.4].view())?;
/// assert!((x1[0] - (-0.1_f64).exp()).abs() < 1e-16);
/// let traj = p.iterate(array![1.0, 0.4].view(), 20)?; // t = 0, 0.1, ..., 2
/// assert_eq!(traj.dim(), (21, 2));
/// assert!((traj[[20, 1]] - 0.4 * 1f64.exp()).abs() < 1e-14);
/// # Ok::<(), linflow::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Propagator<S: Scalar> {
    a: Array2<S>,
    dt: S::Real,
    b: Array2<S>,
}

impl<S: Scalar> Propagator<S> {
    /// The propagator `B = exp(dt A)` of the square matrix `a` over the time step `dt` (any
    /// sign: a negative `dt` maps states back in time).
    ///
    /// # Errors
    ///
    /// [`Error::NotSquare`] if `a` is not square, [`Error::NonFinite`] if `a` or `dt` is not
    /// finite.
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::flow::Propagator;
    /// use ndarray::array;
    ///
    /// // The rotation generator: exp(dt [[0, -1], [1, 0]]) turns states by the angle dt.
    /// let p = Propagator::new(array![[0.0_f64, -1.0], [1.0, 0.0]].view(), 0.25)?;
    /// assert!((p.matrix()[[1, 0]] - 0.25_f64.sin()).abs() < 1e-16);
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn new(a: ArrayView2<S>, dt: S::Real) -> Result<Self> {
        check_square(a)?;
        check_times(&[dt])?;
        let b = exp_scaled(a, dt)?;
        Ok(Self {
            a: a.to_owned(),
            dt,
            b,
        })
    }

    /// The matrix `B = exp(dt A)`.
    pub fn matrix(&self) -> ArrayView2<'_, S> {
        self.b.view()
    }

    /// The generator `A`.
    pub fn generator(&self) -> ArrayView2<'_, S> {
        self.a.view()
    }

    /// The time step `dt`.
    pub fn dt(&self) -> S::Real {
        self.dt
    }

    /// The order `n` of the system.
    pub fn dim(&self) -> usize {
        self.a.nrows()
    }

    /// One step: the state `x` at time `t` moved to time `t + dt`, `B x`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `x` does not have `n` entries, [`Error::NonFinite`] if it
    /// holds NaN or infinity.
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::flow::Propagator;
    /// use ndarray::array;
    ///
    /// let p = Propagator::new(array![[0.0_f64, -1.0], [1.0, 0.0]].view(), std::f64::consts::FRAC_PI_2)?;
    /// let y = p.step(array![1.0, 0.0].view())?; // a quarter turn
    /// assert!(y[0].abs() < 1e-16 && (y[1] - 1.0).abs() < 1e-16);
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn step(&self, x: ArrayView1<S>) -> Result<Array1<S>> {
        let y = self.step_many(x.insert_axis(Axis(0)))?;
        Ok(y.index_axis_move(Axis(0), 0))
    }

    /// One step of many states at once: the rows of `x` (`(m, n)`) moved `dt` forward, `x B^T`.
    ///
    /// # Errors
    ///
    /// As [`Propagator::step`], for rows of the wrong length.
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::flow::Propagator;
    /// use ndarray::array;
    ///
    /// let p = Propagator::new(array![[-1.0_f64, 0.0], [0.0, -2.0]].view(), 1.0)?;
    /// let y = p.step_many(array![[1.0, 1.0], [2.0, 0.0]].view())?;
    /// assert!((y[[0, 1]] - (-2.0_f64).exp()).abs() < 1e-16);
    /// assert!((y[[1, 0]] - 2.0 * (-1.0_f64).exp()).abs() < 1e-16);
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn step_many(&self, x: ArrayView2<S>) -> Result<Array2<S>> {
        check_states(self.dim(), x)?;
        let mut y = Array2::zeros(x.raw_dim());
        map_rows(&self.b, x, y.view_mut());
        Ok(y)
    }

    /// The states `x(k dt)`, `k = 0, ..., steps`, of the trajectory from `x0`: shape
    /// `(steps + 1, n)`, row `k` being `B^k x0` to working accuracy, re-anchored so that the
    /// error does not grow with the number of steps (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// As [`Propagator::step`].
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::flow::Propagator;
    /// use ndarray::array;
    ///
    /// // 100000 steps of a rotation by 2 pi / 1000: 100 full turns, back at the start.
    /// let h = 2.0 * std::f64::consts::PI / 1000.0;
    /// let p = Propagator::new(array![[0.0_f64, -1.0], [1.0, 0.0]].view(), h)?;
    /// let traj = p.iterate(array![1.0, 0.0].view(), 100_000)?;
    /// let end = traj.row(100_000);
    /// assert!((end[0] - 1.0).abs() < 1e-13 && end[1].abs() < 1e-12);
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn iterate(&self, x0: ArrayView1<S>, steps: usize) -> Result<Array2<S>> {
        let out = self.iterate_many(x0.insert_axis(Axis(0)), steps)?;
        Ok(out.index_axis_move(Axis(0), 0))
    }

    /// [`Propagator::iterate`] for many initial states, the rows of `x0` (`(m, n)`): shape
    /// `(m, steps + 1, n)`.
    ///
    /// # Errors
    ///
    /// As [`Propagator::step_many`].
    /// [`Error::TooLarge`] if the `(m, steps + 1, n)` output cannot be allocated.
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::flow::Propagator;
    /// use ndarray::array;
    ///
    /// let p = Propagator::new(array![[-1.0_f64, 0.0], [0.0, -2.0]].view(), 0.05)?;
    /// let traj = p.iterate_many(array![[1.0, 1.0], [-1.0, 2.0]].view(), 100)?;
    /// assert_eq!(traj.dim(), (2, 101, 2));
    /// assert!((traj[[1, 100, 1]] - 2.0 * (-10.0_f64).exp()).abs() < 1e-18);
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn iterate_many(&self, x0: ArrayView2<S>, steps: usize) -> Result<Array3<S>> {
        let count = steps.checked_add(1).ok_or_else(|| Error::TooLarge {
            shape: vec![x0.nrows(), steps, x0.ncols()],
        })?;
        let mut out = try_zeros((x0.nrows(), count, x0.ncols()))?;
        self.iterate_into(x0, out.view_mut())?;
        Ok(out)
    }

    /// [`Propagator::iterate_many`] into a caller's buffer `out` of shape `(m, steps + 1, n)`
    /// (the number of steps is read from it).
    ///
    /// # Errors
    ///
    /// As [`Propagator::step_many`], and [`Error::ShapeMismatch`] for a wrong `out` shape.
    ///
    /// # Example
    ///
    /// ```
    /// use linflow::flow::Propagator;
    /// use ndarray::{array, Array3};
    ///
    /// let p = Propagator::new(array![[0.0_f32, 1.0], [-1.0, 0.0]].view(), 0.5)?;
    /// let mut out = Array3::zeros((1, 4, 2));
    /// p.iterate_into(array![[1.0, 0.0]].view(), out.view_mut())?;
    /// assert!((out[[0, 3, 0]] - 1.5_f32.cos()).abs() < 1e-6);
    /// # Ok::<(), linflow::Error>(())
    /// ```
    pub fn iterate_into(&self, x0: ArrayView2<S>, mut out: ArrayViewMut3<S>) -> Result<()> {
        check_states(self.dim(), x0)?;
        let (m, count, n) = out.dim();
        if (m, n) != x0.dim() || count == 0 {
            return Err(Error::ShapeMismatch {
                expected: vec![x0.nrows(), count.max(1), x0.ncols()],
                found: out.shape().to_vec(),
            });
        }
        out.index_axis_mut(Axis(1), 0).assign(&x0);
        sweep(self.a.view(), self.dt, &self.b, out)
    }
}

/// The trajectory `x(t_k) = exp(t_k A) x0` of `x' = A x` at the given times, shape
/// `(len(times), n)`.
///
/// Times may be in any order, of any sign, uniform or not. When the sorted times form a uniform
/// grid (to rounding), the states are stepped with one propagator outward from the grid time
/// nearest to 0 (forward for later times, backward for earlier ones) and re-anchored on exact
/// powers, so the error stays at working accuracy over any number of steps; otherwise each time
/// gets its own exponential (in parallel).
///
/// # Errors
///
/// [`Error::NotSquare`] if `a` is not square, [`Error::ShapeMismatch`] if `x0` does not have
/// `n` entries, [`Error::NonFinite`] if `a`, `x0` or a time is not finite.
/// [`Error::TooLarge`] if the `(m, len(times), n)` output cannot be allocated.
///
/// # Example
///
/// ```
/// use linflow::flow::trajectory;
/// use ndarray::array;
///
/// // The damped spiral x' = [[-0.5, 1], [-1, -0.5]] x from (2, 0):
/// // x(t) = 2 e^(-t/2) (cos t, -sin t).
/// let a = array![[-0.5_f64, 1.0], [-1.0, -0.5]];
/// let times: Vec<f64> = (0..=200).map(|k| 0.05 * k as f64).collect();
/// let x = trajectory(a.view(), array![2.0, 0.0].view(), &times)?;
/// for (k, &t) in times.iter().enumerate() {
///     let r = 2.0 * (-t / 2.0).exp();
///     assert!((x[[k, 0]] - r * t.cos()).abs() < 1e-14);
///     assert!((x[[k, 1]] + r * t.sin()).abs() < 1e-14);
/// }
/// // Unsorted and negative times work too.
/// let back = trajectory(a.view(), array![2.0, 0.0].view(), &[1.0, -1.0])?;
/// assert!((back[[1, 0]] - 2.0 * 0.5_f64.exp() * 1f64.cos()).abs() < 1e-14);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn trajectory<S: Scalar>(
    a: ArrayView2<S>,
    x0: ArrayView1<S>,
    times: &[S::Real],
) -> Result<Array2<S>> {
    let out = trajectory_many(a, x0.insert_axis(Axis(0)), times)?;
    Ok(out.index_axis_move(Axis(0), 0))
}

/// [`trajectory`] from many initial states, the rows of `x0` (`(m, n)`): shape
/// `(m, len(times), n)`, `out[i, k]` being `exp(t_k A) x0[i]`.
///
/// # Errors
///
/// As [`trajectory`].
///
/// # Example
///
/// ```
/// use linflow::flow::trajectory_many;
/// use ndarray::array;
///
/// // Eight initial conditions of the damped spiral at once.
/// let a = array![[-0.5_f64, 1.0], [-1.0, -0.5]];
/// let x0 = array![[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0],
///                 [1.5, 1.5], [-1.5, 1.5], [-1.5, -1.5], [1.5, -1.5]];
/// let times: Vec<f64> = (0..=200).map(|k| 0.05 * k as f64).collect();
/// let x = trajectory_many(a.view(), x0.view(), &times)?;
/// assert_eq!(x.dim(), (8, 201, 2));
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn trajectory_many<S: Scalar>(
    a: ArrayView2<S>,
    x0: ArrayView2<S>,
    times: &[S::Real],
) -> Result<Array3<S>> {
    let mut out = try_zeros((x0.nrows(), times.len(), x0.ncols()))?;
    trajectory_into(a, x0, times, out.view_mut())?;
    Ok(out)
}

/// [`trajectory_many`] into a caller's buffer of shape `(m, len(times), n)`.
///
/// # Errors
///
/// As [`trajectory`], and [`Error::ShapeMismatch`] for a wrong `out` shape.
///
/// # Example
///
/// ```
/// use linflow::flow::trajectory_into;
/// use ndarray::{array, Array3};
///
/// let a = array![[-1.0_f64, 0.0], [0.0, -2.0]];
/// let mut out = Array3::zeros((1, 3, 2));
/// trajectory_into(a.view(), array![[1.0, 1.0]].view(), &[0.0, 1.0, 2.0], out.view_mut())?;
/// assert!((out[[0, 2, 1]] - (-4.0_f64).exp()).abs() < 1e-17);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn trajectory_into<S: Scalar>(
    a: ArrayView2<S>,
    x0: ArrayView2<S>,
    times: &[S::Real],
    mut out: ArrayViewMut3<S>,
) -> Result<()> {
    check_square(a)?;
    check_states(a.nrows(), x0)?;
    check_times(times)?;
    let (m, n) = x0.dim();
    if out.dim() != (m, times.len(), n) {
        return Err(Error::ShapeMismatch {
            expected: vec![m, times.len(), n],
            found: out.shape().to_vec(),
        });
    }
    if out.is_empty() {
        return Ok(());
    }
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&i, &j| times[i].partial_cmp(&times[j]).expect("finite times"));
    let sorted: Vec<S::Real> = order.iter().map(|&i| times[i]).collect();
    let Some(h) = uniform_spacing(&sorted) else {
        return each_time(a, x0, times, out);
    };
    if order.iter().enumerate().all(|(k, &i)| k == i) {
        uniform_grid(a, x0, &sorted, h, out)
    } else if order.iter().rev().enumerate().all(|(k, &i)| k == i) {
        uniform_grid(a, x0, &sorted, h, out.slice_mut(s![.., ..;-1, ..]))
    } else {
        // Any other order: compute in sorted order, then put each time where it was asked.
        let mut tmp = try_zeros((m, times.len(), n))?;
        uniform_grid(a, x0, &sorted, h, tmp.view_mut())?;
        for (k, &i) in order.iter().enumerate() {
            out.index_axis_mut(Axis(1), i)
                .assign(&tmp.index_axis(Axis(1), k));
        }
        Ok(())
    }
}

/// Every point moved `dt` along the flow: the rows of `points` (`(m, n)`) mapped to
/// `points exp(dt A)^T` in one product.
///
/// # Errors
///
/// As [`Propagator::new`] and [`Propagator::step_many`].
///
/// # Example
///
/// ```
/// use linflow::flow::flow_map;
/// use ndarray::array;
///
/// // A grid of states moved 0.1 forward under x' = diag(-1, 0.5) x.
/// let pts = array![[-1.0_f64, -1.0], [0.0, 1.0], [1.0, 0.2]];
/// let moved = flow_map(array![[-1.0, 0.0], [0.0, 0.5]].view(), pts.view(), 0.1)?;
/// assert!((moved[[2, 0]] - (-0.1_f64).exp()).abs() < 1e-16);
/// assert!((moved[[1, 1]] - 0.05_f64.exp()).abs() < 1e-16);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn flow_map<S: Scalar>(
    a: ArrayView2<S>,
    points: ArrayView2<S>,
    dt: S::Real,
) -> Result<Array2<S>> {
    check_square(a)?;
    check_states(a.nrows(), points)?;
    Propagator::new(a, dt)?.step_many(points)
}

/// The propagators `exp(dt_k A)` for every time step in `dts`, shape `(len(dts), n, n)`,
/// computed in parallel.
///
/// # Errors
///
/// [`Error::NotSquare`] if `a` is not square, [`Error::NonFinite`] if `a` or a step is not
/// finite.
/// [`Error::TooLarge`] if the `(len(dts), n, n)` output cannot be allocated.
///
/// # Example
///
/// ```
/// use linflow::flow::propagators;
/// use ndarray::array;
///
/// let b = propagators(array![[0.0_f64, -1.0], [1.0, 0.0]].view(), &[0.0, 0.5, 1.0])?;
/// assert_eq!(b[[0, 0, 0]], 1.0);
/// assert!((b[[2, 1, 0]] - 1f64.sin()).abs() < 1e-16);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn propagators<S: Scalar>(a: ArrayView2<S>, dts: &[S::Real]) -> Result<Array3<S>> {
    let n = a.nrows();
    let mut out = try_zeros((dts.len(), n, a.ncols()))?;
    propagators_into(a, dts, out.view_mut())?;
    Ok(out)
}

/// [`propagators`] into a caller's buffer of shape `(len(dts), n, n)`.
///
/// # Errors
///
/// As [`propagators`], and [`Error::ShapeMismatch`] for a wrong `out` shape.
///
/// # Example
///
/// ```
/// use linflow::flow::propagators_into;
/// use ndarray::{array, Array3};
///
/// let mut out = Array3::zeros((2, 1, 1));
/// propagators_into(array![[2.0_f64]].view(), &[0.5, -0.5], out.view_mut())?;
/// assert!((out[[1, 0, 0]] - (-1.0_f64).exp()).abs() < 1e-16);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn propagators_into<S: Scalar>(
    a: ArrayView2<S>,
    dts: &[S::Real],
    mut out: ArrayViewMut3<S>,
) -> Result<()> {
    check_square(a)?;
    check_times(dts)?;
    let n = a.nrows();
    if out.dim() != (dts.len(), n, n) {
        return Err(Error::ShapeMismatch {
            expected: vec![dts.len(), n, n],
            found: out.shape().to_vec(),
        });
    }
    // As `expm_batch_into` on the stack of `dt_k A`, without forming that stack: each worker
    // scales `A` into its own workspace, so the call holds the output and small per-thread
    // buffers only.
    let one = |work: &mut (Expm<S>, Array2<S>), (slot, &dt): (ArrayViewMut2<S>, &S::Real)| {
        let (expm_work, scaled_a) = work;
        exp_scaled_into(expm_work, a, dt, scaled_a, slot)
    };
    let init = || (Expm::new(), Array2::zeros((n, n)));
    let serial = dts.len() < 2 || dts.len() * n * n * n < 4096 || n > BLAS_THREADED_MIN;
    if serial {
        let mut work = init();
        out.outer_iter_mut()
            .zip(dts)
            .try_for_each(|item| one(&mut work, item))
    } else {
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(dts.par_iter())
            .try_for_each_init(init, one)
    }
}

/// The zero-order-hold discretisation of `x' = A x + B u` over the step `dt`: the pair
/// `(A_d, B_d) = (exp(dt A), int_0^dt exp(s A) ds B)` of the discrete system
/// `x_{k+1} = A_d x_k + B_d u_k` whose input `u` is held constant over each step.
///
/// Both come from one exponential of the block matrix
/// `exp(dt [[A, B], [0, 0]]) = [[A_d, B_d], [0, I]]` (Van Loan 1978), as
/// `scipy.signal.cont2discrete(..., method="zoh")` computes them.
///
/// # Errors
///
/// [`Error::NotSquare`] if `a` is not square, [`Error::ShapeMismatch`] if `b` does not have
/// `n` rows, [`Error::NonFinite`] for NaN or infinity in `a`, `b` or `dt`.
/// [`Error::TooLarge`] if the `(n + k)^2` block matrix cannot be allocated.
///
/// # Example
///
/// ```
/// use linflow::flow::discretize;
/// use ndarray::array;
///
/// // x' = -x + u: A_d = e^-dt, B_d = 1 - e^-dt.
/// let (ad, bd) = discretize(array![[-1.0_f64]].view(), array![[1.0]].view(), 0.5)?;
/// assert!((ad[[0, 0]] - (-0.5_f64).exp()).abs() < 1e-16);
/// assert!((bd[[0, 0]] + (-0.5_f64).exp_m1()).abs() < 1e-16);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn discretize<S: Scalar>(
    a: ArrayView2<S>,
    b: ArrayView2<S>,
    dt: S::Real,
) -> Result<(Array2<S>, Array2<S>)> {
    check_square(a)?;
    check_times(&[dt])?;
    let n = a.nrows();
    if b.nrows() != n {
        return Err(Error::ShapeMismatch {
            expected: vec![n, b.ncols()],
            found: b.shape().to_vec(),
        });
    }
    if !b.iter().all(|x| x.is_finite()) {
        return Err(Error::NonFinite);
    }
    let k = b.ncols();
    let size = n.checked_add(k).ok_or(Error::TooLarge {
        shape: vec![usize::MAX, usize::MAX],
    })?;
    let mut block = try_zeros((size, size))?;
    block.slice_mut(s![..n, ..n]).assign(&a);
    block.slice_mut(s![..n, n..]).assign(&b);
    let e = exp_scaled(block.view(), dt)?;
    Ok((
        e.slice(s![..n, ..n]).to_owned(),
        e.slice(s![..n, n..]).to_owned(),
    ))
}

/// A 2-D vector field on a grid, as mesh arrays of shape `(len(ys), len(xs))` (numpy's
/// `meshgrid` layout), ready for a quiver plot: at the point `(x[i, j], y[i, j])` the arrow is
/// `(u[i, j], v[i, j])`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorField<S: Scalar> {
    /// First coordinate of every grid point.
    pub x: Array2<S::Real>,
    /// Second coordinate of every grid point.
    pub y: Array2<S::Real>,
    /// First component of the arrow at every grid point.
    pub u: Array2<S>,
    /// Second component of the arrow at every grid point.
    pub v: Array2<S>,
}

/// The vector field of the 2-D system `x' = A x` on the grid `xs` x `ys`.
///
/// Without `dt` the arrows are the velocities `A p`; with `dt` they are the displacements
/// `exp(dt A) p - p` of every grid point `p` over the time `dt` (the picture the flow map draws).
/// The displacement is computed as `W A p` with `W = int_0^dt exp(s A) ds` (from the block
/// exponential of [`discretize`]), which keeps full relative accuracy for small `dt` where
/// forming `exp(dt A) p - p` would cancel.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if `a` is not `2 x 2`, [`Error::NonFinite`] for NaN or infinity in
/// `a`, the grid or `dt`, [`Error::TooLarge`] if the meshes cannot be allocated.
///
/// # Example
///
/// ```
/// use linflow::flow::vector_field;
/// use ndarray::array;
///
/// // The saddle x' = diag(-1, 0.5) x on the grid -1..1 step 0.2, moved by dt = 0.1.
/// let grid: Vec<f64> = (0..=10).map(|k| -1.0 + 0.2 * k as f64).collect();
/// let a = array![[-1.0, 0.0], [0.0, 0.5]];
/// let f = vector_field(a.view(), &grid, &grid, Some(0.1))?;
/// assert_eq!(f.u.dim(), (11, 11));
/// // At (1, 1): (e^-0.1 - 1, e^0.05 - 1).
/// assert!((f.u[[10, 10]] - (-0.1_f64).exp_m1()).abs() < 1e-16);
/// assert!((f.v[[10, 10]] - 0.05_f64.exp_m1()).abs() < 1e-16);
/// # Ok::<(), linflow::Error>(())
/// ```
pub fn vector_field<S: Scalar>(
    a: ArrayView2<S>,
    xs: &[S::Real],
    ys: &[S::Real],
    dt: Option<S::Real>,
) -> Result<VectorField<S>> {
    if a.dim() != (2, 2) {
        return Err(Error::ShapeMismatch {
            expected: vec![2, 2],
            found: a.shape().to_vec(),
        });
    }
    check_square(a)?;
    check_times(xs)?;
    check_times(ys)?;
    let map = match dt {
        None => a.to_owned(),
        Some(dt) => {
            let (_, w) = discretize(a, Array2::eye(2).view(), dt)?;
            w.dot(&a)
        }
    };
    let shape = (ys.len(), xs.len());
    let mesh = |f: &dyn Fn(usize, usize) -> S::Real| -> Result<Array2<S::Real>> {
        let mut m = try_zeros(shape)?;
        m.indexed_iter_mut().for_each(|((i, j), v)| *v = f(i, j));
        Ok(m)
    };
    let arrow = |row: usize| -> Result<Array2<S>> {
        let mut m = try_zeros(shape)?;
        m.indexed_iter_mut().for_each(|((i, j), v)| {
            *v = map[[row, 0]] * S::from_real(xs[j]) + map[[row, 1]] * S::from_real(ys[i]);
        });
        Ok(m)
    };
    Ok(VectorField {
        u: arrow(0)?,
        v: arrow(1)?,
        x: mesh(&|_, j| xs[j])?,
        y: mesh(&|i, _| ys[i])?,
    })
}

// ---------------------------------------------------------------- checks

fn check_square<S: Scalar>(a: ArrayView2<S>) -> Result<()> {
    let (rows, cols) = a.dim();
    if rows != cols {
        return Err(Error::NotSquare { rows, cols });
    }
    if !a.iter().all(|x| x.is_finite()) {
        return Err(Error::NonFinite);
    }
    Ok(())
}

/// States are the rows of `x`, each of length `n`, all finite.
fn check_states<S: Scalar>(n: usize, x: ArrayView2<S>) -> Result<()> {
    if x.ncols() != n {
        return Err(Error::ShapeMismatch {
            expected: vec![x.nrows(), n],
            found: x.shape().to_vec(),
        });
    }
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }
    Ok(())
}

fn check_times<R: RealScalar>(times: &[R]) -> Result<()> {
    if times.iter().all(|t| Float::is_finite(*t)) {
        Ok(())
    } else {
        Err(Error::NonFinite)
    }
}

// ---------------------------------------------------------------- kernels

/// `out = exp(t A)` with the workspaces of the caller (`scaled_a`: `n x n`), also where `t A`
/// overflows for a finite `A` and `t`: then `exp(t A) = exp(t A / 2^k)^(2^k)` with the smallest
/// `k` that keeps `t A / 2^k` finite (halving is exact), so huge norms give the overflow of
/// `exp` (inf, as `expm` gives it) rather than an error about non-finite input.
fn exp_scaled_into<S: Scalar>(
    work: &mut Expm<S>,
    a: ArrayView2<S>,
    t: S::Real,
    scaled_a: &mut Array2<S>,
    mut out: ArrayViewMut2<S>,
) -> Result<()> {
    let half = <S::Real as Scalar>::from_f64(0.5);
    let (mut f, mut k) = (t, 0u32);
    loop {
        scaled_a.zip_mut_with(&a, |s, &x| *s = x.scale(f));
        if scaled_a.iter().all(|x| x.is_finite()) || !a.iter().all(|x| x.is_finite()) {
            break;
        }
        // `|t| max |a_ij|` exceeds the largest float by the factor `2^excess`: start there.
        let big = a
            .iter()
            .map(|x| RealScalar::to_f64(x.modulus()))
            .fold(0.0, f64::max);
        let largest = RealScalar::to_f64(<S::Real as Float>::max_value());
        let excess = (big.log2() + RealScalar::to_f64(Float::abs(f)).log2() - largest.log2())
            .ceil()
            .max(1.0) as u32;
        for _ in 0..excess {
            f *= half;
        }
        k += excess;
    }
    work.compute_into(scaled_a.view(), out.view_mut())?;
    if k > 0 {
        let mut tmp = Array2::zeros(scaled_a.raw_dim());
        for _ in 0..k {
            if out.iter().all(|x| x.is_finite()) {
                mat_mul(S::one(), &out, &out, S::zero(), &mut tmp);
            } else {
                // An overflowed entry times an exact zero is a zero of the exact product (a
                // zero block stays zero), not the NaN of `inf * 0`.
                let n = out.nrows();
                for i in 0..n {
                    for j in 0..n {
                        let mut acc = S::zero();
                        for l in 0..n {
                            let (x, y) = (out[[i, l]], out[[l, j]]);
                            if x != S::zero() && y != S::zero() {
                                acc += x * y;
                            }
                        }
                        tmp[[i, j]] = acc;
                    }
                }
            }
            out.assign(&tmp);
        }
    }
    Ok(())
}

/// `exp(t A)` (see [`exp_scaled_into`]).
pub(crate) fn exp_scaled<S: Scalar>(a: ArrayView2<S>, t: S::Real) -> Result<Array2<S>> {
    let mut out = Array2::zeros(a.raw_dim());
    let mut scaled_a = Array2::zeros(a.raw_dim());
    exp_scaled_into(&mut Expm::new(), a, t, &mut scaled_a, out.view_mut())?;
    Ok(out)
}

/// `dst = src mat^T`: every row of `src` (one state) mapped by `mat`.
fn map_rows<S: Scalar>(mat: &Array2<S>, src: ArrayView2<S>, mut dst: ArrayViewMut2<S>) {
    let n = mat.nrows();
    if n <= SMALL {
        for (x, y) in src.outer_iter().zip(dst.outer_iter_mut()) {
            let mut cur = [S::zero(); SMALL];
            for (c, &v) in cur.iter_mut().zip(x.iter()) {
                *c = v;
            }
            store(y, &apply_small(mat, &cur));
        }
    } else {
        mat_mul(S::one(), &src, &mat.t(), S::zero(), &mut dst);
    }
}

/// `mat x` for `n <= SMALL`, `x` padded with zeros.
#[inline]
fn apply_small<S: Scalar>(mat: &Array2<S>, x: &[S; SMALL]) -> [S; SMALL] {
    let n = mat.nrows();
    let mut y = [S::zero(); SMALL];
    for (i, row) in mat.outer_iter().enumerate() {
        let mut acc = S::zero();
        for (&m, &v) in row.iter().zip(&x[..n]) {
            acc += m * v;
        }
        y[i] = acc;
    }
    y
}

#[inline]
fn store<S: Scalar>(mut dst: ndarray::ArrayViewMut1<S>, v: &[S; SMALL]) {
    for (d, &x) in dst.iter_mut().zip(v) {
        *d = x;
    }
}

/// Steps one state through the contiguous trajectory `tr` (`len * N` values, the state in
/// the first `N`): state `l` = `mat` state `l - 1`, with `mat` and the state in registers.
fn step_contiguous<S: Scalar, const N: usize>(mat: &Array2<S>, tr: &mut [S]) {
    let mut m = [[S::zero(); N]; N];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = mat[[i, j]];
        }
    }
    let (first, rest) = tr.split_at_mut(N);
    let mut cur = [S::zero(); N];
    cur.copy_from_slice(first);
    for next in rest.chunks_exact_mut(N) {
        let mut y = [S::zero(); N];
        for (yi, row) in y.iter_mut().zip(&m) {
            let mut acc = S::zero();
            for (&mij, &xj) in row.iter().zip(&cur) {
                acc += mij * xj;
            }
            *yi = acc;
        }
        next.copy_from_slice(&y);
        cur = y;
    }
}

/// [`step_contiguous`] for the order of `mat`, if `tr` is contiguous and `n <= SMALL`.
fn try_step_contiguous<S: Scalar>(mat: &Array2<S>, tr: &mut ArrayViewMut2<S>) -> bool {
    let n = mat.nrows();
    let Some(data) = tr.as_slice_mut() else {
        return false;
    };
    match n {
        1 => step_contiguous::<S, 1>(mat, data),
        2 => step_contiguous::<S, 2>(mat, data),
        3 => step_contiguous::<S, 3>(mat, data),
        4 => step_contiguous::<S, 4>(mat, data),
        5 => step_contiguous::<S, 5>(mat, data),
        6 => step_contiguous::<S, 6>(mat, data),
        7 => step_contiguous::<S, 7>(mat, data),
        8 => step_contiguous::<S, 8>(mat, data),
        _ => return false,
    }
    true
}

/// Steps the states in slot 0 of `chunk` (`(m, len, n)`) through the remaining slots:
/// `slot l = slot (l - 1) mat^T`.
fn step_chunk<S: Scalar>(mat: &Array2<S>, mut chunk: ArrayViewMut3<S>) {
    let (_, len, n) = chunk.dim();
    if n <= SMALL {
        for mut tr in chunk.outer_iter_mut() {
            if try_step_contiguous(mat, &mut tr) {
                continue;
            }
            let mut cur = [S::zero(); SMALL];
            for (c, &v) in cur.iter_mut().zip(tr.row(0).iter()) {
                *c = v;
            }
            for l in 1..len {
                cur = apply_small(mat, &cur);
                store(tr.row_mut(l), &cur);
            }
        }
    } else {
        for l in 1..len {
            let (before, mut after) = chunk.view_mut().split_at(Axis(1), l);
            map_rows(
                mat,
                before
                    .index_axis(Axis(1), l - 1)
                    .into_dimensionality()
                    .expect("2-D"),
                after.index_axis_mut(Axis(1), 0),
            );
        }
    }
}

/// `out[:, to] = out[:, from] mat^T` for `from < to`.
fn map_slot<S: Scalar>(mat: &Array2<S>, out: &mut ArrayViewMut3<S>, from: usize, to: usize) {
    let (before, mut after) = out.view_mut().split_at(Axis(1), to);
    map_rows(
        mat,
        before
            .index_axis(Axis(1), from)
            .into_dimensionality()
            .expect("2-D"),
        after.index_axis_mut(Axis(1), 0),
    );
}

// ---------------------------------------------------------------- grids

/// The spacing `h` of the ascending `sorted` times if they are `t_0 + k h` to rounding.
fn uniform_spacing<R: RealScalar>(sorted: &[R]) -> Option<R> {
    let count = sorted.len();
    if count < 2 {
        return None;
    }
    let f64_of = |t: R| RealScalar::to_f64(t);
    let (first, last) = (f64_of(sorted[0]), f64_of(sorted[count - 1]));
    let h = <R as Scalar>::from_f64((last - first) / (count - 1) as f64);
    let tol = GRID_TOLERANCE * f64_of(R::UNIT_ROUNDOFF) * first.abs().max(last.abs());
    let hf = f64_of(h);
    sorted
        .iter()
        .enumerate()
        .all(|(k, &t)| (first + k as f64 * hf - f64_of(t)).abs() <= tol)
        .then_some(h)
}

/// A uniform ascending grid `sorted` of spacing `h`: the state at the time nearest 0 from one
/// exponential, then sweeps forward and backward from it.
fn uniform_grid<S: Scalar>(
    a: ArrayView2<S>,
    x0: ArrayView2<S>,
    sorted: &[S::Real],
    h: S::Real,
    mut out: ArrayViewMut3<S>,
) -> Result<()> {
    let base = (0..sorted.len())
        .min_by(|&i, &j| {
            Float::abs(sorted[i])
                .partial_cmp(&Float::abs(sorted[j]))
                .expect("finite times")
        })
        .expect("a non-empty grid");
    let t = sorted[base];
    if t == S::Real::zero() {
        out.index_axis_mut(Axis(1), base).assign(&x0);
    } else {
        let e = exp_scaled(a, t)?;
        map_rows(&e, x0, out.index_axis_mut(Axis(1), base));
    }
    let step = |dt: S::Real, needed: bool| needed.then(|| exp_scaled(a, dt)).transpose();
    let forward = step(h, base + 1 < sorted.len())?;
    let backward = step(-h, base > 0)?;
    let finite = |b: &Option<Array2<S>>| b.iter().flatten().all(|x| x.is_finite());
    if !finite(&forward) || !finite(&backward) {
        // A step overflows: stepping would carry inf * 0 = NaN into states whose exact values
        // are finite. One exponential per time instead.
        return each_time(a, x0, sorted, out);
    }
    if let Some(b) = forward {
        sweep(a, h, &b, out.slice_mut(s![.., base.., ..]))?;
    }
    if let Some(b) = backward {
        sweep(a, -h, &b, out.slice_mut(s![.., ..=base;-1, ..]))?;
    }
    Ok(())
}

/// Fills slots `1..` of `out` (`(m, count, n)`) from slot 0, slot `k` being the states `k h`
/// later: plain steps with `b = exp(h A)` inside blocks of [`BLOCK`] slots, each block starting
/// from an anchor computed with the exact powers `exp(2^q BLOCK h A)` (see the module docs).
fn sweep<S: Scalar>(
    a: ArrayView2<S>,
    h: S::Real,
    b: &Array2<S>,
    mut out: ArrayViewMut3<S>,
) -> Result<()> {
    let (m, count, n) = out.dim();
    if count < 2 || m == 0 || n == 0 {
        return Ok(());
    }
    let anchors = (count - 1) / BLOCK;
    let last_anchor_time = h * S::Real::from_f64((anchors * BLOCK) as f64);
    if anchors > 0 && direct_anchors(m, n) && exp_is_finite(a, last_anchor_time)? {
        // Many states: an exponential per anchor costs little next to the products, and each
        // anchor is then exactly as accurate as exp(t A) x0 itself.
        let start = out.index_axis(Axis(1), 0).to_owned();
        let times: Vec<S::Real> = (0..=anchors)
            .map(|j| h * S::Real::from_f64((j * BLOCK) as f64))
            .collect();
        each_time(a, start.view(), &times, out.slice_mut(s![.., ..;BLOCK, ..]))?;
    } else if anchors > 0 {
        // E_q = exp(2^q BLOCK h A), each by its own scaling and squaring (2^q BLOCK is a power
        // of two, so the time 2^q BLOCK h is exact), for q up to the level whose stride
        // 2^q >= anchors / BLOCK: every anchor is then at most BLOCK + q products from the
        // start, the same bound as the plain steps inside a block, whatever the grid length.
        let levels = 1 + anchors.div_ceil(BLOCK).next_power_of_two().trailing_zeros() as usize;
        let mut work = Expm::new();
        let mut scaled_a = Array2::zeros((n, n));
        let mut powers: Vec<Array2<S>> = Vec::with_capacity(levels);
        for q in 0..levels {
            let tau = h * S::Real::from_f64((BLOCK << q) as f64);
            let mut e = Array2::zeros((n, n));
            exp_scaled_into(&mut work, a, tau, &mut scaled_a, e.view_mut())?;
            if !e.iter().all(|x| x.is_finite()) {
                // Past this power the exponential overflows (a growing mode); longer anchor
                // chains of the finite powers still reach every anchor.
                break;
            }
            powers.push(e);
        }
        if powers.is_empty() {
            // Even one block overflows: plain steps are all that is left.
            step_chunk(b, out);
            return Ok(());
        }
        for j in 1..=anchors {
            let q = (j.trailing_zeros() as usize).min(powers.len() - 1);
            let from = j - (1 << q);
            map_slot(&powers[q], &mut out, from * BLOCK, j * BLOCK);
        }
    }
    let flops = m * count * n * n;
    if flops >= PARALLEL_FLOPS && anchors > 0 && n <= BLAS_THREADED_MIN {
        out.axis_chunks_iter_mut(Axis(1), BLOCK)
            .into_par_iter()
            .for_each(|chunk| step_chunk(b, chunk));
    } else {
        for chunk in out.axis_chunks_iter_mut(Axis(1), BLOCK) {
            step_chunk(b, chunk);
        }
    }
    Ok(())
}

/// Whether the anchors of a sweep of `m` states of order `n` get one exponential each: when
/// that costs (about `30 n^3` flops per anchor) at most a quarter of the `2 BLOCK m n^2` flops
/// of the steps it anchors. Otherwise they come from the tree of exact powers.
fn direct_anchors(m: usize, n: usize) -> bool {
    30 * n <= BLOCK * m / 2
}

/// Whether `exp(t A)` is finite: past that the direct anchors would overflow (a growing mode)
/// where the tree of powers falls back to the finite ones.
fn exp_is_finite<S: Scalar>(a: ArrayView2<S>, t: S::Real) -> Result<bool> {
    Ok(exp_scaled(a, t)?.iter().all(|x| x.is_finite()))
}

/// A grid that is not uniform: one exponential per time, `out[:, k] = x0 exp(t_k A)^T`.
fn each_time<S: Scalar>(
    a: ArrayView2<S>,
    x0: ArrayView2<S>,
    times: &[S::Real],
    mut out: ArrayViewMut3<S>,
) -> Result<()> {
    let n = a.nrows();
    let one = |work: &mut (Expm<S>, Array2<S>, Array2<S>),
               (slot, &t): (ArrayViewMut2<S>, &S::Real)|
     -> Result<()> {
        if t == S::Real::zero() {
            let mut slot = slot;
            slot.assign(&x0);
            return Ok(());
        }
        let (expm_work, scaled_a, e) = work;
        exp_scaled_into(expm_work, a, t, scaled_a, e.view_mut())?;
        map_rows(e, x0, slot);
        Ok(())
    };
    let init = || (Expm::new(), Array2::zeros((n, n)), Array2::zeros((n, n)));
    let work_per_time = x0.nrows() * n * n + 20 * n * n * n;
    if times.len() > 1 && times.len() * work_per_time >= PARALLEL_FLOPS && n <= BLAS_THREADED_MIN {
        out.axis_iter_mut(Axis(1))
            .into_par_iter()
            .zip(times.par_iter())
            .try_for_each_init(init, one)
    } else {
        let mut work = init();
        out.axis_iter_mut(Axis(1))
            .zip(times.iter())
            .try_for_each(|item| one(&mut work, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expm::expm;
    use ndarray::array;

    /// Where `t A` overflows for a finite `A` and `t`, the result is the overflow of `exp`, not
    /// an error about non-finite input; finite where `exp(t A)` is.
    #[test]
    fn overflowing_time_steps() {
        let big = f64::MAX;
        let x = trajectory(array![[big]].view(), array![1.0].view(), &[0.0, 2.0, -2.0]).unwrap();
        assert_eq!(x.column(0).to_vec(), vec![1.0, f64::INFINITY, 0.0]);
        // Upper triangular: exp(2 [[-c, 1], [0, 1]]) = [[0, (e^2 - e^(-2c)) / (1 + c)], [0, e^2]].
        let p = Propagator::new(array![[-big, 1.0], [0.0, 1.0]].view(), 2.0).unwrap();
        let e2 = 2f64.exp();
        assert_eq!(p.matrix()[[0, 0]], 0.0);
        assert!(
            (p.matrix()[[1, 1]] - e2).abs() < 1e-15 * e2,
            "{}",
            p.matrix()
        );
        assert!(p.matrix()[[0, 1]].abs() < 1e-300, "{}", p.matrix());
        let b = propagators(array![[big, 0.0], [0.0, -big]].view(), &[0.5, 3.0]).unwrap();
        assert_eq!(b[[1, 0, 0]], f64::INFINITY);
        assert_eq!(b[[1, 1, 1]], 0.0);
        let (ad, _) = discretize(array![[-big]].view(), array![[1.0]].view(), 4.0).unwrap();
        assert_eq!(ad[[0, 0]], 0.0);
    }

    #[test]
    fn uniform_detection() {
        let lin: Vec<f64> = (0..1001).map(|k| 10.0 * k as f64 / 1000.0).collect();
        assert!(uniform_spacing(&lin).is_some());
        let mut bent = lin.clone();
        bent[500] += 1e-9;
        assert!(uniform_spacing(&bent).is_none());
        assert!(uniform_spacing(&[1.0_f64]).is_none());
        assert_eq!(uniform_spacing(&[2.0_f64, 2.0, 2.0]), Some(0.0));
        assert!(uniform_spacing(&[0.0_f64, 0.0, 1.0]).is_none());
    }

    /// A well-scaled dense `n x n` test matrix (norm about 1), deterministic.
    fn dense(n: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, n), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 / (8.0 * n as f64) - if i == j { 0.5 } else { 0.0 }
        })
    }

    /// Work of large matrices on rayon's default pool (2 MiB worker stacks), as a plain Rust
    /// caller gets it: OpenBLAS's threaded drivers must not run inside rayon's workers there
    /// (they overflowed those stacks: SIGSEGV). Checked against one exponential per time. The
    /// caller is a thread with a main thread's 8 MiB of stack: OpenBLAS's threaded LU needs more
    /// than the 2 MiB of a test thread on the calling thread too.
    #[test]
    fn large_systems_on_the_default_pool() {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(large_systems)
            .unwrap()
            .join()
            .unwrap();
    }

    fn large_systems() {
        let n = 150;
        let a = dense(n);
        let x0 = Array2::from_shape_fn((3, n), |(i, j)| ((i + j) % 5) as f64 - 2.0);
        let expect = |t: f64| x0.dot(&expm(a.mapv(|v| v * t).view()).unwrap().t());
        // Not uniform: one exponential per time (the parallel path of `each_time`).
        let uneven = [0.0, 0.3, 0.35, 0.9, 1.7, -0.4, 2.0, 0.05];
        let out = trajectory_many(a.view(), x0.view(), &uneven).unwrap();
        for (k, &t) in uneven.iter().enumerate() {
            let want = expect(t);
            let got = out.index_axis(Axis(1), k);
            let err = (&got - &want).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            assert!(err < 1e-12, "t={t} err={err}");
        }
        // Uniform with many states: direct anchors and the parallel block sweep.
        let many = Array2::from_shape_fn((200, n), |(i, j)| ((i * 3 + j) % 7) as f64 - 3.0);
        let times: Vec<f64> = (0..=100).map(|k| 0.01 * k as f64).collect();
        let out = trajectory_many(a.view(), many.view(), &times).unwrap();
        let want = many.dot(&expm(a.view()).unwrap().t());
        let got = out.index_axis(Axis(1), 100);
        let err = (&got - &want).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-11, "err={err}");
        let b = propagators(a.view(), &[0.5, 1.0, -1.0, 2.0]).unwrap();
        assert_eq!(b.index_axis(Axis(0), 1), expm(a.view()).unwrap());
    }

    #[test]
    fn anchors_reach_every_block() {
        // Exactly on the anchor boundaries and one past them.
        let a = array![[0.0_f64, -1.0], [1.0, 0.0]];
        for steps in [BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK, 5 * BLOCK + 3] {
            let p = Propagator::new(a.view(), 0.01).unwrap();
            let traj = p.iterate(array![1.0, 0.0].view(), steps).unwrap();
            for (k, row) in traj.outer_iter().enumerate() {
                let t = 0.01 * k as f64;
                assert!((row[0] - t.cos()).abs() < 1e-14, "steps={steps} k={k}");
                assert!((row[1] - t.sin()).abs() < 1e-14, "steps={steps} k={k}");
            }
        }
    }
}

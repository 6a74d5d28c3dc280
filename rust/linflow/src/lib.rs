//! # linflow
//!
//! Matrix exponentials and the flows of linear ODEs `x' = A x`, whose exact solution is
//! `x(t) = exp(tA) x0`.
//!
//! - [`expm()`]: `exp(A)` of a square matrix by Pade scaling and squaring (Al-Mohy & Higham 2009),
//!   for `f32`, `f64`, `Complex<f32>` and `Complex<f64>`, accurate to working precision;
//!   [`expm_into`] with a reusable [`Expm`] workspace; [`expm_batch`] over a stack of matrices on
//!   all cores.
//! - [`flow`]: the flow of `x' = A x`: a [`Propagator`] `exp(dt A)` that steps one state or many,
//!   [`trajectory`] at any times (uniform grids stepped without drift), [`flow_map`],
//!   [`discretize`] (zero-order hold) and the 2-D [`vector_field`].
//!
//! ```
//! use linflow::expm;
//! use ndarray::array;
//!
//! // x' = A x with A = diag(-1, -2): x(t) = (e^-t x1, e^-2t x2).
//! let a = array![[-1.0_f64, 0.0], [0.0, -2.0]];
//! let b = expm((&a * 0.5).view())?;
//! let x = b.dot(&array![1.0, 1.0]);
//! assert!((x[0] - (-0.5_f64).exp()).abs() < 1e-16);
//! assert!((x[1] - (-1.0_f64).exp()).abs() < 1e-16);
//! # Ok::<(), linflow::Error>(())
//! ```
//!
//! Errors are values ([`Error`]); no user input makes the crate panic.

// Every public item is documented (`cargo doc` runs with `-D warnings` in scripts/test.sh).
#![warn(missing_docs)]

// LAPACK and BLAS come from ndarray-linalg's OpenBLAS; name the crate so it is linked.
extern crate ndarray_linalg as _;

mod cache;
mod dense;
mod error;
pub mod expm;
// Flows of x' = A x (issue 4): propagators, trajectories, flow maps, vector fields.
pub mod flow;
mod scalar;
#[cfg(test)]
mod test_rng;
// --- Frechet derivative, condition number, action of exp (issue 5) ---
pub mod action;
pub mod frechet;
pub use action::{
    CsrIndex, CsrMatrix, DenseOperator, DiaMatrix, ExpmMultiply, LinearOperator, TimeGrid,
    expm_multiply, expm_multiply_grid,
};
pub use frechet::{
    ExpmFrechet, FrechetMethod, expm_cond, expm_cond_batch, expm_frechet, expm_frechet_batch,
    expm_frechet_with,
};
// --- end issue 5 ---

pub use error::{Error, Result};

/// The README's Rust example, compiled and run by `cargo test` so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The crate README's example (`rust/linflow/README.md`), compiled and run by `cargo test`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CrateReadmeDoctests;
pub use expm::{Expm, ExpmReport, expm, expm_batch, expm_batch_into, expm_into};
pub use scalar::{Precision, RealScalar, Scalar};
// Flows of x' = A x (issue 4).
pub use flow::{
    Propagator, VectorField, discretize, flow_map, propagators, trajectory, trajectory_many,
    vector_field,
};

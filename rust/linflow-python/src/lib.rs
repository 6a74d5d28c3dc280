//! The `linflow._core` extension: argument checks, dtype dispatch, the GIL released around the
//! computation, and the mapping of core errors to Python exceptions. No algorithm lives here.
//! One module per family of functions; `common` holds the dtype rules and the error mapping.

mod common;
mod expm;
// Flows of x' = A x (issue 4).
mod flow;
// --- issue 5: Frechet derivative, condition number, expm_multiply ---
mod action;
mod frechet;
// --- end issue 5 ---

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Reliability (issue 7): rayon workers with room on their stacks (see WORKER_STACK).
    common::init_thread_pool();
    m.add_function(wrap_pyfunction!(expm::expm, m)?)?;
    // Flows of x' = A x (issue 4).
    m.add_function(wrap_pyfunction!(flow::propagator, m)?)?;
    m.add_function(wrap_pyfunction!(flow::trajectory, m)?)?;
    m.add_function(wrap_pyfunction!(flow::iterate, m)?)?;
    m.add_function(wrap_pyfunction!(flow::flow_map, m)?)?;
    m.add_function(wrap_pyfunction!(flow::vector_field, m)?)?;
    m.add_function(wrap_pyfunction!(flow::discretize, m)?)?;
    // Private helpers: attributes only, kept out of `__all__`.
    m.setattr("_expm_report", wrap_pyfunction!(expm::_expm_report, m)?)?;
    // --- issue 5 ---
    m.add_function(wrap_pyfunction!(frechet::frechet_stack, m)?)?;
    m.add_function(wrap_pyfunction!(frechet::cond_stack, m)?)?;
    m.add_function(wrap_pyfunction!(action::expm_multiply_dense, m)?)?;
    m.add_function(wrap_pyfunction!(action::expm_multiply_csr, m)?)?;
    m.add_function(wrap_pyfunction!(action::expm_multiply_dia, m)?)?;
    m.add_function(wrap_pyfunction!(action::expm_multiply_operator, m)?)?;
    // --- end issue 5 ---
    Ok(())
}

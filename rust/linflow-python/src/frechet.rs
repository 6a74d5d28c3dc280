//! `expm_frechet` and `expm_cond` over stacks `(..., n, n)`. The Python facade
//! (`linflow.linalg`) broadcasts the batch dimensions and casts both arguments to one dtype.

use crate::common::typed_view;
use crate::common::{Kind, inexact_array, shape_error, to_pyerr};
use linflow::{FrechetMethod, Scalar};
use ndarray::{ArrayD, Ix2, IxDyn, Order};
use num_complex::Complex;
use numpy::{Element, IntoPyArray, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `(batch, n)` of a stack shape `(..., n, n)`, checked square.
fn stack_dims(shape: &[usize]) -> PyResult<(usize, usize)> {
    let nd = shape.len();
    if nd < 2 || shape[nd - 1] != shape[nd - 2] {
        return Err(PyValueError::new_err(format!(
            "expected a stack of square matrices, got shape {shape:?}"
        )));
    }
    Ok((shape[..nd - 2].iter().product(), shape[nd - 1]))
}

fn frechet_typed<'py, T: Scalar + Element>(
    a: &Bound<'py, PyUntypedArray>,
    e: &Bound<'py, PyUntypedArray>,
    method: FrechetMethod,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let py = a.py();
    let shape = a.shape().to_vec();
    if e.shape() != shape.as_slice() {
        return Err(PyValueError::new_err(format!(
            "expected A and E to be the same shape, got {:?} and {:?}",
            shape,
            e.shape()
        )));
    }
    let (batch, n) = stack_dims(&shape)?;
    let (ga, ge) = (typed_view::<T>(a.as_any())?, typed_view::<T>(e.as_any())?);
    let (va, ve) = (ga.as_array(), ge.as_array());
    let (x, l) = if shape.len() == 2 {
        let a2 = va.into_dimensionality::<Ix2>().map_err(shape_error)?;
        let e2 = ve.into_dimensionality::<Ix2>().map_err(shape_error)?;
        let (x, l) = py
            .detach(|| linflow::expm_frechet_with(a2, e2, method))
            .map_err(|err| to_pyerr(py, err))?;
        (x.into_dyn(), l.into_dyn())
    } else {
        let a3 = va
            .to_shape(((batch, n, n), Order::RowMajor))
            .map_err(shape_error)?;
        let e3 = ve
            .to_shape(((batch, n, n), Order::RowMajor))
            .map_err(shape_error)?;
        let (x, l) = py
            .detach(|| linflow::expm_frechet_batch(a3.view(), e3.view(), method))
            .map_err(|err| to_pyerr(py, err))?;
        let reshape =
            |m: ndarray::Array3<T>| m.into_shape_with_order(IxDyn(&shape)).map_err(shape_error);
        (reshape(x)?, reshape(l)?)
    };
    Ok((x.into_pyarray(py).into_any(), l.into_pyarray(py).into_any()))
}

/// `(exp(A), L(A, E))` for same-shape, same-dtype stacks `(..., n, n)`; the method is `"SPS"`
/// or `"blockEnlarge"`. Called by :func:`linflow.expm_frechet`.
#[pyfunction]
#[pyo3(signature = (a, e, /, method))]
pub(crate) fn frechet_stack<'py>(
    a: &Bound<'py, PyAny>,
    e: &Bound<'py, PyAny>,
    method: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let method = match method {
        "SPS" => FrechetMethod::Sps,
        "blockEnlarge" => FrechetMethod::BlockEnlarge,
        other => {
            return Err(PyValueError::new_err(format!(
                "Unknown implementation {other}"
            )));
        }
    };
    let (a, kind) = inexact_array(a)?;
    let (e, _) = inexact_array(e)?;
    match kind {
        Kind::Float32 => frechet_typed::<f32>(&a, &e, method),
        Kind::Float64 => frechet_typed::<f64>(&a, &e, method),
        Kind::Complex64 => frechet_typed::<Complex<f32>>(&a, &e, method),
        Kind::Complex128 => frechet_typed::<Complex<f64>>(&a, &e, method),
    }
}

fn cond_typed<'py, T: Scalar + Element>(
    a: &Bound<'py, PyUntypedArray>,
) -> PyResult<Bound<'py, PyAny>>
where
    T::Real: Element,
{
    let py = a.py();
    let shape = a.shape().to_vec();
    let (batch, n) = stack_dims(&shape)?;
    let guard = typed_view::<T>(a.as_any())?;
    let view = guard.as_array();
    let stacked = view
        .to_shape(((batch, n, n), Order::RowMajor))
        .map_err(shape_error)?;
    let kappa = py
        .detach(|| linflow::expm_cond_batch(stacked.view()))
        .map_err(|err| to_pyerr(py, err))?;
    let out: ArrayD<T::Real> = kappa
        .into_shape_with_order(IxDyn(&shape[..shape.len() - 2]))
        .map_err(shape_error)?;
    Ok(out.into_pyarray(py).into_any())
}

/// The condition numbers of a stack `(..., n, n)` as an array of shape `(...)` (0-d for one
/// matrix), in the real dtype of the input. Called by :func:`linflow.expm_cond`.
#[pyfunction]
#[pyo3(signature = (a, /))]
pub(crate) fn cond_stack<'py>(a: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let (a, kind) = inexact_array(a)?;
    match kind {
        Kind::Float32 => cond_typed::<f32>(&a),
        Kind::Float64 => cond_typed::<f64>(&a),
        Kind::Complex64 => cond_typed::<Complex<f32>>(&a),
        Kind::Complex128 => cond_typed::<Complex<f64>>(&a),
    }
}

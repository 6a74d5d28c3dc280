//! `expm_multiply` for dense matrices, CSR arrays and Python linear operators. The facade
//! (`linflow.linalg.expm_multiply`) classifies `A`, converts it once where it must, chooses the
//! dtype and turns the time arguments into `(start, step, count)`.

use std::marker::PhantomData;
use std::sync::Mutex;

use crate::common::typed_view;
use crate::common::{Kind, inexact_array, shape_error, to_pyerr};
use linflow::{
    CsrIndex, CsrMatrix, DenseOperator, DiaMatrix, ExpmMultiply, LinearOperator, Scalar, TimeGrid,
};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Ix1, Ix2};
use num_complex::Complex;
use numpy::{
    Element, IntoPyArray, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The element types, with the conversion of a (possibly complex) trace given from Python.
trait Element2: Scalar + Element {
    /// The trace in this type; a real type keeps the real part (any shift is exact).
    fn from_trace(t: Complex<f64>) -> Self;
}

impl Element2 for f32 {
    fn from_trace(t: Complex<f64>) -> Self {
        t.re as f32
    }
}
impl Element2 for f64 {
    fn from_trace(t: Complex<f64>) -> Self {
        t.re
    }
}
impl Element2 for Complex<f32> {
    fn from_trace(t: Complex<f64>) -> Self {
        Complex::new(t.re as f32, t.im as f32)
    }
}
impl Element2 for Complex<f64> {
    fn from_trace(t: Complex<f64>) -> Self {
        t
    }
}

/// Times as the facade passes them: `(start, step, count)` for a grid, `None` for `t = 1`.
type Times = Option<(f64, f64, usize)>;
/// A trace as the facade passes it: `(real, imaginary)`.
type Trace = Option<(f64, f64)>;

/// Runs the action for one operator; `failure` is the Python exception an operator raised.
fn run<'py, T: Element2, Op: LinearOperator<T> + Sync>(
    py: Python<'py>,
    op: &Op,
    b: ArrayView2<T>,
    times: Times,
    trace: Trace,
    failure: Option<&Mutex<Option<PyErr>>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = match trace {
        Some((re, im)) => ExpmMultiply::new().with_trace(T::from_trace(Complex::new(re, im))),
        None => ExpmMultiply::new(),
    };
    let result = py.detach(|| match times {
        None => opts
            .apply(op, b, T::Real::from_f64(1.0))
            .map(|x| x.into_dyn()),
        Some((start, step, count)) => {
            let grid = TimeGrid {
                start: T::Real::from_f64(start),
                step: T::Real::from_f64(step),
                count,
            };
            opts.apply_grid(op, b, grid).map(|x| x.into_dyn())
        }
    });
    if let Some(stored) = failure.and_then(|f| f.lock().ok().and_then(|mut g| g.take())) {
        return Err(stored);
    }
    let out = result.map_err(|e| to_pyerr(py, e))?;
    Ok(out.into_pyarray(py).into_any())
}

/// `b` as a typed 2-D view.
fn block<'py, T: Element>(
    b: &Bound<'py, PyUntypedArray>,
) -> PyResult<numpy::PyReadonlyArrayDyn<'py, T>> {
    if b.ndim() != 2 {
        return Err(PyValueError::new_err("expected B of shape (n, k)"));
    }
    typed_view::<T>(b.as_any())
}

fn dense_typed<'py, T: Element2>(
    a: &Bound<'py, PyUntypedArray>,
    b: &Bound<'py, PyUntypedArray>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let py = a.py();
    let (ga, gb) = (typed_view::<T>(a.as_any())?, block::<T>(b)?);
    let a2 = ga
        .as_array()
        .into_dimensionality::<Ix2>()
        .map_err(shape_error)?;
    let b2 = gb
        .as_array()
        .into_dimensionality::<Ix2>()
        .map_err(shape_error)?;
    let op = DenseOperator::new(a2).map_err(|e| to_pyerr(py, e))?;
    run(py, &op, b2, times, trace, None)
}

/// `exp(A) B` or the grid `exp(t_k A) B` for a dense square `A` and a block `B` `(n, k)` of the
/// same dtype. Called by :func:`linflow.expm_multiply`.
#[pyfunction]
#[pyo3(signature = (a, b, /, times, trace))]
pub(crate) fn expm_multiply_dense<'py>(
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let (a, kind) = inexact_array(a)?;
    let (b, _) = inexact_array(b)?;
    match kind {
        Kind::Float32 => dense_typed::<f32>(&a, &b, times, trace),
        Kind::Float64 => dense_typed::<f64>(&a, &b, times, trace),
        Kind::Complex64 => dense_typed::<Complex<f32>>(&a, &b, times, trace),
        Kind::Complex128 => dense_typed::<Complex<f64>>(&a, &b, times, trace),
    }
}

fn contiguous<X>(s: Option<&[X]>) -> PyResult<&[X]> {
    s.ok_or_else(|| PyValueError::new_err("CSR arrays must be contiguous"))
}

#[allow(clippy::too_many_arguments)]
fn csr_typed<'py, T: Element2, I: CsrIndex + Element>(
    n: usize,
    data: &Bound<'py, PyUntypedArray>,
    indices: &Bound<'py, PyAny>,
    indptr: &Bound<'py, PyAny>,
    b: &Bound<'py, PyUntypedArray>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let gd = typed_view::<T>(data.as_any())?;
    let (gi, gp) = (typed_view::<I>(indices)?, typed_view::<I>(indptr)?);
    let gb = block::<T>(b)?;
    let vectors = (
        gd.as_array().into_dimensionality::<Ix1>(),
        gi.as_array().into_dimensionality::<Ix1>(),
        gp.as_array().into_dimensionality::<Ix1>(),
    );
    let (Ok(d), Ok(i), Ok(p)) = vectors else {
        return Err(PyValueError::new_err("CSR arrays must be one-dimensional"));
    };
    // Contiguous (scipy's are); anything else is copied once.
    let (d, i, p) = (
        d.as_standard_layout(),
        i.as_standard_layout(),
        p.as_standard_layout(),
    );
    let csr = CsrMatrix::new(
        (n, n),
        contiguous(p.as_slice())?,
        contiguous(i.as_slice())?,
        contiguous(d.as_slice())?,
    )
    .map_err(|e| to_pyerr(py, e))?;
    let b2 = gb
        .as_array()
        .into_dimensionality::<Ix2>()
        .map_err(shape_error)?;
    // A banded matrix (finite differences) runs faster by diagonals: one copy of its entries.
    match csr.banded(MAX_DIAGONALS) {
        Some(dia) => run(py, &dia, b2, times, trace, None),
        None => run(py, &csr, b2, times, trace, None),
    }
}

/// The most diagonals a CSR matrix may occupy to be run by diagonals.
const MAX_DIAGONALS: usize = 16;

fn dia_typed<'py, T: Element2>(
    n: usize,
    offsets: Vec<isize>,
    data: &Bound<'py, PyUntypedArray>,
    b: &Bound<'py, PyUntypedArray>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let gd = typed_view::<T>(data.as_any())?;
    let gb = block::<T>(b)?;
    let d2 = gd
        .as_array()
        .into_dimensionality::<Ix2>()
        .map_err(shape_error)?;
    let dia = DiaMatrix::new(n, offsets, d2).map_err(|e| to_pyerr(py, e))?;
    let b2 = gb
        .as_array()
        .into_dimensionality::<Ix2>()
        .map_err(shape_error)?;
    run(py, &dia, b2, times, trace, None)
}

/// `exp(A) B` or the grid for an `n x n` matrix in scipy's diagonal storage (`offsets` and the
/// 2-D `data`, read in place). Called by :func:`linflow.expm_multiply`.
#[pyfunction]
#[pyo3(signature = (n, offsets, data, b, /, times, trace))]
pub(crate) fn expm_multiply_dia<'py>(
    n: usize,
    offsets: Vec<isize>,
    data: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let (data, kind) = inexact_array(data)?;
    let (b, _) = inexact_array(b)?;
    match kind {
        Kind::Float32 => dia_typed::<f32>(n, offsets, &data, &b, times, trace),
        Kind::Float64 => dia_typed::<f64>(n, offsets, &data, &b, times, trace),
        Kind::Complex64 => dia_typed::<Complex<f32>>(n, offsets, &data, &b, times, trace),
        Kind::Complex128 => dia_typed::<Complex<f64>>(n, offsets, &data, &b, times, trace),
    }
}

fn csr_indexed<'py, T: Element2>(
    n: usize,
    data: &Bound<'py, PyUntypedArray>,
    indices: &Bound<'py, PyAny>,
    indptr: &Bound<'py, PyAny>,
    b: &Bound<'py, PyUntypedArray>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    if indices.cast::<numpy::PyArrayDyn<i32>>().is_ok() {
        csr_typed::<T, i32>(n, data, indices, indptr, b, times, trace)
    } else if indices.cast::<numpy::PyArrayDyn<i64>>().is_ok() {
        csr_typed::<T, i64>(n, data, indices, indptr, b, times, trace)
    } else {
        Err(PyTypeError::new_err(
            "CSR indices and indptr must be int32 or int64 arrays",
        ))
    }
}

/// `exp(A) B` or the grid for an `n x n` CSR matrix given by its `data`, `indices` and `indptr`
/// arrays (read in place: int32 or int64 indices, data of B's dtype). Called by
/// :func:`linflow.expm_multiply`.
#[pyfunction]
#[pyo3(signature = (n, data, indices, indptr, b, /, times, trace))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn expm_multiply_csr<'py>(
    n: usize,
    data: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
    indptr: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let (data, kind) = inexact_array(data)?;
    let (b, _) = inexact_array(b)?;
    match kind {
        Kind::Float32 => csr_indexed::<f32>(n, &data, indices, indptr, &b, times, trace),
        Kind::Float64 => csr_indexed::<f64>(n, &data, indices, indptr, &b, times, trace),
        Kind::Complex64 => csr_indexed::<Complex<f32>>(n, &data, indices, indptr, &b, times, trace),
        Kind::Complex128 => {
            csr_indexed::<Complex<f64>>(n, &data, indices, indptr, &b, times, trace)
        }
    }
}

/// A Python object with `matmat(X)` and `rmatmat(X)` (a `scipy.sparse.linalg.LinearOperator`)
/// as a linear operator of the core. Each product takes the GIL back for the call; the first
/// Python exception is kept and re-raised as is.
struct PyOperator<T> {
    op: Py<PyAny>,
    n: usize,
    failure: Mutex<Option<PyErr>>,
    _t: PhantomData<T>,
}

impl<T: Element2> PyOperator<T> {
    fn call(&self, method: &str, x: ArrayView2<T>, mut y: ArrayViewMut2<T>) -> linflow::Result<()> {
        let k = x.ncols();
        let product = Python::attach(|py| -> PyResult<Array2<T>> {
            let xa = x.to_owned().into_pyarray(py);
            let r = self.op.bind(py).call_method1(method, (xa,))?;
            let np = py.import("numpy")?;
            let arr = np.call_method1("asarray", (r, numpy::dtype::<T>(py)))?;
            let arr = np.call_method1("reshape", (arr, (self.n, k)))?;
            let arr = arr.cast_into::<PyArray2<T>>()?;
            Ok(arr.readonly().as_array().to_owned())
        });
        match product {
            Ok(p) => {
                y.assign(&p);
                Ok(())
            }
            Err(err) => {
                let message = err.to_string();
                if let Ok(mut slot) = self.failure.lock() {
                    slot.get_or_insert(err);
                }
                Err(linflow::Error::Operator { message })
            }
        }
    }
}

impl<T: Element2> LinearOperator<T> for PyOperator<T> {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.n)
    }
    fn apply(&self, x: ArrayView2<T>, y: ArrayViewMut2<T>) -> linflow::Result<()> {
        self.call("matmat", x, y)
    }
    fn apply_adjoint(&self, x: ArrayView2<T>, y: ArrayViewMut2<T>) -> linflow::Result<()> {
        self.call("rmatmat", x, y)
    }
}

fn operator_typed<'py, T: Element2>(
    op: &Bound<'py, PyAny>,
    n: usize,
    b: &Bound<'py, PyUntypedArray>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let py = op.py();
    let gb = block::<T>(b)?;
    let b2 = gb
        .as_array()
        .into_dimensionality::<Ix2>()
        .map_err(shape_error)?;
    let wrapped = PyOperator::<T> {
        op: op.clone().unbind(),
        n,
        failure: Mutex::new(None),
        _t: PhantomData,
    };
    run(py, &wrapped, b2, times, trace, Some(&wrapped.failure))
}

/// `exp(A) B` or the grid for an `n x n` operator known through `op.matmat(X)` and
/// `op.rmatmat(X)` (the conjugate transpose, for the norm estimates), computing in the dtype of
/// `b`. Called by :func:`linflow.expm_multiply`.
#[pyfunction]
#[pyo3(signature = (op, n, b, /, times, trace))]
pub(crate) fn expm_multiply_operator<'py>(
    op: &Bound<'py, PyAny>,
    n: usize,
    b: &Bound<'py, PyAny>,
    times: Times,
    trace: Trace,
) -> PyResult<Bound<'py, PyAny>> {
    let (b, kind) = inexact_array(b)?;
    match kind {
        Kind::Float32 => operator_typed::<f32>(op, n, &b, times, trace),
        Kind::Float64 => operator_typed::<f64>(op, n, &b, times, trace),
        Kind::Complex64 => operator_typed::<Complex<f32>>(op, n, &b, times, trace),
        Kind::Complex128 => operator_typed::<Complex<f64>>(op, n, &b, times, trace),
    }
}

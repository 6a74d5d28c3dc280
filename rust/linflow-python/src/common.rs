//! What every binding shares: the dtype rules, the error mapping and shape helpers.

use numpy::npyffi::{self, NpyTypes, PY_ARRAY_API, npy_intp};
use numpy::{
    Element, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The four element types the core computes with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Float32,
    Float64,
    Complex64,
    Complex128,
}

/// `numpy.linalg.LinAlgError(msg)`.
pub(crate) fn linalg_error(py: Python<'_>, msg: String) -> PyErr {
    match py
        .import("numpy.linalg")
        .and_then(|m| m.getattr("LinAlgError"))
    {
        Ok(ty) => match ty.cast_into::<PyType>() {
            Ok(ty) => PyErr::from_type(ty, msg),
            Err(e) => e.into(),
        },
        Err(e) => e,
    }
}

/// The one place where core errors become Python exceptions.
pub(crate) fn to_pyerr(py: Python<'_>, err: linflow::Error) -> PyErr {
    use linflow::Error as E;
    match err {
        E::NotSquare { .. } => linalg_error(py, err.to_string()),
        E::ShapeMismatch { .. }
        | E::NonFinite
        | E::InvalidSparse { .. }
        | E::TooManySteps { .. } => PyValueError::new_err(err.to_string()),
        E::Singular => linalg_error(py, err.to_string()),
        E::TooLarge { .. } => PyMemoryError::new_err(err.to_string()),
        _ => PyRuntimeError::new_err(err.to_string()),
    }
}

/// A reshape that ndarray refused (it cannot, for shapes checked before): a `ValueError`.
pub(crate) fn shape_error(err: ndarray::ShapeError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// Stack of the rayon workers that compute batches. OpenBLAS's threaded drivers (0.3.21: dgetrf
/// from about n = 100, dgemm from about n = 150) keep per-call tables of some MiB on the stack of
/// the thread that calls them; rayon's default 2 MiB workers overflowed there (SIGSEGV, or glibc's
/// "stack smashing detected"), from `expm` of a stack of 128x128 matrices on. The 8 MiB of a main
/// thread suffice; 4 MiB was measured enough. linflow now keeps that OpenBLAS on one thread
/// (`linflow::dense`), so its threaded drivers no longer run; the larger stack stays as a margin.
const WORKER_STACK: usize = 16 << 20;

/// Builds rayon's global pool (this extension's own copy of rayon) with workers of
/// [`WORKER_STACK`] bytes of stack; called when the module is imported, before any parallel work.
/// `RAYON_NUM_THREADS` still sets the number of workers.
pub(crate) fn init_thread_pool() {
    // An error means that the pool exists already (the module initialised twice): keep it.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK)
        .build_global();
}

/// A new uninitialised C-order array of `shape`, or numpy's `MemoryError` when it cannot be
/// allocated (`PyArray::new` panics there: `expm(np.broadcast_to(a, (2**40, 2, 2)))` needs 32 TiB).
///
/// # Safety
///
/// As `PyArray::new`: every element must be written before the array reaches Python.
pub(crate) unsafe fn new_array<'py, T: Element>(
    py: Python<'py>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    // The dimensions come from a numpy shape, so they fit in npy_intp.
    let mut dims: Vec<npy_intp> = shape.iter().map(|&d| d as npy_intp).collect();
    // SAFETY: the arguments are those of `PyArray::new`: numpy's array type, T's dtype (the new
    // array steals the reference), no strides or data (numpy allocates C order), no flags.
    let ptr = unsafe {
        PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, NpyTypes::PyArray_Type),
            T::get_dtype(py).into_dtype_ptr(),
            dims.len() as std::ffi::c_int,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        )
    };
    // SAFETY: a non-null result is a new reference to an array of T's dtype, any dimension.
    unsafe { Ok(Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked()) }
}

/// Converts `obj` to an array of one of the four computed dtypes by scipy's rules: float32,
/// float64, complex64 and complex128 stay, float16 becomes float32, bool and integers become
/// float64; anything else is a `TypeError`.
pub(crate) fn inexact_array<'py>(
    obj: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyUntypedArray>, Kind)> {
    let py = obj.py();
    let arr = match obj.cast::<PyUntypedArray>() {
        Ok(a) => a.clone(),
        Err(_) => py
            .import("numpy")?
            .call_method1("asarray", (obj,))?
            .cast_into::<PyUntypedArray>()?,
    };
    let dtype = arr.dtype();
    let (kind, size) = (dtype.kind(), dtype.itemsize());
    let target = match (kind, size) {
        (b'f', 4) => Ok(Kind::Float32),
        (b'f', 8) => Ok(Kind::Float64),
        (b'c', 8) => Ok(Kind::Complex64),
        (b'c', 16) => Ok(Kind::Complex128),
        (b'f', 2) => Err(("float32", Kind::Float32)),
        (b'b' | b'i' | b'u', _) => Err(("float64", Kind::Float64)),
        _ => {
            return Err(PyTypeError::new_err(format!(
                "unsupported dtype {}: expected a real or complex floating-point, integer or bool array",
                dtype.str()?
            )));
        }
    };
    match target {
        // Native byte order and aligned data are what the typed view below requires (an ndarray
        // view of unaligned memory is undefined behaviour); anything else is converted once.
        Ok(k) if dtype.is_native_byteorder().unwrap_or(true) && arr.is_aligned() => Ok((arr, k)),
        Ok(k) => Ok((
            arr.call_method1("astype", (dtype.call_method1("newbyteorder", ("=",))?,))?
                .cast_into()?,
            k,
        )),
        Err((name, k)) => Ok((arr.call_method1("astype", (name,))?.cast_into()?, k)),
    }
}

/// A read-only typed view of an array whose dtype must be `T` (a `TypeError` otherwise, a
/// `ValueError` if the array is mutably borrowed elsewhere).
pub(crate) fn typed_view<'py, T: Element>(
    arr: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let typed = arr
        .cast::<PyArrayDyn<T>>()
        .map_err(|e| PyTypeError::new_err(e.to_string()))?;
    typed
        .try_readonly()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

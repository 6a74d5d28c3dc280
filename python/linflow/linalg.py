"""scipy-shaped wrappers: argument handling in Python, the computation in the Rust core.

``expm_frechet`` and ``expm_cond`` follow :mod:`scipy.linalg`; ``expm_multiply`` follows
:func:`scipy.sparse.linalg.expm_multiply` and accepts numpy arrays, any scipy.sparse matrix or
array (CSR and DIA read in place, other formats converted to CSR once) and linear operators
(anything with ``shape`` and ``matmat``, and ``rmatmat`` for the norm estimates, such as
:class:`scipy.sparse.linalg.LinearOperator`). scipy itself is never imported here: sparse
matrices and operators are recognised only if scipy has already been imported by the caller.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from . import _core

__all__ = ["expm_cond", "expm_frechet", "expm_multiply"]

_SUPPORTED = {
    np.dtype(np.float32),
    np.dtype(np.float64),
    np.dtype(np.complex64),
    np.dtype(np.complex128),
}


def _compute_dtype(*dtypes: Any) -> np.dtype[Any]:
    """The dtype linflow computes in for arguments of these dtypes (numpy promotion, then
    float16 -> float32 and bool/integers -> float64); other dtypes raise ``TypeError``."""
    try:
        dt = np.result_type(*dtypes)
    except TypeError as err:
        raise TypeError(f"unsupported dtypes {dtypes}") from err
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt == np.float16:
        return np.dtype(np.float32)
    if dt not in _SUPPORTED:
        raise TypeError(
            f"unsupported dtype {dt}: expected a real or complex floating-point, integer or "
            "bool array (float32, float64, complex64, complex128)"
        )
    return dt


def _square_stack(x: np.ndarray, message: str) -> None:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(message)


# ---------------------------------------------------------------- expm_frechet


@overload
def expm_frechet(
    a: npt.ArrayLike,
    e: npt.ArrayLike,
    method: str | None = ...,
    compute_expm: Literal[True] = ...,
    check_finite: bool = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def expm_frechet(
    a: npt.ArrayLike,
    e: npt.ArrayLike,
    method: str | None = ...,
    *,
    compute_expm: Literal[False],
    check_finite: bool = ...,
) -> np.ndarray: ...
@overload
def expm_frechet(
    a: npt.ArrayLike,
    e: npt.ArrayLike,
    method: str | None,
    compute_expm: Literal[False],
    check_finite: bool = ...,
) -> np.ndarray: ...
def expm_frechet(
    a: npt.ArrayLike,
    e: npt.ArrayLike,
    method: str | None = None,
    compute_expm: bool = True,
    check_finite: bool = True,
) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Frechet derivative of the matrix exponential of `a` in the direction `e`.

    A drop-in for :func:`scipy.linalg.expm_frechet`: ``L(A, E)`` is the linear term of
    ``expm(A + E) - expm(A)``, ``L(A, E) = integral_0^1 expm(s A) E expm((1 - s) A) ds``.

    Parameters
    ----------
    a : array_like
        Matrix, or stack ``(..., n, n)`` of matrices, whose exponential is differentiated.
    e : array_like
        Direction(s), shape ``(..., n, n)``; the batch dimensions of `a` and `e` broadcast.
    method : {None, "SPS", "blockEnlarge"}, optional
        ``"SPS"`` (the default): scaling, Pade and squaring (Al-Mohy & Higham 2009,
        Algorithm 6.4). ``"blockEnlarge"``: the upper right block of
        ``expm([[A, E], [0, A]])``, about 8/3 times the work.
    compute_expm : bool, optional
        Also return ``expm(a)`` (default True).
    check_finite : bool, optional
        Accepted for compatibility. NaN and infinity always raise ``ValueError`` (the check
        costs O(n^2) against the O(n^3) computation).

    Returns
    -------
    expm_a : numpy.ndarray
        ``expm(a)``, only if `compute_expm`.
    expm_frechet_ae : numpy.ndarray
        ``L(a, e)``, shape ``broadcast(a, e)``. float32 and complex64 input stays in single
        precision (computed with single-precision thresholds; scipy computes in double);
        integers and bool give float64.

    Raises
    ------
    ValueError
        If `a` or `e` is not a (stack of) square matrices, their matrices differ in shape,
        `method` is unknown, or an input holds NaN or infinity.
    TypeError
        If a dtype is not numeric.

    Notes
    -----
    The order ``m`` of the Pade approximant and the number ``s`` of squarings come from
    ``||A||_1`` and the thresholds ``ell_m`` that bound the backward errors of both ``expm(A)``
    and ``L(A, E)`` by the unit roundoff. For triangular `a`, the returned ``expm(a)`` is the
    one of :func:`linflow.expm`, which stays accurate where squaring loses the cancellation
    between large off-diagonal entries.

    References
    ----------
    .. [1] A. H. Al-Mohy and N. J. Higham, "Computing the Frechet derivative of the matrix
           exponential, with an application to condition number estimation", SIAM J. Matrix
           Anal. Appl. 30(4):1639-1657, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from linflow import expm, expm_frechet
    >>> a = np.array([[1.0, 2.0], [5.0, 6.0]])
    >>> e = np.array([[3.0, 4.0], [7.0, 8.0]])
    >>> expm_a, l = expm_frechet(a, e)
    >>> big = np.block([[a, e], [np.zeros((2, 2)), a]])
    >>> bool(np.allclose(l, expm(big)[:2, 2:], rtol=1e-13))
    True
    >>> expm_frechet(np.float32([[0.0]]), np.float32([[2.0]]), compute_expm=False)
    array([[2.]], dtype=float32)
    """
    a = np.asarray(a)
    e = np.asarray(e)
    if method is None:
        method = "SPS"
    if method not in ("SPS", "blockEnlarge"):
        raise ValueError(f"Unknown implementation {method}")
    _square_stack(a, "expected A to be a square matrix")
    _square_stack(e, "expected E to be a square matrix")
    if a.shape[-2:] != e.shape[-2:]:
        raise ValueError("expected A and E to be the same shape")
    dtype = _compute_dtype(a.dtype, e.dtype)
    batch = np.broadcast_shapes(a.shape[:-2], e.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:]).astype(dtype, copy=False)
    e = np.broadcast_to(e, batch + e.shape[-2:]).astype(dtype, copy=False)
    expm_a, frechet = _core.frechet_stack(a, e, method)
    if compute_expm:
        return expm_a, frechet
    return frechet


# ---------------------------------------------------------------- expm_cond


def expm_cond(a: npt.ArrayLike, check_finite: bool = True) -> Any:
    """Relative condition number of the matrix exponential in the Frobenius norm.

    A drop-in for :func:`scipy.linalg.expm_cond`:
    ``kappa(A) = ||K(A)||_2 ||A||_F / ||expm(A)||_F``, where ``K(A)`` is the ``n^2 x n^2``
    Kronecker form of the Frechet derivative (``vec L(A, E) = K(A) vec E``).

    Parameters
    ----------
    a : array_like
        Square matrix, or stack ``(..., n, n)`` of matrices.
    check_finite : bool, optional
        Accepted for compatibility; NaN and infinity always raise ``ValueError``.

    Returns
    -------
    kappa : numpy.floating or numpy.ndarray
        The condition number (a numpy scalar for one matrix, an array of shape ``(...)`` for a
        stack), float32 for float32 and complex64 input, float64 otherwise. The empty matrix
        gives NaN.

    Raises
    ------
    ValueError
        If `a` is not a (stack of) square matrices or holds NaN or infinity.
    TypeError
        If the dtype is not numeric.

    Notes
    -----
    scipy forms ``K(A)`` column by column from ``n^2`` Frechet derivatives (O(n^5)) and takes
    its SVD (O(n^6)). linflow finds ``||K(A)||_2^2``, the largest eigenvalue of ``K^* K``, by
    Lanczos iteration with full reorthogonalization, applying ``K`` and ``K^*`` without forming
    them: ``K^* vec(F) = vec(L(A, F^*)^*)``. Every product is two Frechet derivatives that share
    one Pade and scaling setup, O(n^3) each; a few dozen steps give the same number to working
    accuracy. ``kappa`` depends on ``L`` and ``expm(A)`` only through their ratio, so it is
    finite wherever its exact value is representable, also where ``expm(A)`` overflows (scipy
    raises ``ValueError`` there): the squarings rescale both by common powers of two.

    Examples
    --------
    >>> import numpy as np
    >>> from linflow import expm_cond
    >>> a = np.array([[-0.3, 0.2, 0.6], [0.6, 0.3, -0.1], [-0.7, 1.2, 0.9]])
    >>> print(f"{expm_cond(a):.12f}")
    1.778780586447
    >>> expm_cond(np.array([[[2.0]], [[-3.0]]]))
    array([2., 3.])
    """
    a = np.asarray(a)
    _square_stack(a, "expected a square matrix")
    a = a.astype(_compute_dtype(a.dtype), copy=False)
    kappa = _core.cond_stack(a)
    return kappa[()] if kappa.ndim == 0 else kappa


# ---------------------------------------------------------------- expm_multiply


def _scipy_sparse() -> Any:
    """scipy.sparse if the caller has imported it (else nothing can be a sparse matrix)."""
    return sys.modules.get("scipy.sparse")


def _is_operator(a: Any) -> bool:
    """A linear operator: has ``shape`` and ``matmat`` (``rmatmat`` is needed for the norm
    estimates; its absence surfaces as the operator's own error)."""
    return hasattr(a, "shape") and hasattr(a, "matmat") and not isinstance(a, np.ndarray)


def expm_multiply(
    A: Any,
    B: Any,
    start: Any = None,
    stop: Any = None,
    num: int | None = None,
    endpoint: bool | None = None,
    traceA: Any = None,
) -> np.ndarray:
    """Compute the action of the matrix exponential of `A` on `B`.

    A drop-in for :func:`scipy.sparse.linalg.expm_multiply`: ``expm(t A) @ B`` without forming
    ``expm(t A)``, at ``t = 1`` or on the grid ``numpy.linspace(start, stop, num, endpoint)``.

    Parameters
    ----------
    A : array_like, scipy.sparse matrix or array, or linear operator
        Square ``(n, n)``. CSR and DIA matrices are read in place; other sparse formats are
        converted to CSR once. A CSR matrix whose entries lie on at most 16 diagonals (and fill
        them at least half) is run by diagonals, after one copy of its entries. A linear operator (e.g. :class:`scipy.sparse.linalg.LinearOperator`) is used
        through ``matmat`` and, for the 1-norm estimates, ``rmatmat``.
    B : array_like or scipy.sparse matrix
        ``(n,)`` or ``(n, k)``. A sparse `B` is converted to a dense array.
    start, stop : float, optional
        First and last time of the grid; as ``numpy.linspace`` takes them. Any order and sign.
    num : int, optional
        Number of times (default 50 when a grid is asked for); at least 2.
    endpoint : bool, optional
        Whether `stop` is included (default True).
    traceA : scalar, optional
        Trace of `A`, used only for the shift ``mu = traceA / n`` of the algorithm: an
        approximation is fine, and a shift that would increase ``||A - mu I||_1`` is dropped.
        Exact for dense and sparse `A` when not given; for an operator it is then estimated
        (with a ``UserWarning``, as scipy does).

    Returns
    -------
    numpy.ndarray
        ``expm(A) @ B`` with the shape of `B`, or ``expm(t_k A) @ B`` stacked: ``(num, n)`` or
        ``(num, n, k)``. dtype: numpy's promotion of the dtypes of `A` and `B` (float16 ->
        float32, integers and bool -> float64); float32 and complex64 compute in single
        precision with single-precision thresholds.

    Raises
    ------
    ValueError
        If `A` is not square, `B` is not 1-D or 2-D or has the wrong length, the grid has fewer
        than 2 points, an input holds NaN or infinity, or the Taylor steps would take more than
        1e9 products with `A` (``||tA||_1`` beyond about 1e10: scipy runs for ever there) for
        a sparse `A`, a linear operator, a time grid or a result that overflows. A dense `A` at a
        single time is exponentiated by scaling and squaring instead where that is cheaper.
    TypeError
        If a dtype is not numeric, or `start`/`stop` are missing for a grid (from
        ``numpy.linspace``).

    Warns
    -----
    UserWarning
        If `A` is a linear operator and `traceA` is not given.

    Notes
    -----
    Al-Mohy & Higham (2011), Algorithm 3.2: ``exp(tA) B = e^(t mu) (T_m(t (A - mu I) / s))^s B``
    with a truncated Taylor series ``T_m``, ``(m, s)`` from the 1-norm (or 1-norm estimates of
    powers) of ``A - mu I`` and the thresholds ``theta_m`` of the working precision, and early
    truncation of each Taylor sum. On a grid (Algorithm 5.2) the first time gets parameters of
    its own and the Taylor vectors of each step are reused for every grid point in it. Norms are
    taken with ``|t|``, so unlike scipy 1.17 reversed grids (``stop < start``) and grids far
    from 0 are computed correctly (scipy issues 16375 and 16311). The random vectors of the
    estimators come from a fixed seed: results are reproducible. Where ``expm(t A) @ B``
    overflows the result is infinite there and accurate elsewhere, never NaN (scipy's is NaN):
    a result that overflowed is recomputed with products that skip the zeros of ``A``.

    References
    ----------
    .. [1] A. H. Al-Mohy and N. J. Higham, "Computing the action of the matrix exponential,
           with an application to exponential integrators", SIAM J. Sci. Comput.
           33(2):488-511, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from linflow import expm_multiply
    >>> a = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> b = np.array([np.exp(-1.0), np.exp(-2.0)])
    >>> expm_multiply(a, b, start=1, stop=2, num=3, endpoint=True).round(8)
    array([[1.        , 1.        ],
           [1.64872127, 2.71828183],
           [2.71828183, 7.3890561 ]])
    >>> expm_multiply(a, b, start=2, stop=0, num=3).round(8)  # backwards in time
    array([[2.71828183, 7.3890561 ],
           [1.        , 1.        ],
           [0.36787944, 0.13533528]])
    """
    sparse = _scipy_sparse()
    kind: str
    if sparse is not None and sparse.issparse(A):
        kind = "csr"
        shape = tuple(A.shape)
        a_dtype = A.dtype
    elif _is_operator(A):
        kind = "operator"
        shape = tuple(A.shape)
        op_dtype = getattr(A, "dtype", None)
        a_dtype = np.dtype(op_dtype) if op_dtype is not None else np.dtype(np.float64)
    else:
        kind = "dense"
        A = np.asarray(A)
        shape = A.shape
        a_dtype = A.dtype
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError("expected A to be like a square matrix")
    if sparse is not None and sparse.issparse(B):
        B = B.toarray()
    B = np.asarray(B)
    if B.ndim not in (1, 2):
        raise ValueError("expected B to be like a matrix or a vector")
    if B.shape[0] != shape[1]:
        raise ValueError(f"shapes of matrices A {shape} and B {B.shape} are incompatible")
    dtype = _compute_dtype(a_dtype, B.dtype)
    block = (B[:, None] if B.ndim == 1 else B).astype(dtype, copy=False)
    times = _times(start, stop, num, endpoint)
    trace = None if traceA is None else complex(traceA)
    trace_pair = None if trace is None else (trace.real, trace.imag)
    n = shape[0]
    if kind == "csr" and A.format == "dia" and A.data.ndim == 2:
        data = np.asarray(A.data).astype(dtype, copy=False)
        offsets = [int(o) for o in A.offsets]
        out = _core.expm_multiply_dia(n, offsets, data, block, times, trace_pair)
    elif kind == "csr":
        csr = A if A.format == "csr" else A.tocsr()
        data = np.asarray(csr.data).astype(dtype, copy=False)
        indices, indptr = np.asarray(csr.indices), np.asarray(csr.indptr)
        if indices.dtype != indptr.dtype:
            common = np.promote_types(indices.dtype, indptr.dtype)
            indices, indptr = indices.astype(common), indptr.astype(common)
        out = _core.expm_multiply_csr(n, data, indices, indptr, block, times, trace_pair)
    elif kind == "operator":
        if trace is None:
            warnings.warn(
                "Trace of LinearOperator not available, it will be estimated: pass traceA to "
                "avoid the estimate's products and its effect on the shift.",
                UserWarning,
                stacklevel=2,
            )
        out = _core.expm_multiply_operator(A, n, block, times, trace_pair)
    else:
        # C order (a copy only for other layouts): the products then round the same way for
        # every layout of the same values, so results are bit-identical (tests/README.md).
        a = np.ascontiguousarray(A, dtype=dtype)
        out = _core.expm_multiply_dense(a, block, times, trace_pair)
    if B.ndim == 1:
        out = out.reshape(out.shape[:-1])
    return out


def _times(start: Any, stop: Any, num: int | None, endpoint: bool | None) -> Any:
    """``(start, step, count)`` of the grid ``numpy.linspace`` makes, or None for ``t = 1``."""
    if start is None and stop is None and num is None and endpoint is None:
        return None
    for end in (start, stop):
        if end is not None and not np.all(np.isfinite(end)):
            raise ValueError("array must not contain infs or NaNs")
    kwargs: dict[str, Any] = {"retstep": True}
    if num is not None:
        kwargs["num"] = num
    if endpoint is not None:
        kwargs["endpoint"] = endpoint
    samples, step = np.linspace(start, stop, **kwargs)
    if len(samples) < 2:
        raise ValueError("at least two time points are required")
    return (float(samples[0]), float(step), len(samples))

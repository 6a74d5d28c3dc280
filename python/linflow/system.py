"""Linear systems ``x' = A x``: the :class:`LinearSystem` facade, :class:`Propagator` and the
2-D :func:`vector_field`.

The numerical work (exponentials, stepping, products) happens in the Rust core through
:mod:`linflow._core`; this module names things, classifies fixed points and draws (with
matplotlib, an optional extra: ``pip install linflow[plot]``).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import _core

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from matplotlib.axes import Axes

__all__ = ["LinearSystem", "Propagator", "VectorField", "vector_field"]


class VectorField(NamedTuple):
    """A 2-D vector field on a grid: mesh arrays of shape ``(ny, nx)``, ready for
    :func:`matplotlib.pyplot.quiver` as ``quiver(x, y, u, v)``.

    Attributes
    ----------
    x, y : numpy.ndarray
        The coordinates of the grid points (``numpy.meshgrid`` layout).
    u, v : numpy.ndarray
        The components of the arrow at each grid point.

    Examples
    --------
    >>> import numpy as np
    >>> from linflow import vector_field
    >>> field = vector_field(np.diag([-1.0, 0.5]), num=3)
    >>> field.x
    array([[-1.,  0.,  1.],
           [-1.,  0.,  1.],
           [-1.,  0.,  1.]])
    >>> field.u[0]
    array([ 1., -0., -1.])
    """

    x: npt.NDArray[Any]
    y: npt.NDArray[Any]
    u: npt.NDArray[Any]
    v: npt.NDArray[Any]


def _grid_counts(num: int | tuple[int, int]) -> tuple[int, int]:
    """``num`` as ``(nx, ny)``: one count for both axes or a pair."""
    counts: tuple[Any, ...] = (num, num) if np.ndim(num) == 0 else tuple(num)  # type: ignore[arg-type]
    if len(counts) != 2:
        raise ValueError(f"num must be an int or a pair of ints, got {num!r}")
    nx, ny = (operator.index(c) for c in counts)
    if nx < 1 or ny < 1:
        raise ValueError(f"num must be positive, got {num!r}")
    return nx, ny


def _limits(lim: tuple[float, float], name: str) -> tuple[float, float]:
    values = np.asarray(lim, dtype=float)
    if values.shape != (2,):
        raise ValueError(f"{name} must be a pair (low, high), got {lim!r}")
    if not np.all(np.isfinite(values)):
        # Before numpy.linspace, which would warn about the inf - inf it computes.
        raise ValueError(f"{name} must not contain infs or NaNs, got {lim!r}")
    return float(values[0]), float(values[1])


def vector_field(
    a: npt.ArrayLike,
    xlim: tuple[float, float] = (-1.0, 1.0),
    ylim: tuple[float, float] = (-1.0, 1.0),
    num: int | tuple[int, int] = 21,
    dt: float | None = None,
) -> VectorField:
    """The vector field of the 2-D system ``x' = a x`` on a regular grid.

    Without ``dt`` the arrows are the velocities ``a @ p`` at the grid points ``p``; with
    ``dt`` they are the displacements ``expm(dt a) @ p - p``: where each point goes in the time
    ``dt``, the whole grid moved by one matrix product. The displacement is computed as
    ``W a p`` with ``W = int_0^dt expm(s a) ds`` (from one block exponential), so it keeps full
    relative accuracy for small ``dt`` where ``expm(dt a) @ p - p`` would cancel.

    Parameters
    ----------
    a : array_like, shape (2, 2)
        The system matrix.
    xlim, ylim : pair of float, optional
        The range of each coordinate (default ``(-1, 1)``).
    num : int or pair of int, optional
        Grid points per axis, as :func:`numpy.linspace` counts them (default 21), or
        ``(nx, ny)``.
    dt : float, optional
        The time step of the displacement (default: velocities).

    Returns
    -------
    VectorField
        The named tuple ``(x, y, u, v)`` of mesh arrays of shape ``(ny, nx)``.

    Raises
    ------
    ValueError
        If ``a`` is not 2x2, a limit is not a pair, ``num`` is not positive, or an input holds
        NaN or infinity.
    TypeError
        If ``a`` is not numeric or ``dt`` is complex.

    Examples
    --------
    The saddle ``x' = diag(-1, 0.5) x`` on the grid -1..1 step 0.2, each point moved by
    ``dt = 0.1``: arrows point in along x and out along y.

    >>> import numpy as np
    >>> from linflow import vector_field
    >>> f = vector_field(np.diag([-1.0, 0.5]), num=11, dt=0.1)
    >>> f.u.shape
    (11, 11)
    >>> round(float(f.u[-1, -1]), 12), round(float(f.v[-1, -1]), 12)   # at (1, 1)
    (-0.095162581964, 0.051271096376)
    """
    nx, ny = _grid_counts(num)
    xs = np.linspace(*_limits(xlim, "xlim"), nx)
    ys = np.linspace(*_limits(ylim, "ylim"), ny)
    return VectorField(*_core.vector_field(a, xs, ys, dt))


def _real_scalar(value: Any, name: str) -> float:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number, got dtype {arr.dtype}")
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    result = float(arr)
    if not np.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    return result


def _readonly(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    x.setflags(write=False)
    return x


class Propagator:
    """The one-step map ``B = expm(dt A)`` of ``x' = A x``.

    ``B`` moves any state ``dt`` forward in time exactly, so a trajectory on the grid
    ``0, dt, 2 dt, ...`` is the sequence ``x0, B x0, B^2 x0, ...``, and a whole set of states
    moves in one product.

    Parameters
    ----------
    a : array_like, shape (n, n)
        The system matrix ``A``.
    dt : float
        The time step (negative: backward in time).

    Raises
    ------
    ValueError
        If ``a`` is not a square 2-D array or an input holds NaN or infinity.
    TypeError
        If ``a`` is not numeric or ``dt`` is not a real number.

    See Also
    --------
    LinearSystem.propagator, propagator

    Examples
    --------
    >>> import numpy as np
    >>> from linflow import Propagator
    >>> p = Propagator([[-1.0, 0.0], [0.0, 0.5]], 0.1)
    >>> p.dt
    0.1
    >>> p.matrix.round(6)
    array([[0.904837, 0.      ],
           [0.      , 1.051271]])
    """

    __slots__ = ("_a", "_dt", "_matrix")

    def __init__(self, a: npt.ArrayLike, dt: float) -> None:
        self._dt = _real_scalar(dt, "dt")
        self._matrix = _readonly(np.asarray(_core.propagator(a, self._dt)))
        self._a = _readonly(np.array(a, dtype=self._matrix.dtype))

    @property
    def matrix(self) -> npt.NDArray[Any]:
        """The matrix ``B = expm(dt A)`` (read-only).

        Examples
        --------
        >>> import numpy as np
        >>> from linflow import Propagator
        >>> t = np.pi / 2
        >>> Propagator([[0.0, -1.0], [1.0, 0.0]], t).matrix.round(12)
        array([[ 0., -1.],
               [ 1.,  0.]])
        """
        return self._matrix

    @property
    def dt(self) -> float:
        """The time step.

        Examples
        --------
        >>> from linflow import Propagator
        >>> Propagator([[0.0]], 0.25).dt
        0.25
        """
        return self._dt

    @property
    def a(self) -> npt.NDArray[Any]:
        """The system matrix ``A`` (read-only).

        Examples
        --------
        >>> from linflow import Propagator
        >>> Propagator([[1, 2], [3, 4]], 0.1).a
        array([[1., 2.],
               [3., 4.]])
        """
        return self._a

    def step(self, x: npt.ArrayLike, steps: int = 1) -> npt.NDArray[Any]:
        """Move states ``steps * dt`` forward: ``x @ B.T`` for one step.

        Parameters
        ----------
        x : array_like, shape (..., n)
            One state or a stack of states.
        steps : int, optional
            How many steps (default 1); 0 returns a copy, a negative count moves backward.
            Several steps are taken as one exact exponential ``expm(steps * dt * A)``.

        Returns
        -------
        numpy.ndarray, shape (..., n)
            The moved states.

        Raises
        ------
        ValueError
            If ``x`` does not end in ``n`` or holds NaN or infinity.
        TypeError
            If ``steps`` is not an integer.

        Examples
        --------
        >>> import numpy as np
        >>> from linflow import Propagator
        >>> p = Propagator([[0.0, -1.0], [1.0, 0.0]], np.pi / 4)   # an eighth of a turn
        >>> p.step([1.0, 0.0]).round(6)
        array([0.707107, 0.707107])
        >>> p.step([[1.0, 0.0], [0.0, 1.0]], steps=2).round(12)
        array([[ 0.,  1.],
               [-1.,  0.]])
        """
        count = operator.index(steps)
        return np.asarray(_core.flow_map(self._a, x, count * self._dt))

    def iterate(self, x0: npt.ArrayLike, steps: int) -> npt.NDArray[Any]:
        """The trajectory ``x0, B x0, ..., B^steps x0`` at times ``0, dt, ..., steps * dt``.

        Stepping is re-anchored every 32 steps on exactly computed powers of ``B``, so the
        error does not grow with the number of steps (a rotation stepped 10^5 times keeps its
        norm to about 1e-14).

        Parameters
        ----------
        x0 : array_like, shape (..., n)
            One initial state or a stack of them.
        steps : int
            The number of steps (at least 0).

        Returns
        -------
        numpy.ndarray, shape (..., steps + 1, n)
            The states, the initial one first.

        Raises
        ------
        ValueError
            If ``x0`` does not end in ``n``, ``steps`` is negative, or ``x0`` holds NaN or
            infinity.

        Examples
        --------
        The system ``x' = diag(-1, 0.5) x`` from ``(1, 0.4)`` with ``dt = 0.1``, 20 steps:

        >>> import numpy as np
        >>> from linflow import Propagator
        >>> x = Propagator(np.diag([-1.0, 0.5]), 0.1).iterate([1.0, 0.4], 20)
        >>> x.shape
        (21, 2)
        >>> t = 0.1 * np.arange(21)
        >>> bool(np.allclose(x, np.stack([np.exp(-t), 0.4 * np.exp(t / 2)], axis=1), rtol=1e-14))
        True
        """
        return np.asarray(_core.iterate(self._a, x0, self._dt, operator.index(steps)))

    def __repr__(self) -> str:
        return f"Propagator(n={self._a.shape[0]}, dt={self._dt!r}, dtype={self._a.dtype})"


def _tiny(x: float, scale: float, eps: float) -> bool:
    """True when ``x`` is zero to the rounding of a quantity of size ``scale``."""
    return abs(x) <= 8.0 * eps * scale


class LinearSystem:
    """The linear system ``x' = A x``: its eigenvalues, the kind of its fixed point, its
    propagators, trajectories, flow maps and vector field, and plots of them.

    Parameters
    ----------
    a : array_like, shape (n, n)
        The system matrix. dtype as :func:`linflow.expm` takes it: float32 and complex64
        systems compute in single precision.

    Raises
    ------
    ValueError
        If ``a`` is not a square 2-D array or holds NaN or infinity.
    TypeError
        If ``a`` is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> from linflow import LinearSystem
    >>> spiral = LinearSystem([[-0.5, 1.0], [-1.0, -0.5]])
    >>> spiral.eigenvalues
    array([-0.5-1.j, -0.5+1.j])
    >>> spiral.classify()
    'stable spiral'
    >>> spiral.trajectory([2.0, 0.0], np.linspace(0, 10, 201)).shape
    (201, 2)
    """

    __slots__ = ("_a",)

    def __init__(self, a: npt.ArrayLike) -> None:
        # The core checks the matrix (square, finite, numeric) and fixes its dtype.
        identity = np.asarray(_core.propagator(a, 0.0))
        self._a = _readonly(np.array(a, dtype=identity.dtype))

    @property
    def a(self) -> npt.NDArray[Any]:
        """The system matrix ``A`` (read-only).

        Examples
        --------
        >>> from linflow import LinearSystem
        >>> LinearSystem([[0, 1], [-1, 0]]).a
        array([[ 0.,  1.],
               [-1.,  0.]])
        """
        return self._a

    @property
    def n(self) -> int:
        """The order of the system (the length of a state).

        Examples
        --------
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> LinearSystem(np.eye(3)).n
        3
        """
        return int(self._a.shape[0])

    @property
    def eigenvalues(self) -> npt.NDArray[Any]:
        """The eigenvalues of ``A``, sorted by real part, then imaginary part.

        Examples
        --------
        >>> from linflow import LinearSystem
        >>> LinearSystem([[-1.0, 0.0], [0.0, -2.0]]).eigenvalues
        array([-2., -1.])
        """
        values = np.linalg.eigvals(self._a)
        if np.iscomplexobj(values) and not np.iscomplexobj(self._a) and not values.imag.any():
            values = values.real
        order = np.lexsort((values.imag, values.real)) if np.iscomplexobj(values) else np.argsort(values)
        return values[order]

    def classify(self) -> str:
        """The kind of the fixed point at the origin.

        For a real 2-D system, from the trace ``tau``, determinant ``delta`` and discriminant
        ``tau^2 - 4 delta`` (each taken as zero within its rounding error):

        - ``"saddle"`` (``delta < 0``);
        - ``"stable node"`` / ``"unstable node"`` (real eigenvalues of one sign);
        - ``"stable spiral"`` / ``"unstable spiral"`` (complex eigenvalues);
        - ``"center"`` (purely imaginary eigenvalues);
        - the degenerate cases: ``"stable star"`` / ``"unstable star"`` (``A = lambda I``),
          ``"stable degenerate node"`` / ``"unstable degenerate node"`` (a repeated eigenvalue
          with one eigenvector), ``"line of stable fixed points"`` /
          ``"line of unstable fixed points"`` (one zero eigenvalue), ``"line of fixed points"``
          (``A`` nilpotent, not zero) and ``"plane of fixed points"`` (``A = 0``).

        Other systems (any order, or complex) get their stability: ``"stable"`` (every
        eigenvalue has a negative real part), ``"unstable"`` (one has a positive real part, or
        an eigenvalue on the imaginary axis has a Jordan block, so solutions grow
        polynomially) or ``"marginally stable"``.

        Returns
        -------
        str

        Examples
        --------
        >>> from linflow import LinearSystem
        >>> LinearSystem([[-1.0, 0.0], [0.0, 0.5]]).classify()
        'saddle'
        >>> LinearSystem([[0.0, 1.0], [-1.0, 0.0]]).classify()
        'center'
        >>> LinearSystem([[-0.1, 1, 0], [-1, -0.1, 0], [0, 0, -0.5]]).classify()
        'stable'
        """
        a = self._a
        eps = float(np.finfo(a.dtype).eps)
        if a.shape == (2, 2) and not np.iscomplexobj(a):
            return _classify_plane(a.astype(np.float64), eps)
        return _stability(a.astype(np.complex128), eps)

    def propagator(self, dt: float) -> Propagator:
        """The one-step map ``expm(dt A)`` as a :class:`Propagator`.

        Parameters
        ----------
        dt : float
            The time step.

        Returns
        -------
        Propagator

        Examples
        --------
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> p = LinearSystem(np.diag([-1.0, 0.5])).propagator(0.1)
        >>> p.iterate([1.0, 0.4], 20)[-1].round(6)
        array([0.135335, 1.087313])
        """
        return Propagator(self._a, dt)

    def trajectory(self, x0: npt.ArrayLike, t: npt.ArrayLike) -> npt.NDArray[Any]:
        """The states at the times ``t`` from ``x0`` (see :func:`linflow.trajectory`).

        Parameters
        ----------
        x0 : array_like, shape (..., n)
            One initial state (at time 0) or a stack of them.
        t : array_like of float, shape (T,)
            The times: any spacing, sign and order.

        Returns
        -------
        numpy.ndarray, shape (..., T, n)

        Examples
        --------
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> sys = LinearSystem([[-1.0, 0.0], [0.0, -2.0]])
        >>> sys.trajectory([1.0, 1.0], [0.0, 1.0])
        array([[1.        , 1.        ],
               [0.36787944, 0.13533528]])
        """
        return np.asarray(_core.trajectory(self._a, x0, t))

    def flow_map(self, points: npt.ArrayLike, dt: float) -> npt.NDArray[Any]:
        """Every point moved ``dt`` along the flow (see :func:`linflow.flow_map`).

        Parameters
        ----------
        points : array_like, shape (..., n)
        dt : float

        Returns
        -------
        numpy.ndarray, the shape of ``points``

        Examples
        --------
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> LinearSystem([[0.0, -1.0], [1.0, 0.0]]).flow_map([[1.0, 0.0]], np.pi).round(12)
        array([[-1.,  0.]])
        """
        return np.asarray(_core.flow_map(self._a, points, dt))

    def vector_field(
        self,
        xlim: tuple[float, float] = (-1.0, 1.0),
        ylim: tuple[float, float] = (-1.0, 1.0),
        num: int | tuple[int, int] = 21,
        dt: float | None = None,
    ) -> VectorField:
        """The vector field of a 2-D system on a grid (see :func:`linflow.vector_field`).

        Examples
        --------
        >>> from linflow import LinearSystem
        >>> LinearSystem([[-1.0, 0.0], [0.0, 0.5]]).vector_field(num=5).v.shape
        (5, 5)
        """
        return vector_field(self._a, xlim, ylim, num, dt)

    # ------------------------------------------------------------ plots (matplotlib)

    def _one_trajectory(self, x0: npt.ArrayLike, t: npt.ArrayLike) -> npt.NDArray[Any]:
        """The trajectory ``(T, n)`` from one initial state (a plot of one curve)."""
        states = self.trajectory(x0, t)
        if states.ndim != 2:
            raise ValueError(f"x0 must be one state of shape ({self.n},), got shape {np.shape(x0)}")
        return states

    def plot_trajectory(
        self,
        x0: npt.ArrayLike,
        t: npt.ArrayLike,
        ax: Axes | None = None,
        labels: list[str] | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Plot each component of the trajectory from ``x0`` against time.

        Parameters
        ----------
        x0 : array_like, shape (n,)
            The initial state.
        t : array_like of float, shape (T,)
            The times.
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).
        labels : list of str, optional
            One legend label per component (default ``x1, x2, ...``).
        **kwargs
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ImportError
            Without matplotlib (``pip install linflow[plot]``).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> ax = LinearSystem(np.diag([-1.0, 0.5])).plot_trajectory([1.0, 0.4], np.linspace(0, 2, 21))
        >>> len(ax.lines)
        2
        """
        from . import plot

        times = np.asarray(t, dtype=float)
        return plot.plot_trajectory(times, self._one_trajectory(x0, times), ax=ax, labels=labels, **kwargs)

    def plot_phase_portrait(
        self,
        x0s: npt.ArrayLike,
        t: npt.ArrayLike,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Plot the trajectories from many initial conditions in the phase plane (2-D
        systems) or phase space (3-D systems, on 3-D axes).

        Parameters
        ----------
        x0s : array_like, shape (k, n) or (n,)
            The initial conditions.
        t : array_like of float, shape (T,)
            The times.
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure; 3-D axes for a 3-D system).
        **kwargs
            Passed to :meth:`matplotlib.axes.Axes.plot` for every curve.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            If the system is not 2-D or 3-D.
        ImportError
            Without matplotlib (``pip install linflow[plot]``).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> spiral = LinearSystem([[-0.5, 1.0], [-1.0, -0.5]])
        >>> x0s = [[2, 0], [0, 2], [-2, 0], [0, -2], [1.5, 1.5], [-1.5, 1.5], [-1.5, -1.5], [1.5, -1.5]]
        >>> ax = spiral.plot_phase_portrait(x0s, np.linspace(0, 10, 201))
        >>> len(ax.lines)
        8
        """
        from . import plot

        states = self.trajectory(np.atleast_2d(np.asarray(x0s)), t)
        return plot.plot_phase_portrait(states, ax=ax, **kwargs)

    def plot_trajectory_3d(
        self,
        x0: npt.ArrayLike,
        t: npt.ArrayLike,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Plot the trajectory of a 3-D system from ``x0`` as a curve in space.

        Parameters
        ----------
        x0 : array_like, shape (3,)
        t : array_like of float, shape (T,)
        ax : mpl_toolkits.mplot3d.axes3d.Axes3D, optional
            Where to draw (default: new 3-D axes).
        **kwargs
            Passed to the axes' ``plot``.

        Returns
        -------
        mpl_toolkits.mplot3d.axes3d.Axes3D

        Raises
        ------
        ValueError
            If the system is not 3-D.
        ImportError
            Without matplotlib (``pip install linflow[plot]``).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from linflow import LinearSystem
        >>> decay = LinearSystem([[-0.1, 1, 0], [-1, -0.1, 0], [0, 0, -0.5]])
        >>> ax = decay.plot_trajectory_3d([1.0, 0.0, 2.0], np.linspace(0, 20, 201))
        >>> ax.name
        '3d'
        """
        from . import plot

        if self.n != 3:
            raise ValueError(f"a 3-D trajectory plot needs a 3-D system, this one is {self.n}-D")
        return plot.plot_phase_portrait(self._one_trajectory(x0, t)[np.newaxis], ax=ax, **kwargs)

    def plot_vector_field(
        self,
        xlim: tuple[float, float] = (-1.0, 1.0),
        ylim: tuple[float, float] = (-1.0, 1.0),
        num: int | tuple[int, int] = 21,
        dt: float | None = None,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Draw the vector field of a 2-D system as arrows (a quiver plot).

        Parameters
        ----------
        xlim, ylim, num, dt
            As :func:`linflow.vector_field`: with ``dt`` each arrow goes from a grid point to
            where the flow takes it in the time ``dt``.
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).
        **kwargs
            Passed to :meth:`matplotlib.axes.Axes.quiver`.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            If the system is not 2-D.
        ImportError
            Without matplotlib (``pip install linflow[plot]``).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from linflow import LinearSystem
        >>> ax = LinearSystem([[-1.0, 0.0], [0.0, 0.5]]).plot_vector_field(num=11, dt=0.1)
        >>> len(ax.collections)
        1
        """
        from . import plot

        if self.n != 2:
            raise ValueError(f"a vector field needs a 2-D system, this one is {self.n}-D")
        field = self.vector_field(xlim, ylim, num, dt)
        return plot.plot_vector_field(field, ax=ax, displacement=dt is not None, **kwargs)

    def __repr__(self) -> str:
        return f"LinearSystem({np.array2string(self._a, separator=', ')})"


def _classify_plane(a: npt.NDArray[np.float64], eps: float) -> str:
    """The fixed-point kind of a real 2x2 system (Strogatz, Nonlinear Dynamics and Chaos, 5.2)."""
    (p, q), (r, s) = a
    trace, det = p + s, p * s - q * r
    # tau^2 - 4 delta written without the cancellation of tau^2 against 4 delta.
    disc = (p - s) ** 2 + 4.0 * q * r
    zero_trace = _tiny(trace, abs(p) + abs(s), eps)
    zero_det = _tiny(det, abs(p * s) + abs(q * r), eps)
    zero_disc = _tiny(disc, (p - s) ** 2 + 4.0 * abs(q * r), eps)
    sign = "stable" if trace < 0 else "unstable"
    if zero_det:
        if not a.any():
            return "plane of fixed points"
        if zero_trace:
            return "line of fixed points"
        return f"line of {sign} fixed points"
    if det < 0:
        return "saddle"
    if zero_disc:
        scale = float(np.abs(a).max())
        star = _tiny(q, scale, eps) and _tiny(r, scale, eps) and _tiny(p - s, scale, eps)
        return f"{sign} star" if star else f"{sign} degenerate node"
    if disc > 0:
        return f"{sign} node"
    return "center" if zero_trace else f"{sign} spiral"


def _stability(a: npt.NDArray[np.complex128], eps: float) -> str:
    """Stability of ``x' = a x`` of any order from the eigenvalues of ``a``."""
    n = a.shape[0]
    if n == 0:
        return "marginally stable"
    scale = float(np.abs(a).sum(axis=0).max())
    values = np.linalg.eigvals(a)
    tol = 8.0 * n * eps * scale
    if values.real.max() < -tol:
        return "stable"
    if values.real.max() > tol:
        return "unstable"
    # Eigenvalues on the imaginary axis: bounded only if each is semisimple (as many
    # eigenvectors as its multiplicity). A defective eigenvalue splits by about sqrt(eps), so
    # the multiplicity counts the eigenvalues within that distance.
    spread = np.sqrt(eps) * max(scale, 1.0)
    for mu in values[np.abs(values.real) <= tol]:
        multiplicity = int(np.sum(np.abs(values - mu) <= spread))
        sv = np.linalg.svd(a - mu * np.eye(n), compute_uv=False)
        nullity = int(np.sum(sv <= spread * 8.0))
        if nullity < multiplicity:
            return "unstable"
    return "marginally stable"

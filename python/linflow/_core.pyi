"""Type stubs for the Rust extension ``linflow._core``."""

from typing import Any


import numpy.typing as npt

__version__: str

def expm(a: npt.ArrayLike, /) -> npt.NDArray[Any]:
    """Compute the matrix exponential of an array (see :func:`linflow.expm`)."""
    ...


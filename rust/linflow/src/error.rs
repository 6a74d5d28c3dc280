//! The one error type of the crate. User input never reaches a panic: every check returns one of
//! these values.

/// What can go wrong in a linflow computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A matrix argument was not square.
    #[error("expected a square matrix, got shape {rows}x{cols}")]
    NotSquare {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
    /// Two arguments (or an argument and an output buffer) have incompatible shapes.
    #[error("shape mismatch: expected {expected:?}, got {found:?}")]
    ShapeMismatch {
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was given.
        found: Vec<usize>,
    },
    /// The input holds NaN or infinity.
    #[error("array must not contain infs or NaNs")]
    NonFinite,
    /// A linear system that the algorithm must solve is singular.
    #[error("matrix is singular to working precision")]
    Singular,
    /// LAPACK reported an invalid argument (a bug in linflow, reported rather than hidden).
    #[error("LAPACK routine {routine} rejected argument {argument}")]
    Lapack {
        /// The routine's name.
        routine: &'static str,
        /// The position of the rejected argument.
        argument: i32,
    },
    // --- expm_multiply (action) ---
    /// A caller-supplied [`LinearOperator`](crate::LinearOperator) reported a failure.
    #[error("linear operator failed: {message}")]
    Operator {
        /// What the operator reported.
        message: String,
    },
    /// The arrays of a sparse (CSR or diagonal) matrix do not describe a valid matrix.
    #[error("invalid sparse matrix: {reason}")]
    InvalidSparse {
        /// Which rule the arrays break.
        reason: String,
    },
    /// `exp(tA) B` by Taylor steps would need more products with `A` than the limit (about
    /// `10^9`): `||tA||_1` is far too large for `expm_multiply` (a dense `A` can go through
    /// `expm`, which scales and squares).
    #[error(
        "exp(tA) B would need about {products} products with A, more than the limit of {limit}: ||tA||_1 is too large for Taylor steps (for a dense A use expm)"
    )]
    TooManySteps {
        /// Products with `A` the cheapest choice of Taylor degree and steps needs (saturating).
        products: u64,
        /// The limit.
        limit: u64,
    },
    /// An output (or workspace) of this shape cannot exist: the product of its dimensions
    /// overflows the address space, or the memory for it cannot be allocated.
    #[error("an array of shape {shape:?} is too large for memory")]
    TooLarge {
        /// The shape that was asked for.
        shape: Vec<usize>,
    },
}

/// `Result` with linflow's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A zero-filled array of `shape`, or [`Error::TooLarge`] where ndarray would panic (a shape whose
/// size overflows `isize` bytes) or the allocator would abort (memory that cannot be had).
pub(crate) fn try_zeros<S, D>(
    shape: impl ndarray::IntoDimension<Dim = D>,
) -> Result<ndarray::Array<S, D>>
where
    S: Clone + num_traits::Zero,
    D: ndarray::Dimension,
{
    let dim = shape.into_dimension();
    let too_large = || Error::TooLarge {
        shape: dim.slice().to_vec(),
    };
    let len = dim
        .slice()
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&len| {
            len.checked_mul(std::mem::size_of::<S>().max(1))
                .is_some_and(|bytes| bytes <= isize::MAX as usize)
        })
        .ok_or_else(too_large)?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| too_large())?;
    data.resize(len, S::zero());
    ndarray::Array::from_shape_vec(dim.clone(), data).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors() {
        let huge = try_zeros::<f64, _>((usize::MAX / 2, 3, 2));
        assert!(matches!(huge, Err(Error::TooLarge { .. })));
        let bytes = try_zeros::<f64, _>((1 << 40, 1 << 21));
        assert!(matches!(bytes, Err(Error::TooLarge { .. })));
        let ok = try_zeros::<f32, _>((2, 0, 3)).unwrap();
        assert_eq!(ok.shape(), &[2, 0, 3]);
    }
}

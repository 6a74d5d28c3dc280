//! Decoding fuzz bytes into the arguments of the core's functions, shared by the targets
//! (included with `#[path]`; not a target itself).
#![allow(dead_code)]

use linflow::{Precision, RealScalar, Scalar};
use ndarray::{Array2, ArrayView2};
use num_complex::Complex;

/// Reads the scalars of one type from little-endian bytes.
pub trait FromBytes: Scalar {
    const SIZE: usize;
    fn read(b: &[u8]) -> Self;
}
impl FromBytes for f32 {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        f32::from_le_bytes(b[..4].try_into().unwrap())
    }
}
impl FromBytes for f64 {
    const SIZE: usize = 8;
    fn read(b: &[u8]) -> Self {
        f64::from_le_bytes(b[..8].try_into().unwrap())
    }
}
impl FromBytes for Complex<f32> {
    const SIZE: usize = 8;
    fn read(b: &[u8]) -> Self {
        Complex::new(f32::read(b), f32::read(&b[4..]))
    }
}
impl FromBytes for Complex<f64> {
    const SIZE: usize = 16;
    fn read(b: &[u8]) -> Self {
        Complex::new(f64::read(b), f64::read(&b[8..]))
    }
}

/// The fuzz bytes, read front to back; zeros once they run out (a short input still gives
/// arguments of every size).
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A scalar from its bit pattern (NaN, infinities, subnormals, the extremes), or one of a
    /// few moderate values (so that finite results are common), as a tag byte chooses.
    pub fn scalar<S: FromBytes>(&mut self) -> S {
        match self.byte() % 4 {
            0 => S::zero(),
            1 => S::from_f64(f64::from(self.byte() as i8) / 16.0),
            _ if self.data.len() >= S::SIZE => {
                let (head, rest) = self.data.split_at(S::SIZE);
                self.data = rest;
                S::read(head)
            }
            _ => S::zero(),
        }
    }

    pub fn real<S: FromBytes>(&mut self) -> S::Real {
        self.scalar::<S>().re()
    }

    pub fn matrix<S: FromBytes>(&mut self, rows: usize, cols: usize) -> Array2<S> {
        Array2::from_shape_fn((rows, cols), |_| self.scalar::<S>())
    }
}

pub fn all_finite<'a, S: Scalar + 'a>(it: impl IntoIterator<Item = &'a S>) -> bool {
    it.into_iter().all(|v| v.is_finite())
}

/// `||A||_1` in `f64`.
pub fn norm1<S: Scalar>(a: ArrayView2<S>) -> f64 {
    a.columns()
        .into_iter()
        .map(|c| c.iter().map(|x| x.modulus().to_f64()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// The largest modulus in `f64`.
pub fn max_modulus<S: Scalar>(a: ArrayView2<S>) -> f64 {
    a.iter().map(|x| x.modulus().to_f64()).fold(0.0, f64::max)
}

/// Below this `||A||_1`, `exp(A)` cannot overflow `S` (a margin under `ln(max)`: 709.8 and 88.7).
pub fn overflow_free_norm<S: Scalar>() -> f64 {
    match S::PRECISION {
        Precision::Double => 700.0,
        Precision::Single => 80.0,
    }
}

/// Debug forms of the entries, for bit-for-bit comparisons that treat NaNs alike.
pub fn bits<S: Scalar>(a: ArrayView2<S>) -> Vec<String> {
    a.iter().map(|x| format!("{x:?}")).collect()
}

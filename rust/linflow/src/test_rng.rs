//! The unit tests' random numbers: a 64-bit linear congruential generator (Knuth's MMIX
//! constants), seeded per test, so every run of a test sees the same matrices.

/// The next uniform number in `[0, 1)` (53 bits) from `state`, which it advances.
pub(crate) fn uniform(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

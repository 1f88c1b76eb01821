//! Elementwise passes over a network's activations (bias and nonlinearity), compiled for AVX2 and
//! FMA at run time where the build's baseline lacks them: descent's own `exp` and `tanh` are
//! chains of fused multiply-adds, which a build for an older baseline (`x86-64-v2`) would compute
//! in software, several times slower. The functions to apply are traits with `#[inline(always)]`
//! methods, so that they are compiled into each version of the loop.

use crate::Float;

/// A function of one value, applied elementwise.
pub trait Map<F: Float>: Sync {
    /// f(x).
    fn apply(&self, x: F) -> F;
}

/// A function of two values, applied elementwise.
pub trait Map2<F: Float>: Sync {
    /// f(x, y).
    fn apply(&self, x: F, y: F) -> F;
}

/// yᵢⱼ ← f(yᵢⱼ + bⱼ) for every row of `rows` (rows of `bias.len()` values).
#[inline(always)]
pub fn add_bias_and_map<F: Float, M: Map<F>>(rows: &mut [F], bias: &[F], map: &M) {
    #[cfg(target_arch = "x86_64")]
    if !cfg!(target_feature = "fma") && crate::parallel::fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { add_bias_and_map_fma(rows, bias, map) };
    }
    add_bias_and_map_here(rows, bias, map)
}

/// outᵢ ← f(xᵢ, yᵢ).
#[inline(always)]
pub fn zip_map<F: Float, M: Map2<F>>(out: &mut [F], x: &[F], y: &[F], map: &M) {
    #[cfg(target_arch = "x86_64")]
    if !cfg!(target_feature = "fma") && crate::parallel::fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { zip_map_fma(out, x, y, map) };
    }
    zip_map_here(out, x, y, map)
}

#[inline(always)]
fn add_bias_and_map_here<F: Float, M: Map<F>>(rows: &mut [F], bias: &[F], map: &M) {
    for row in rows.chunks_exact_mut(bias.len().max(1)) {
        for (value, &offset) in row.iter_mut().zip(bias) {
            *value = map.apply(*value + offset);
        }
    }
}

#[inline(always)]
fn zip_map_here<F: Float, M: Map2<F>>(out: &mut [F], x: &[F], y: &[F], map: &M) {
    for (o, (&a, &b)) in out.iter_mut().zip(x.iter().zip(y)) {
        *o = map.apply(a, b);
    }
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_bias_and_map_fma<F: Float, M: Map<F>>(rows: &mut [F], bias: &[F], map: &M) {
    add_bias_and_map_here(rows, bias, map)
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn zip_map_fma<F: Float, M: Map2<F>>(out: &mut [F], x: &[F], y: &[F], map: &M) {
    zip_map_here(out, x, y, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tanh;
    impl Map<f32> for Tanh {
        #[inline(always)]
        fn apply(&self, x: f32) -> f32 {
            x.tanh()
        }
    }

    #[test]
    fn bias_then_map_row_by_row() {
        let mut rows = [0.0f32, 1.0, -1.0, 2.0];
        add_bias_and_map(&mut rows, &[0.5, -0.5], &Tanh);
        let expected = [0.5f32.tanh(), 0.5f32.tanh(), (-0.5f32).tanh(), 1.5f32.tanh()];
        assert_eq!(rows, expected);
    }
}

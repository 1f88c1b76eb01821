//! The f32 micro-kernels for x86-64 CPUs with AVX-512: a tile of C held in 24 of the 32 vector
//! registers, 16 floats each, either 8×48 (each step of k loads three vectors of B, broadcasts
//! eight values of A and issues 24 fused multiply-adds) or 12×32 (two vectors, twelve values, the
//! same 24). Either is enough independent work to keep both FMA units busy. The wide tile reads
//! fewer values per multiply-add; the narrow one fills whole tiles where C has 32 or 64 columns
//! (a convolution's filters), which 48-wide tiles would leave a third empty. Both compute each
//! element of C by the same fused multiply-adds in the same order. The compiler's own vectorizer
//! prefers 256-bit vectors on these CPUs, hence the intrinsics.

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_set1_ps, _mm512_setzero_ps,
};

/// Rows of the wide tile.
pub(super) const MR: usize = 8;
/// Vectors of 16 floats across the wide tile.
pub(super) const VECTORS: usize = 3;
/// Columns of the wide tile.
pub(super) const NR: usize = 16 * VECTORS;
/// Rows of the narrow tile.
pub(super) const NARROW_MR: usize = 12;
/// Vectors of 16 floats across the narrow tile.
pub(super) const NARROW_VECTORS: usize = 2;
/// Columns of the narrow tile.
pub(super) const NARROW_NR: usize = 16 * NARROW_VECTORS;

/// Whether this CPU can run [`kernel`] (checked once, then cached by the standard library).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// The AVX-512 micro-kernel for an `R`×`16·V` tile (see [`MicroKernel`](super::packed::MicroKernel)).
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]); `a` and `b` must hold `kc` steps of full panels
/// (`R` and `16·V` values per step); the `rows`×`cols` tile of C must be writable.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn kernel<const R: usize, const V: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    c_rs: isize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut acc: [[__m512; V]; R] = [[_mm512_setzero_ps(); V]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        // SAFETY: each step reads 16·V values of the B panel and R of the A panel, within kc steps.
        unsafe {
            let b_step: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(b.add(16 * v)));
            for (i, row) in acc.iter_mut().enumerate() {
                let a_i = _mm512_set1_ps(*a.add(i));
                for (sum, &b_v) in row.iter_mut().zip(&b_step) {
                    *sum = _mm512_fmadd_ps(a_i, b_v, *sum);
                }
            }
            a = a.add(R);
            b = b.add(16 * V);
        }
    }
    // Lanes past the last column are masked off: neither read nor written.
    let masks: [u16; V] = std::array::from_fn(|v| {
        let lanes = cols.saturating_sub(16 * v).min(16) as u32;
        ((1u32 << lanes) - 1) as u16
    });
    for (i, row) in acc.iter().enumerate() {
        if i >= rows {
            break;
        }
        for (v, (&sum, &mask)) in row.iter().zip(&masks).enumerate() {
            // SAFETY: row i < rows and the unmasked lanes lie inside the tile of C.
            unsafe {
                let out = c.offset(i as isize * c_rs).add(16 * v);
                let value = if accumulate { _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, out)) } else { sum };
                _mm512_mask_storeu_ps(out, mask, value);
            }
        }
    }
}

//! The f32 micro-kernel for x86-64 CPUs with AVX2 and FMA but no AVX-512 (AMD Zen 1–3, most
//! laptops): a 6×16 tile of C held in 12 of the 16 vector registers, 8 floats each, the shape of
//! BLIS's Haswell kernel. Each step of k loads two vectors of B, broadcasts six values of A and
//! issues 12 fused multiply-adds. It computes every element of C by the same sequence of fused
//! multiply-adds as the AVX-512 kernel, so the two give the same bits.

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

/// Rows of the tile.
pub(super) const MR: usize = 6;
/// Vectors of 8 floats across the tile.
const VECTORS: usize = 2;
/// Columns of the tile.
pub(super) const NR: usize = 8 * VECTORS;

/// Whether this CPU can run [`kernel`] (checked once, then cached by the standard library).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// The AVX2 micro-kernel (see [`MicroKernel`](super::packed::MicroKernel)).
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]); `a` and `b` must hold `kc` steps of full
/// panels (`MR` and `NR` values per step); the `rows`×`cols` tile of C must be writable.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    c_rs: isize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut acc: [[__m256; VECTORS]; MR] = [[_mm256_setzero_ps(); VECTORS]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        // SAFETY: each step reads NR values of the B panel and MR of the A panel, within kc steps.
        unsafe {
            let b_step: [__m256; VECTORS] = std::array::from_fn(|v| _mm256_loadu_ps(b.add(8 * v)));
            for (i, row) in acc.iter_mut().enumerate() {
                let a_i = _mm256_set1_ps(*a.add(i));
                for (sum, &b_v) in row.iter_mut().zip(&b_step) {
                    *sum = _mm256_fmadd_ps(a_i, b_v, *sum);
                }
            }
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    for (i, row) in acc.iter().enumerate().take(rows) {
        // SAFETY: row i < rows lies inside the tile of C; a full row is stored directly, a partial
        // one through a buffer of which only the first `cols` values are copied (or added).
        unsafe {
            let out = c.offset(i as isize * c_rs);
            if cols == NR {
                for (v, &sum) in row.iter().enumerate() {
                    let value = if accumulate { _mm256_add_ps(sum, _mm256_loadu_ps(out.add(8 * v))) } else { sum };
                    _mm256_storeu_ps(out.add(8 * v), value);
                }
            } else {
                let mut buffer = [0.0f32; NR];
                for (v, &sum) in row.iter().enumerate() {
                    _mm256_storeu_ps(buffer.as_mut_ptr().add(8 * v), sum);
                }
                let out = std::slice::from_raw_parts_mut(out, cols);
                if accumulate {
                    out.iter_mut().zip(&buffer).for_each(|(o, &s)| *o += s);
                } else {
                    out.copy_from_slice(&buffer[..cols]);
                }
            }
        }
    }
}

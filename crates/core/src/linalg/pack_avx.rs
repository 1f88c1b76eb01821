//! Packing an f32 operand whose panel lanes are not contiguous in memory (the weights of a forward
//! pass, read as Wᵀ; the rows of A): a transposing copy through AVX registers, 8×8 floats at a
//! time, and 4×8 for a last four lanes. Element by element, the same copy spent more time than
//! the products it feeds.

use std::arch::x86_64::{
    __m128, __m256, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_loadu_ps, _mm256_permute2f128_ps,
    _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps, _mm_storeu_ps,
};

/// Whether this CPU can run [`pack_lanes`].
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx")
}

/// Copies `lanes` (a multiple of 4) lanes of `steps` contiguous values each, lane l starting at
/// `source + l·lane_stride`, into `panel` so that step s of lane l lands at `s·width + l`.
/// Returns how many leading steps were copied (a multiple of 8); the caller copies the rest.
///
/// # Safety
/// The CPU must support AVX ([`available`]); the source lanes must be readable for `steps` values;
/// `panel` must hold `steps·width` values with `lanes ≤ width`.
#[target_feature(enable = "avx")]
pub(super) unsafe fn pack_lanes(
    panel: &mut [f32],
    source: *const f32,
    lane_stride: isize,
    lanes: usize,
    steps: usize,
    width: usize,
) -> usize {
    debug_assert!(lanes.is_multiple_of(4) && lanes <= width && panel.len() >= steps * width);
    let whole = steps / 8 * 8;
    let out = panel.as_mut_ptr();
    let lane = |l: usize, s0: usize| unsafe { source.offset(l as isize * lane_stride).add(s0) };
    for l0 in (0..lanes / 8 * 8).step_by(8) {
        for s0 in (0..whole).step_by(8) {
            // SAFETY: lanes l0..l0+8 are readable for steps s0..s0+8, and the eight rows written
            // lie inside the panel.
            unsafe {
                let rows: [__m256; 8] = std::array::from_fn(|r| _mm256_loadu_ps(lane(l0 + r, s0)));
                for (t, column) in transpose8(rows).into_iter().enumerate() {
                    _mm256_storeu_ps(out.add((s0 + t) * width + l0), column);
                }
            }
        }
    }
    if lanes % 8 == 4 {
        let l0 = lanes - 4;
        for s0 in (0..whole).step_by(8) {
            // SAFETY: as above, for four lanes.
            unsafe {
                let rows: [__m256; 4] = std::array::from_fn(|r| _mm256_loadu_ps(lane(l0 + r, s0)));
                for (t, column) in transpose4x8(rows).into_iter().enumerate() {
                    _mm_storeu_ps(out.add((s0 + t) * width + l0), column);
                }
            }
        }
    }
    whole
}

/// The transpose of a 4×8 block held as four rows: eight columns of four.
#[target_feature(enable = "avx")]
fn transpose4x8(r: [__m256; 4]) -> [__m128; 8] {
    // After the interleaves, u[i] holds column i in its low half and column i + 4 in its high half.
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
    ];
    let u = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
    ];
    std::array::from_fn(|i| if i < 4 { _mm256_castps256_ps128(u[i]) } else { _mm256_extractf128_ps::<1>(u[i - 4]) })
}

/// The transpose of an 8×8 block held as eight rows.
#[target_feature(enable = "avx")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
    let t: [__m256; 8] = std::array::from_fn(|i| {
        let (x, y) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_ps(x, y)
        } else {
            _mm256_unpackhi_ps(x, y)
        }
    });
    let u = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    std::array::from_fn(|i| {
        if i < 4 {
            _mm256_permute2f128_ps::<0x20>(u[i], u[i + 4])
        } else {
            _mm256_permute2f128_ps::<0x31>(u[i - 4], u[i])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_land_at_step_times_width_plus_lane() {
        if !available() {
            return;
        }
        // 16, 12 and 4 lanes of 21 steps, 100 apart in memory, into a panel 24 wide.
        for lanes in [16, 12, 4] {
            let (steps, stride, width) = (21, 100, 24);
            let source: Vec<f32> = (0..lanes * stride).map(|i| i as f32).collect();
            let mut panel = vec![-1.0; steps * width];
            let copied = unsafe { pack_lanes(&mut panel, source.as_ptr(), stride as isize, lanes, steps, width) };
            assert_eq!(copied, 16);
            for s in 0..steps {
                for l in 0..width {
                    let expected = if s < copied && l < lanes { (l * stride + s) as f32 } else { -1.0 };
                    assert_eq!(panel[s * width + l], expected, "{lanes} lanes: step {s} lane {l}");
                }
            }
        }
    }
}

//! The single-threaded product: C ← A·B computed block by block, with each block of A and B first
//! copied ("packed") into the order a micro-kernel reads it, so that its inner loop streams both
//! operands from cache with unit stride whatever their layout in memory (the BLIS scheme).
//!
//! For each slice of `KC` columns of A (rows of B) and each block of at most `NC` columns of B:
//! B's block is packed into panels of `NR` columns; then for each block of at most `MC` rows of
//! A, that block is packed into panels of `MR` rows and the micro-kernel computes every `MR`×`NR`
//! tile of C, panel of B by panel of B. Panels are padded with zeros to full tiles; the kernel
//! writes back only the rows and columns that exist.
//! The packing memory ([`Scratch`]) is the caller's, allocated once at its largest, so a product
//! allocates nothing.

use std::marker::PhantomData;

use descent_optim::Float;

/// Columns of A (rows of B) per block: a `KC`×`NR` panel of B and an `MR`×`KC` panel of A fit in
/// the 48 KiB L1 data cache together.
const KC: usize = 192;
/// Columns of B per block: a `KC`×`NC` block of B is packed once for all the blocks of A beneath
/// it and read panel by panel (from L2 or L3). A multiple of every tile's width (48, 32, 16).
const NC: usize = 2016;
/// Rows of A per block: an `MC`×`KC` block of A (384 KiB) fits in L2 beside a panel of B. At 512
/// a weight gradient of 1000 rows split over two threads is one block per thread, so B is packed
/// once (measured: 3–9% more examples per CPU-second than 384 on mnist-mlp).
const MC: usize = 512;

/// A micro-kernel: computes the `MR`×`NR` tile `A_panel · B_panel` over `kc` steps and writes its
/// first `rows`×`cols` into C (row stride `c_rs`), added to C's values when `accumulate` is set and
/// replacing them (without reading C) otherwise.
pub(super) type MicroKernel<F> =
    unsafe fn(kc: usize, a: *const F, b: *const F, c: *mut F, c_rs: isize, rows: usize, cols: usize, accumulate: bool);

/// A micro-kernel with the tile shape it computes.
#[derive(Clone, Copy)]
pub(super) struct Tile<F> {
    pub(super) mr: usize,
    pub(super) nr: usize,
    pub(super) run: MicroKernel<F>,
}

/// An operand as used (r×c), read through raw strides: element (i, j) is at `i·row + j·col`.
#[derive(Clone, Copy)]
pub(super) struct View<F> {
    pub(super) ptr: *const F,
    pub(super) row: isize,
    pub(super) col: isize,
}

impl<F> View<F> {
    /// The element at (i, j).
    ///
    /// # Safety
    /// (i, j) must lie inside the operand.
    #[inline(always)]
    unsafe fn at(&self, i: usize, j: usize) -> *const F {
        unsafe { self.ptr.offset(i as isize * self.row + j as isize * self.col) }
    }
}

/// C ← A·B, or C ← C + A·B with `accumulate`, for C m×n (row stride `c_rs`, unit column stride),
/// A m×k and B k×n, on the calling thread.
///
/// # Safety
/// The views must address their whole operands, C must be valid for writes over m rows of n, and
/// C must not overlap A or B.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn product<F: Float>(
    tile: Tile<F>,
    scratch: &mut Scratch<F>,
    c: *mut F,
    c_rs: isize,
    a: View<F>,
    b: View<F>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                unsafe { std::slice::from_raw_parts_mut(c.offset(i as isize * c_rs), n) }.fill(F::ZERO);
            }
        }
        return;
    }
    let Tile { mr, nr, run } = tile;
    let a_len = MC.min(m).next_multiple_of(mr) * KC;
    let (a_packed, b_packed) = scratch.values().split_at_mut(a_len);
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        // Later slices of k add to what the earlier ones wrote.
        let accumulate = accumulate || p0 > 0;
        for n0 in (0..n).step_by(NC) {
            let nc = NC.min(n - n0);
            unsafe { pack_b(b_packed, b, (p0, n0), (kc, nc), nr) };
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                unsafe { pack_a(a_packed, a, (i0, p0), (mc, kc), mr) };
                for (panel, j0) in (n0..n0 + nc).step_by(nr).enumerate() {
                    let cols = nr.min(n - j0);
                    for ir in (0..mc).step_by(mr) {
                        let rows = mr.min(mc - ir);
                        // SAFETY: the packed panels hold kc·mr and kc·nr values; the tile of C lies
                        // inside C's m×n.
                        unsafe {
                            let tile = c.offset((i0 + ir) as isize * c_rs).add(j0);
                            run(
                                kc,
                                a_packed.as_ptr().add(ir * kc),
                                b_packed.as_ptr().add(panel * kc * nr),
                                tile,
                                c_rs,
                                rows,
                                cols,
                                accumulate,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of A into panels of `mr` rows: panel r holds, for
/// each column p, the `mr` values of rows `i0 + r·mr ..` (zeros past the last row).
///
/// # Safety
/// The block must lie inside A.
unsafe fn pack_a<F: Float>(out: &mut [F], a: View<F>, (i0, p0): (usize, usize), (mc, kc): (usize, usize), mr: usize) {
    for (r, panel) in out[..mc.next_multiple_of(mr) * kc].chunks_exact_mut(mr * kc).enumerate() {
        let rows = mr.min(mc - r * mr);
        unsafe { pack_panel(panel, a, (i0 + r * mr, p0), rows, mr, Along::Rows) };
    }
}

/// Packs rows `p0..p0+kc`, columns `j0..j0+cols` of B into panels of `nr` columns: panel q
/// holds, for each row p, the `nr` values of columns `j0 + q·nr ..` (zeros past the last column).
/// Where B's rows are contiguous, they are read row by row, each in one pass across all the
/// panels. Read panel by panel, a row came in pieces of `nr` values, one panel's pass at a time:
/// for the conv net's weight gradient (B its column matrix, 800 wide) that packing took 7.6% of a
/// step, and takes 4.5% row by row (`perf`, one thread).
///
/// # Safety
/// The block must lie inside B.
unsafe fn pack_b<F: Float>(out: &mut [F], b: View<F>, (p0, j0): (usize, usize), (kc, cols): (usize, usize), nr: usize) {
    let out = &mut out[..cols.div_ceil(nr) * kc * nr];
    if b.col != 1 {
        for (q, panel) in out.chunks_exact_mut(kc * nr).enumerate() {
            let filled = nr.min(cols - q * nr);
            unsafe { pack_panel(panel, b, (p0, j0 + q * nr), filled, nr, Along::Columns) };
        }
        return;
    }
    if !cols.is_multiple_of(nr) {
        out[cols / nr * kc * nr..].fill(F::ZERO);
    }
    for p in 0..kc {
        let row = unsafe { std::slice::from_raw_parts(b.at(p0 + p, j0), cols) };
        for (q, piece) in row.chunks(nr).enumerate() {
            let at = q * kc * nr + p * nr;
            copy_short(&mut out[at..at + piece.len()], piece);
        }
    }
}

/// Which index of the operand runs across a panel's width.
#[derive(Clone, Copy, PartialEq)]
enum Along {
    /// A's panels: the width runs over rows, the length over columns.
    Rows,
    /// B's panels: the width runs over columns, the length over rows.
    Columns,
}

/// Fills `panel` (steps of `width` values each) from the operand block at `origin`, with
/// `filled` of the `width` lanes taken from the operand and the rest zero. The loops follow the
/// operand's unit stride, so the reads are sequential for either layout.
///
/// # Safety
/// The block (`filled` lanes by `panel.len() / width` steps from `origin`) must lie inside the operand.
unsafe fn pack_panel<F: Float>(
    panel: &mut [F],
    view: View<F>,
    origin: (usize, usize),
    filled: usize,
    width: usize,
    along: Along,
) {
    // (lane stride, step stride) of the block within the operand.
    let (lane, step) = match along {
        Along::Rows => (view.row, view.col),
        Along::Columns => (view.col, view.row),
    };
    let start = unsafe { view.at(origin.0, origin.1) };
    if filled < width {
        panel.fill(F::ZERO);
    }
    if lane == 1 {
        for (s, out) in panel.chunks_exact_mut(width).enumerate() {
            let source = unsafe { std::slice::from_raw_parts(start.offset(s as isize * step), filled) };
            copy_short(&mut out[..filled], source);
        }
    } else {
        // Lanes below `lanes` are done for steps below `done` by the vectorized transposing copy.
        let (lanes, done) = unsafe { pack_transposed(panel, start, lane, step, filled, width) };
        for l in 0..filled {
            let first = unsafe { start.offset(l as isize * lane) };
            let skip = if l < lanes { done } else { 0 };
            for (s, out) in panel.chunks_exact_mut(width).enumerate().skip(skip) {
                out[l] = unsafe { *first.offset(s as isize * step) };
            }
        }
    }
}

/// `out.copy_from_slice(source)` for the short rows of a panel: rows as long as a tile is high
/// or wide are copied inline as fixed-size arrays, where a call to `memcpy` per row would cost
/// more than the copy.
#[inline(always)]
fn copy_short<F: Float>(out: &mut [F], source: &[F]) {
    fn fixed<F: Float, const N: usize>(out: &mut [F], source: &[F]) -> bool {
        match (<&mut [F; N]>::try_from(out), <&[F; N]>::try_from(source)) {
            (Ok(out), Ok(source)) => {
                *out = *source;
                true
            }
            _ => false,
        }
    }
    let done = match out.len() {
        4 => fixed::<F, 4>(out, source),
        6 => fixed::<F, 6>(out, source),
        8 => fixed::<F, 8>(out, source),
        12 => fixed::<F, 12>(out, source),
        16 => fixed::<F, 16>(out, source),
        32 => fixed::<F, 32>(out, source),
        // In two pieces: one copy of 48 values became a call to memcpy.
        48 => {
            let (out_head, out_tail) = out.split_at_mut(32);
            let (head, tail) = source.split_at(32);
            fixed::<F, 32>(out_head, head) && fixed::<F, 16>(out_tail, tail)
        }
        _ => false,
    };
    if !done {
        out.copy_from_slice(source);
    }
}

/// The vectorized part of a transposing panel copy, where F is f32, each lane is contiguous and
/// the CPU has AVX: returns (lanes, steps) copied, a leading block of the panel (lanes in fours,
/// so that the 12 rows of AVX-512's narrow tile are all copied by vectors).
///
/// # Safety
/// As for [`pack_panel`].
unsafe fn pack_transposed<F: Float>(
    panel: &mut [F],
    start: *const F,
    lane: isize,
    step: isize,
    filled: usize,
    width: usize,
) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    if step == 1 && std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() && super::pack_avx::available() {
        let lanes = filled / 4 * 4;
        let steps = panel.len() / width;
        // SAFETY: F is f32; the lanes and steps lie inside the operand and the panel.
        let done = unsafe {
            let panel = std::slice::from_raw_parts_mut(panel.as_mut_ptr().cast::<f32>(), panel.len());
            super::pack_avx::pack_lanes(panel, start.cast::<f32>(), lane, lanes, steps, width)
        };
        return (lanes, done);
    }
    let _ = (panel, start, lane, step, filled, width);
    (0, 0)
}

/// The packing memory of one piece of a product: room for the largest blocks of A and B that
/// [`product`] packs for a given tile, 64-byte aligned, allocated once.
#[derive(Clone)]
pub(super) struct Scratch<F> {
    lines: Vec<CacheLine>,
    len: usize,
    values: PhantomData<F>,
}

/// 64 bytes, aligned to 64: the unit scratch memory is counted in.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct CacheLine([u8; 64]);

impl<F: Float> Scratch<F> {
    /// Scratch memory for products computed with any of `tiles`.
    pub(super) fn new(tiles: &[Tile<F>]) -> Self {
        let len = tiles.iter().map(|t| MC.next_multiple_of(t.mr) * KC + KC * NC).max().unwrap_or(0);
        let lines = (len * size_of::<F>()).div_ceil(64);
        Scratch { lines: vec![CacheLine([0; 64]); lines], len, values: PhantomData }
    }

    /// The memory as values of F.
    fn values(&mut self) -> &mut [F] {
        // SAFETY: the lines hold len·size_of::<F>() bytes aligned to 64 (at least F's alignment),
        // every bit pattern is a valid float, and the slice borrows `self` mutably.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<F>(), self.len) }
    }
}

/// The portable micro-kernel's tile, for any float type and any CPU: 4 rows by 16 columns of
/// accumulators, which the compiler keeps in vector registers.
pub(super) const PORTABLE_MR: usize = 4;
/// See [`PORTABLE_MR`].
pub(super) const PORTABLE_NR: usize = 16;

/// The portable micro-kernel (see [`MicroKernel`]).
///
/// # Safety
/// `a` and `b` must hold `kc` steps of full panels; the `rows`×`cols` tile of C must be writable.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn portable_kernel<F: Float>(
    kc: usize,
    a: *const F,
    b: *const F,
    c: *mut F,
    c_rs: isize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let (a, b) =
        unsafe { (std::slice::from_raw_parts(a, kc * PORTABLE_MR), std::slice::from_raw_parts(b, kc * PORTABLE_NR)) };
    let mut acc = [[F::ZERO; PORTABLE_NR]; PORTABLE_MR];
    for (a_step, b_step) in a.chunks_exact(PORTABLE_MR).zip(b.chunks_exact(PORTABLE_NR)) {
        for (row, &a_i) in acc.iter_mut().zip(a_step) {
            for (sum, &b_j) in row.iter_mut().zip(b_step) {
                *sum += a_i * b_j;
            }
        }
    }
    for (i, row) in acc.iter().enumerate().take(rows) {
        let out = unsafe { std::slice::from_raw_parts_mut(c.offset(i as isize * c_rs), cols) };
        for (value, &sum) in out.iter_mut().zip(row) {
            *value = if accumulate { *value + sum } else { sum };
        }
    }
}

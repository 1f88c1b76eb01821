//! The one matrix product every layer goes through. Transposes are strides, not copies.
//!
//! The product is descent's own (`packed`): blocked and packed in the BLIS manner, with an
//! AVX-512 micro-kernel for f32 where the CPU has one (`avx512`) and a portable kernel otherwise.
//! Its packing memory comes with the thread count in a [`Workspace`] the caller owns, allocated
//! once, so the training step allocates nothing.

use descent_optim::Float;

use packed::{Scratch, Tile, View};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod pack_avx;
mod packed;

/// How a matrix operand is stored (row-major either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// As used: an r×c operand stored as r rows of c.
    AsIs,
    /// Transposed: an r×c operand stored as c rows of r.
    Transposed,
}

/// Products smaller than this many multiply-adds run on one thread (splitting costs more).
const PARALLEL_WORK: usize = 1 << 18;

/// Pieces a product is cut into per thread. More pieces than threads would let a thread that was
/// slowed by another process hand work over, but each piece repacks the smaller operand: measured
/// on mnist-mlp, 4 pieces per thread trained about 8% fewer examples per CPU-second than 1, alone
/// and beside a busy process alike, so the cut stays at one piece per thread.
const PIECES_PER_THREAD: usize = 1;

/// What a product may use: its threads, and the packing memory of each piece it is cut into.
/// Owned by the caller (a network holds one) and allocated once, so that no product allocates;
/// memory kept per thread instead would be allocated whenever a thread first took a piece, which
/// work stealing can leave until any step.
#[derive(Clone)]
pub struct Workspace<F> {
    threads: usize,
    /// The micro-kernel, chosen once (choosing reads the CPU's features and the environment).
    kernel: Kernel<F>,
    scratch: Vec<Scratch<F>>,
}

impl<F: Float> Workspace<F> {
    /// A workspace for products split over `threads` threads (at least 1).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let pieces = if threads == 1 { 1 } else { threads * PIECES_PER_THREAD };
        // Room for every tile's blocks, so that tests can run each kernel through one workspace.
        let all: Vec<Tile<F>> = kernels::<F>().into_iter().flat_map(|(_, k)| k.tiles()).collect();
        Workspace { threads, kernel: kernel::<F>(), scratch: vec![Scratch::new(&all); pieces] }
    }

    /// A workspace whose products use the micro-kernel called `name` ([`KERNEL_NAMES`]), if this
    /// CPU has it (for benchmarks that compare kernels in one process).
    pub fn with_kernel(threads: usize, name: &str) -> Option<Self> {
        let kernel = kernels::<F>().into_iter().find(|(n, _)| *n == name)?.1;
        Some(Workspace { kernel, ..Self::new(threads) })
    }

    /// The threads products may use.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl<F> std::fmt::Debug for Workspace<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace").field("threads", &self.threads).finish_non_exhaustive()
    }
}

/// C ← A·B (or C ← C + A·B with `accumulate`), where C is m×n row-major, A is m×k and B is k×n,
/// each stored as given.
///
/// With more than one thread in `workspace`, the product is cut into `PIECES_PER_THREAD` blocks
/// of C per thread, each a single-threaded product, which the threads share out by work stealing.
/// The cuts run across whichever of A and B is larger (rows of C when A is, columns when B is),
/// so that no piece repacks the large operand, and fall on whole tiles of the micro-kernel. Each element of C
/// is computed the same way whichever thread takes its piece, and the cuts depend only on the
/// shapes and the thread count, so results are reproducible for a given thread count.
///
/// # Panics
/// If a slice is shorter than its shape needs (a programming error inside the engine).
#[allow(clippy::too_many_arguments)]
pub fn matmul<F: Float>(
    c: &mut [F],
    a: &[F],
    a_stored: Stored,
    b: &[F],
    b_stored: Stored,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    workspace: &mut Workspace<F>,
) {
    matmul_with(workspace.kernel, c, a, a_stored, b, b_stored, (m, k, n), accumulate, workspace)
}

/// [`matmul`] with a given micro-kernel (tests run each one the CPU has).
#[allow(clippy::too_many_arguments)]
fn matmul_with<F: Float>(
    kernel: Kernel<F>,
    c: &mut [F],
    a: &[F],
    a_stored: Stored,
    b: &[F],
    b_stored: Stored,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    workspace: &mut Workspace<F>,
) {
    assert!(c.len() >= m * n && a.len() >= m * k && b.len() >= k * n, "matmul operand too short");
    if m == 0 || n == 0 {
        return;
    }
    // (column stride, row stride) of each operand as used.
    let a_strides = match a_stored {
        Stored::AsIs => (1, k as isize),
        Stored::Transposed => (m as isize, 1),
    };
    let b_strides = match b_stored {
        Stored::AsIs => (1, n as isize),
        Stored::Transposed => (k as isize, 1),
    };
    let block = Block {
        c: c.as_mut_ptr(),
        c_rs: n as isize,
        a: a.as_ptr(),
        a_strides,
        b: b.as_ptr(),
        b_strides,
        shape: (m, k, n),
        accumulate,
    };
    let pieces = workspace.scratch.len().min(m * k * n / PARALLEL_WORK).max(1);
    // SAFETY: the full extents were checked above; blocks only address sub-rectangles of them,
    // and the blocks of C computed in parallel are disjoint.
    unsafe { block.run(kernel.tile_for(m, n), &mut workspace.scratch[..pieces]) }
}

/// A rectangle of C with the parts of A and B it needs, as raw pointers and strides.
#[derive(Clone, Copy)]
struct Block<F> {
    c: *mut F,
    c_rs: isize,
    a: *const F,
    a_strides: (isize, isize),
    b: *const F,
    b_strides: (isize, isize),
    shape: (usize, usize, usize),
    accumulate: bool,
}

// SAFETY: a Block is only sent to another thread by `run`, which gives each thread a disjoint
// rectangle of C and read-only access to A and B.
unsafe impl<F: Send> Send for Block<F> {}
unsafe impl<F: Sync> Sync for Block<F> {}

impl<F: Float> Block<F> {
    /// Computes the block in one piece per scratch buffer, in parallel where threads are free.
    ///
    /// # Safety
    /// The pointers must address the whole block with its strides, and C must not alias A or B.
    unsafe fn run(self, tile: Tile<F>, scratch: &mut [Scratch<F>]) {
        let (m, k, n) = self.shape;
        let pieces = scratch.len();
        if pieces <= 1 || (m < 2 && n < 2) {
            return unsafe { self.gemm(tile, &mut scratch[0]) };
        }
        let left = pieces.div_ceil(2);
        // Cut across the larger operand: rows of C (and A) when A is larger, columns (and B) otherwise.
        let (first, second) = if m * k >= k * n && m >= 2 || n < 2 {
            let top = cut(m, left, pieces, tile.mr);
            let bottom = Block {
                c: unsafe { self.c.offset(top as isize * self.c_rs) },
                a: unsafe { self.a.offset(top as isize * self.a_strides.1) },
                shape: (m - top, k, n),
                ..self
            };
            (Block { shape: (top, k, n), ..self }, bottom)
        } else {
            let cut = cut(n, left, pieces, tile.nr);
            let right = Block {
                c: unsafe { self.c.add(cut) },
                b: unsafe { self.b.offset(cut as isize * self.b_strides.0) },
                shape: (m, k, n - cut),
                ..self
            };
            (Block { shape: (m, k, cut), ..self }, right)
        };
        let (first_scratch, second_scratch) = scratch.split_at_mut(left);
        rayon::join(|| unsafe { first.run(tile, first_scratch) }, || unsafe { second.run(tile, second_scratch) });
    }

    /// One single-threaded product.
    unsafe fn gemm(self, tile: Tile<F>, scratch: &mut Scratch<F>) {
        let a = View { ptr: self.a, row: self.a_strides.1, col: self.a_strides.0 };
        let b = View { ptr: self.b, row: self.b_strides.1, col: self.b_strides.0 };
        unsafe { packed::product(tile, scratch, self.c, self.c_rs, a, b, self.shape, self.accumulate) }
    }
}

/// A CPU's micro-kernel for F: its main tile and, where it has one, a narrower tile for products
/// whose columns the main one would leave partly empty.
#[derive(Clone, Copy)]
struct Kernel<F> {
    main: Tile<F>,
    narrow: Option<Tile<F>>,
}

impl<F: Float> Kernel<F> {
    /// A kernel with one tile.
    fn single(main: Tile<F>) -> Self {
        Kernel { main, narrow: None }
    }

    /// Its tiles.
    fn tiles(&self) -> impl Iterator<Item = Tile<F>> {
        std::iter::once(self.main).chain(self.narrow)
    }

    /// The tile for an m×n product: the narrow one where it computes at least a tenth fewer padded
    /// elements of C (AVX-512's 12×32 against 8×48 reads more operands per multiply-add, 14 against
    /// 11 per 24, so a small saving is not worth it), the main one otherwise. 32 or 64 columns (a
    /// convolution's filters) fill whole 32-wide tiles and a third of two 48-wide tiles stays empty.
    fn tile_for(&self, m: usize, n: usize) -> Tile<F> {
        let padded = |t: &Tile<F>| m.next_multiple_of(t.mr) * n.next_multiple_of(t.nr);
        match self.narrow {
            Some(narrow) if 10 * padded(&narrow) <= 9 * padded(&self.main) => narrow,
            _ => self.main,
        }
    }
}

/// Where to cut `len` rows or columns so that `left` of `pieces` pieces fall before the cut: at the
/// nearest multiple of the kernel's `tile`, unless that leaves one side empty.
fn cut(len: usize, left: usize, pieces: usize, tile: usize) -> usize {
    let exact = len * left / pieces;
    let aligned = (exact + tile / 2) / tile * tile;
    if aligned > 0 && aligned < len {
        aligned
    } else {
        exact.clamp(1, len - 1)
    }
}

/// The micro-kernel products use: the fastest this CPU has for F, or the one `DESCENT_KERNEL`
/// names (`avx512`, `avx2` or `portable`; for tests and benchmarks, read once) if the CPU has it.
fn kernel<F: Float>() -> Kernel<F> {
    let available = kernels::<F>();
    let chosen = chosen_kernel().and_then(|name| available.iter().find(|(n, _)| *n == name));
    chosen.unwrap_or(&available[available.len() - 1]).1
}

/// The kernel `DESCENT_KERNEL` asks for, if any (reading the environment allocates, so once).
fn chosen_kernel() -> Option<&'static str> {
    static CHOSEN: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let name = std::env::var("DESCENT_KERNEL").ok()?;
        KERNEL_NAMES.iter().copied().find(|&known| known == name)
    })
}

/// The kernels by name, slowest first.
pub const KERNEL_NAMES: [&str; 3] = ["portable", "avx2", "avx512"];

/// The micro-kernels this CPU has for F, by name, slowest first: the portable one always, and for
/// f32 the AVX2 and AVX-512 ones where the CPU has them.
fn kernels<F: Float>() -> Vec<(&'static str, Kernel<F>)> {
    let mut kernels = vec![(
        "portable",
        Kernel::single(Tile { mr: packed::PORTABLE_MR, nr: packed::PORTABLE_NR, run: packed::portable_kernel::<F> }),
    )];
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() {
        let as_f = |kernel: Kernel<f32>| {
            // SAFETY: F is f32, so Kernel<F> and Kernel<f32> are the same type.
            unsafe { std::mem::transmute_copy::<Kernel<f32>, Kernel<F>>(&kernel) }
        };
        if avx2::available() {
            kernels.push(("avx2", as_f(Kernel::single(Tile { mr: avx2::MR, nr: avx2::NR, run: avx2::kernel }))));
        }
        if avx512::available() {
            use avx512::{kernel, MR, NARROW_MR, NARROW_NR, NARROW_VECTORS, NR, VECTORS};
            let main = Tile { mr: MR, nr: NR, run: kernel::<MR, VECTORS> };
            let narrow = Tile { mr: NARROW_MR, nr: NARROW_NR, run: kernel::<NARROW_MR, NARROW_VECTORS> };
            kernels.push(("avx512", as_f(Kernel { main, narrow: Some(narrow) })));
        }
    }
    kernels
}

/// The names of the kernels this CPU can run for f32, slowest first.
pub fn available_kernels() -> Vec<&'static str> {
    kernels::<f32>().into_iter().map(|(name, _)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product by the definition, in f64.
    fn reference(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        (0..m * n).map(|ij| (0..k).map(|p| a[ij / n * k + p] * b[p * n + ij % n]).sum()).collect()
    }

    fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        (0..rows * cols).map(|ji| x[(ji % rows) * cols + ji / rows]).collect()
    }

    #[test]
    fn all_layouts_match_the_definition() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.71).cos()).collect();
        let expected = reference(&a, &b, m, k, n);
        let (a_t, b_t) = (transpose(&a, m, k), transpose(&b, k, n));
        for (a_in, a_s) in [(&a, Stored::AsIs), (&a_t, Stored::Transposed)] {
            for (b_in, b_s) in [(&b, Stored::AsIs), (&b_t, Stored::Transposed)] {
                let mut c = vec![1.0; m * n];
                matmul(&mut c, a_in, a_s, b_in, b_s, (m, k, n), false, &mut Workspace::new(1));
                assert!(c.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-12), "{a_s:?} {b_s:?}");
                matmul(&mut c, a_in, a_s, b_in, b_s, (m, k, n), true, &mut Workspace::new(2));
                assert!(c.iter().zip(&expected).all(|(x, y)| (x - 2.0 * y).abs() < 1e-12));
            }
        }
    }

    /// Each tile of each kernel this CPU can run, as a kernel of its own, by name: every one is
    /// tested, whichever `matmul` picks.
    fn each_kernel<F: Float>() -> Vec<(String, Kernel<F>)> {
        kernels::<F>()
            .into_iter()
            .flat_map(|(name, kernel)| {
                kernel.tiles().map(move |t| (format!("{name} {}×{}", t.mr, t.nr), Kernel::single(t)))
            })
            .collect()
    }

    /// The AVX2 kernel and both AVX-512 tiles compute each element by the same fused multiply-adds
    /// in the same order: where the CPU has them, their products agree bit for bit (and the
    /// portable kernel, which rounds each product before adding, agrees within rounding: the other
    /// tests).
    #[test]
    fn the_vector_kernels_agree_bit_for_bit() {
        let vector: Vec<(String, Kernel<f32>)> =
            each_kernel::<f32>().into_iter().filter(|(name, _)| !name.starts_with("portable")).collect();
        let (m, k, n) = (37, 400, 53);
        let a: Vec<f32> = matrix(m * k, 8).iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = matrix(k * n, 9).iter().map(|&v| v as f32).collect();
        let product = |kernel| {
            let mut c = vec![0.5f32; m * n];
            let mut workspace = Workspace::new(1);
            matmul_with(kernel, &mut c, &a, Stored::AsIs, &b, Stored::Transposed, (m, k, n), true, &mut workspace);
            c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        if let Some(((first, reference), rest)) = vector.split_first() {
            let expected = product(*reference);
            for (name, kernel) in rest {
                assert!(product(*kernel) == expected, "{name} differs from {first}");
            }
        }
    }

    /// The narrow tile is chosen where it saves a tenth of the padded work: 32 or 64 columns (a
    /// convolution's filters), not 1024 or 800.
    #[test]
    fn the_narrow_tile_takes_products_that_fill_it_better() {
        let tile = |mr, nr| Tile::<f32> { mr, nr, run: packed::portable_kernel::<f32> };
        let kernel = Kernel { main: tile(8, 48), narrow: Some(tile(12, 32)) };
        let chosen = |m, n| kernel.tile_for(m, n).nr;
        assert_eq!(chosen(25_088, 64), 32);
        assert_eq!(chosen(100_352, 32), 32);
        assert_eq!(chosen(128, 1024), 48);
        assert_eq!(chosen(25_088, 800), 48);
        assert_eq!(chosen(128, 48), 48);
        // 96 of 1 row: 8×96 against 12×96 padded, more for the narrow tile.
        assert_eq!(chosen(1, 96), 48);
    }

    /// Products large enough to be cut over threads, across rows (A the larger operand) and across
    /// columns (B the larger), in every layout, on 2 and 3 threads, through every kernel, in f32
    /// and f64, against the definition.
    #[test]
    fn split_products_match_the_definition_for_every_kernel() {
        for (m, k, n) in [(131, 97, 67), (13, 130, 400)] {
            // Cut into at least two pieces, so the split is what is tested.
            assert!(m * k * n / PARALLEL_WORK >= 2);
            let a = matrix(m * k, 3);
            let b = matrix(k * n, 4);
            let expected = reference(&a, &b, m, k, n);
            let (a_t, b_t) = (transpose(&a, m, k), transpose(&b, k, n));
            let single = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            for threads in [2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                for (a_in, a_s) in [(&a, Stored::AsIs), (&a_t, Stored::Transposed)] {
                    for (b_in, b_s) in [(&b, Stored::AsIs), (&b_t, Stored::Transposed)] {
                        for (name, kernel) in each_kernel::<f64>() {
                            let mut c = vec![f64::NAN; m * n];
                            let mut workspace = Workspace::new(threads);
                            pool.install(|| {
                                matmul_with(kernel, &mut c, a_in, a_s, b_in, b_s, (m, k, n), false, &mut workspace)
                            });
                            let worst = c.iter().zip(&expected).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
                            // k products of values in [−1, 1], each rounded once in f64.
                            assert!(worst < 4.0 * k as f64 * f64::EPSILON, "f64 {name} {m}×{k}×{n} {threads}: {worst}");
                        }
                        let (a32, b32) = (single(a_in), single(b_in));
                        for (name, kernel) in each_kernel::<f32>() {
                            let mut c = vec![f32::NAN; m * n];
                            let mut workspace = Workspace::new(threads);
                            pool.install(|| {
                                matmul_with(kernel, &mut c, &a32, a_s, &b32, b_s, (m, k, n), false, &mut workspace)
                            });
                            let worst = c.iter().zip(&expected).map(|(&x, y)| (x as f64 - y).abs()).fold(0.0, f64::max);
                            // The inputs' rounding to f32 and each of the k terms: 2⁻²⁴ each, |a·b| ≤ 1.
                            assert!(worst < 4.0 * k as f64 * f32::EPSILON as f64, "f32 {name} {m}×{k}×{n}: {worst}");
                        }
                    }
                }
            }
        }
    }

    /// A deterministic pseudo-random matrix with entries in [-1, 1).
    fn matrix(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// f32 products through every kernel the CPU has against the f64 definition, on shapes
    /// that leave partial tiles in every direction, span several blocks of k (KC = 192), of rows
    /// (MC = 512) and of columns (NC = 2016), in every layout, replacing and accumulating, on one and two threads.
    #[test]
    fn f32_products_match_the_f64_definition_on_ragged_shapes() {
        for (case, &(m, k, n)) in [
            (1, 1, 1),
            (8, 192, 48),
            (9, 193, 49),
            (7, 5, 47),
            (128, 784, 100),
            (401, 130, 97),
            (3, 400, 10),
            (5, 200, 2050),
        ]
        .iter()
        .enumerate()
        {
            let a = matrix(m * k, 2 * case as u64);
            let b = matrix(k * n, 2 * case as u64 + 1);
            let expected = reference(&a, &b, m, k, n);
            let single = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            let (a32, b32) = (single(&a), single(&b));
            let (a_t, b_t) = (single(&transpose(&a, m, k)), single(&transpose(&b, k, n)));
            // Each of the k terms is rounded once in f32 (relative error 2⁻²⁴) and |a·b| ≤ 1.
            let tolerance = 4.0 * k as f64 * f32::EPSILON as f64;
            for (a_in, a_s) in [(&a32, Stored::AsIs), (&a_t, Stored::Transposed)] {
                for (b_in, b_s) in [(&b32, Stored::AsIs), (&b_t, Stored::Transposed)] {
                    for ((name, kernel), threads) in
                        each_kernel::<f32>().into_iter().flat_map(|k| [(k.clone(), 1), (k, 2)])
                    {
                        // NaN where C is replaced checks that a replacing product never reads C.
                        let mut c = vec![f32::NAN; m * n];
                        let mut workspace = Workspace::new(threads);
                        matmul_with(kernel, &mut c, a_in, a_s, b_in, b_s, (m, k, n), false, &mut workspace);
                        let worst = c.iter().zip(&expected).map(|(&x, y)| (x as f64 - y).abs()).fold(0.0, f64::max);
                        assert!(worst < tolerance, "{name} {m}×{k}×{n} {a_s:?} {b_s:?} {threads}: {worst}");
                        matmul_with(kernel, &mut c, a_in, a_s, b_in, b_s, (m, k, n), true, &mut workspace);
                        let worst =
                            c.iter().zip(&expected).map(|(&x, y)| (x as f64 - 2.0 * y).abs()).fold(0.0, f64::max);
                        assert!(worst < 2.0 * tolerance, "{name} accumulated {m}×{k}×{n} {a_s:?} {b_s:?}: {worst}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros_or_leaves_c() {
        let mut c = vec![f32::NAN; 6];
        matmul(&mut c, &[], Stored::AsIs, &[], Stored::AsIs, (2, 0, 3), false, &mut Workspace::new(1));
        assert_eq!(c, vec![0.0; 6]);
        let mut c = vec![5.0f32; 6];
        matmul(&mut c, &[], Stored::AsIs, &[], Stored::AsIs, (2, 0, 3), true, &mut Workspace::new(1));
        assert_eq!(c, vec![5.0; 6]);
    }
}

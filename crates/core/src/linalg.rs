//! The one matrix product every layer goes through, over the `gemm` crate. Transposes are strides,
//! not copies.

use std::cell::Cell;

use descent_optim::Float;

thread_local! {
    static INSIDE_GEMM: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread is inside a call into the `gemm` crate. `gemm` 0.18 allocates its
/// packing buffer within each call and has no entry point for caller-provided scratch memory; this
/// lets an allocation-counting test tell those allocations apart from descent's own.
pub fn inside_gemm() -> bool {
    INSIDE_GEMM.with(Cell::get)
}

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

#[cfg(test)]
const _: () = assert!(67 * 97 * 61 > PARALLEL_WORK);

/// C ← A·B (or C ← C + A·B with `accumulate`), where C is m×n row-major, A is m×k and B is k×n,
/// each stored as given.
///
/// With `threads` > 1 the product is cut into `threads` blocks of C computed in parallel, each by
/// a single-threaded product. The cut runs across whichever of A and B is larger (rows of C when
/// A is, columns when B is), so that no thread repacks the large operand: on the batch-sized
/// shapes of training this scales far better than splitting inside the product. The blocks depend
/// only on the shapes and the thread count, so results are reproducible for a given thread count.
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
    threads: usize,
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
    // SAFETY: the full extents were checked above; blocks only address sub-rectangles of them,
    // and the blocks of C computed in parallel are disjoint.
    unsafe { block.run(threads) }
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
    /// Computes the block on `threads` threads.
    ///
    /// # Safety
    /// The pointers must address the whole block with its strides, and C must not alias A or B.
    unsafe fn run(self, threads: usize) {
        let (m, k, n) = self.shape;
        if threads <= 1 || m * n * k < PARALLEL_WORK || (m < 2 && n < 2) {
            return self.gemm();
        }
        let left = threads.div_ceil(2);
        // Cut across the larger operand: rows of C (and A) when A is larger, columns (and B) otherwise.
        let (first, second) = if m * k >= k * n && m >= 2 || n < 2 {
            let top = m * left / threads;
            let bottom = Block {
                c: self.c.offset(top as isize * self.c_rs),
                a: self.a.offset(top as isize * self.a_strides.1),
                shape: (m - top, k, n),
                ..self
            };
            (Block { shape: (top, k, n), ..self }, bottom)
        } else {
            let cut = n * left / threads;
            let right = Block {
                c: self.c.add(cut),
                b: self.b.offset(cut as isize * self.b_strides.0),
                shape: (m, k, n - cut),
                ..self
            };
            (Block { shape: (m, k, cut), ..self }, right)
        };
        rayon::join(|| first.run(left), || second.run(threads - left));
    }

    /// One single-threaded product.
    unsafe fn gemm(self) {
        INSIDE_GEMM.with(|inside| inside.set(true));
        let (m, k, n) = self.shape;
        gemm::gemm(
            m,
            n,
            k,
            self.c,
            1,
            self.c_rs,
            self.accumulate,
            self.a,
            self.a_strides.0,
            self.a_strides.1,
            self.b,
            self.b_strides.0,
            self.b_strides.1,
            F::ONE,
            F::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
        INSIDE_GEMM.with(|inside| inside.set(false));
    }
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
                matmul(&mut c, a_in, a_s, b_in, b_s, (m, k, n), false, 1);
                assert!(c.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-12), "{a_s:?} {b_s:?}");
                matmul(&mut c, a_in, a_s, b_in, b_s, (m, k, n), true, 2);
                assert!(c.iter().zip(&expected).all(|(x, y)| (x - 2.0 * y).abs() < 1e-12));
            }
        }
    }

    #[test]
    fn row_split_over_threads_matches_the_definition() {
        // Large enough to be split (m·n·k above the threshold), with an odd row count.
        let (m, k, n) = (67, 97, 61);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.13).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.29).cos()).collect();
        let expected = reference(&a, &b, m, k, n);
        let a_t = transpose(&a, m, k);
        let b_t = transpose(&b, k, n);
        for threads in [2, 3] {
            for (a_in, a_s) in [(&a, Stored::AsIs), (&a_t, Stored::Transposed)] {
                for (b_in, b_s) in [(&b, Stored::AsIs), (&b_t, Stored::Transposed)] {
                    // Both cuts: rows when A is at least as large as B, columns otherwise.
                    for (rows, cols) in [(m, n), (m, 13)] {
                        let mut c = vec![0.0; rows * cols];
                        let (a_part, b_part) = if cols == n { (a_in.clone(), b_in.clone()) } else { continue };
                        matmul(&mut c, &a_part, a_s, &b_part, b_s, (rows, k, cols), false, threads);
                        assert!(
                            c.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-10),
                            "{threads} {a_s:?} {b_s:?}"
                        );
                    }
                }
            }
        }
        // A shape whose B is the larger operand, so the cut runs across columns.
        let (m, k, n) = (9, 130, 400);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.11).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.07).cos()).collect();
        let expected = reference(&a, &b, m, k, n);
        let mut c = vec![0.0; m * n];
        matmul(&mut c, &a, Stored::AsIs, &transpose(&b, k, n), Stored::Transposed, (m, k, n), false, 2);
        assert!(c.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-10));
    }
}

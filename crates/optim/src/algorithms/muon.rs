//! Muon: momentum orthogonalized by a Newton–Schulz iteration, for matrix-shaped tensors
//! (Jordan et al., 2024, "Muon: An optimizer for hidden layers in neural networks"), as
//! PyTorch 2.15's `torch.optim.Muon` runs it; AdamW for the tensors that are not matrices.
//!
//! For a matrix θ (rows A × cols B) with gradient G, momentum μ = 0.95:
//! - B ← B + (1 − μ)(G − B) (PyTorch's `lerp`: an average of gradients, not a sum);
//! - M = G + μ(B − G) with Nesterov (the default), else M = B;
//! - O = NS₅(M): X ← M/max(‖M‖_F, δ) (transposed first if A > B, so that X X^T is the smaller
//!   Gram matrix), then five times X ← aX + (bX Xᵀ + c(X Xᵀ)²)X with
//!   (a, b, c) = (3.4445, −4.7750, 2.0315): a quintic that pushes every singular value of X
//!   towards 1, so O ≈ UVᵀ from M = UΣVᵀ (Keller Jordan's coefficients; δ = 1e-7);
//! - θ ← θ(1 − ελ) (decoupled decay, λ = 0.1 by default), then θ ← θ − ε√max(1, A/B)·O
//!   (PyTorch's `adjust_lr_fn="original"`; `match_rms_adamw` uses 0.2√max(A, B) instead).
//!
//! Vectors (biases) and tensors whose group has no matrix shape are stepped by AdamW with the
//! same rate and decay (ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8), as PyTorch's documentation advises
//! pairing Muon with AdamW; PyTorch's Muon itself refuses them.
//!
//! **Conventions:** the chapter has no Muon, so both conventions run PyTorch's form. PyTorch
//! computes the Newton–Schulz iteration in bfloat16; descent computes it in the parameters' type
//! (f32 in training), which is what its replay test compares against (PyTorch's iteration with
//! the bfloat16 cast removed, in f64). The convention decides only the AdamW fallback's
//! operation order. Cost: three products of r × r and r × c matrices per iteration
//! (r = min(A, B)), O(r²·max(A, B)) per step instead of O(A·B), split over threads by rows.

use rayon::prelude::*;

use super::{check_non_negative, check_unit_interval, lerp, lerp_form, matrix_shape, AdamConfig, StepContext};
use super::{Prepare, TensorRule, UpdateRule};
use crate::error::ConfigError;
use crate::parallel::{apply_kernel, for_each_piece, sum_of_squares, StateViews};
use crate::Float;

/// How Muon scales its rate by the matrix's shape (PyTorch's `adjust_lr_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuonLrAdjustment {
    /// ε√max(1, A/B) (Keller Jordan's; PyTorch's default, `original`).
    Original,
    /// 0.2ε√max(A, B) (Moonshot's, to match AdamW's update RMS; `match_rms_adamw`).
    MatchRmsAdamw,
}

/// Hyperparameters of Muon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MuonConfig {
    /// μ: momentum of the gradient average (0.95).
    pub momentum: f64,
    /// Orthogonalize G + μ(B − G) instead of B.
    pub nesterov: bool,
    /// (a, b, c) of the quintic Newton–Schulz step.
    pub ns_coefficients: (f64, f64, f64),
    /// Newton–Schulz iterations (5).
    pub ns_steps: u32,
    /// δ: the smallest Frobenius norm M is divided by (1e-7).
    pub eps: f64,
    /// How the rate scales with the shape.
    pub adjust_lr: MuonLrAdjustment,
    /// The rule for tensors that are not matrices: AdamW.
    pub fallback: AdamConfig,
}

impl MuonConfig {
    /// PyTorch's defaults, with AdamW in `convention`'s order for vectors.
    pub fn new(convention: super::Convention) -> Self {
        MuonConfig {
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: (3.4445, -4.7750, 2.0315),
            ns_steps: 5,
            eps: 1e-7,
            adjust_lr: MuonLrAdjustment::Original,
            fallback: AdamConfig::adamw(convention),
        }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("momentum", self.momentum)?;
        check_non_negative("muon eps", self.eps)?;
        if !(1..100).contains(&self.ns_steps) {
            return Err(ConfigError::OutOfRange {
                field: "ns_steps",
                expected: "a whole number in [1, 100)",
                value: self.ns_steps as f64,
            });
        }
        let (a, b, c) = self.ns_coefficients;
        if ![a, b, c].iter().all(|x| x.is_finite()) {
            return Err(ConfigError::OutOfRange { field: "ns_coefficients", expected: "finite", value: a + b + c });
        }
        self.fallback.validate()
    }

    /// The rate for a rows × cols matrix at base rate `lr`.
    fn adjusted_lr(&self, lr: f64, rows: usize, cols: usize) -> f64 {
        let (rows, cols) = (rows as f64, cols as f64);
        match self.adjust_lr {
            MuonLrAdjustment::Original => lr * 1f64.max(rows / cols).sqrt(),
            MuonLrAdjustment::MatchRmsAdamw => lr * (0.2 * rows.max(cols).sqrt()),
        }
    }
}

impl Default for MuonConfig {
    fn default() -> Self {
        Self::new(super::Convention::Book)
    }
}

impl TensorRule for MuonConfig {
    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("momentum_buffer", 0.0), ("exp_avg", 0.0), ("exp_avg_sq", 0.0)]
    }

    fn buffer_len(&self, index: usize, len: usize, shape: Option<(usize, usize)>) -> usize {
        match (matrix_shape(shape), index) {
            (Some(_), 0) | (None, 1 | 2) => len,
            _ => 0,
        }
    }

    fn scratch_len(&self, len: usize, shape: Option<(usize, usize)>) -> usize {
        // X and the next X, the Gram matrix and the polynomial in it.
        matrix_shape(shape).map_or(0, |(rows, cols)| 2 * len + 2 * rows.min(cols).pow(2))
    }

    fn step_group<F: Float>(
        &self,
        context: &StepContext<'_>,
        shape: Option<(usize, usize)>,
        params: &mut [F],
        grads: &[F],
        state: &mut [&mut [F]],
        scratch: &mut [F],
    ) {
        let [momentum_buffer, exp_avg, exp_avg_sq] = state else { unreachable!("muon keeps three state buffers") };
        let Some((rows, cols)) = matrix_shape(shape) else {
            let kernel = self.fallback.prepare::<F>(context);
            let mut views: StateViews<'_, F> = Default::default();
            views[0] = &mut exp_avg[..];
            views[1] = &mut exp_avg_sq[..];
            for_each_piece(params, grads, views, 2, &|p: &mut [F], g: &[F], s: &mut [&mut [F]]| {
                apply_kernel(&kernel, p, g, s)
            });
            return;
        };
        let len = params.len();
        let (short, long) = (rows.min(cols), rows.max(cols));
        let (x, rest) = scratch.split_at_mut(len);
        let (next, rest) = rest.split_at_mut(len);
        let (gram, polynomial) = rest.split_at_mut(short * short);
        let polynomial = &mut polynomial[..short * short];

        // The momentum and the matrix to orthogonalize, transposed if taller than wide.
        let prep = context.clip_only_prep::<F>();
        let (average, average_from_end) = lerp_form(1.0 - self.momentum);
        let (look_ahead, look_ahead_from_end) = lerp_form(self.momentum);
        let (average, look_ahead) = (F::from_f64(average), F::from_f64(look_ahead));
        for (index, (b, &g)) in momentum_buffer.iter_mut().zip(grads).enumerate() {
            let g = prep.apply(g, F::ZERO);
            *b = lerp(*b, g, average, average_from_end);
            let m = if self.nesterov { lerp(g, *b, look_ahead, look_ahead_from_end) } else { *b };
            let (i, j) = (index / cols, index % cols);
            x[if rows > cols { j * rows + i } else { index }] = m;
        }

        // X/‖X‖, then the Newton–Schulz iteration on the short × long matrix.
        let norm = F::from_f64(sum_of_squares(x).sqrt().max(self.eps));
        x.iter_mut().for_each(|value| *value = *value / norm);
        let (a, b, c) = self.ns_coefficients;
        let (a, b, c) = (F::from_f64(a), F::from_f64(b), F::from_f64(c));
        for _ in 0..self.ns_steps {
            gram_matrix(x, short, long, gram);
            // H = b·G + c·G·G.
            multiply(gram, gram, short, short, short, polynomial);
            polynomial.iter_mut().zip(gram.iter()).for_each(|(h, &g)| *h = b.mul_add(g, c * *h));
            // X ← a·X + H·X.
            multiply(polynomial, x, short, short, long, next);
            next.iter_mut().zip(x.iter()).for_each(|(y, &x)| *y = a.mul_add(x, *y));
            x.copy_from_slice(next);
        }

        let decay = F::from_f64(1.0 - context.lr * context.weight_decay);
        let step = F::from_f64(-self.adjusted_lr(context.lr, rows, cols));
        for (index, p) in params.iter_mut().enumerate() {
            let (i, j) = (index / cols, index % cols);
            let o = x[if rows > cols { j * rows + i } else { index }];
            *p = step.mul_add(o, *p * decay);
        }
    }
}

/// Rows of an output at least this long are worth a thread each.
const PARALLEL_ROW_WORK: usize = 1 << 14;

/// out (rows × rows) = X Xᵀ for X (rows × cols), row-major: dot products of rows.
fn gram_matrix<F: Float>(x: &[F], rows: usize, cols: usize, out: &mut [F]) {
    let row = |i: usize, out_row: &mut [F]| {
        #[cfg(target_arch = "x86_64")]
        if !cfg!(target_feature = "fma") && crate::parallel::fma_available() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { gram_row_fma(x, i, cols, out_row) };
        }
        gram_row(x, i, cols, out_row)
    };
    if rows * cols >= PARALLEL_ROW_WORK {
        out.par_chunks_mut(rows).enumerate().for_each(|(i, out_row)| row(i, out_row));
    } else {
        out.chunks_mut(rows).enumerate().for_each(|(i, out_row)| row(i, out_row));
    }
}

/// out (m × n) = A (m × k) · B (k × n), row-major, each output row as a sum of B's rows (a loop
/// the compiler vectorizes); the same arithmetic for any thread count.
fn multiply<F: Float>(a: &[F], b: &[F], m: usize, k: usize, n: usize, out: &mut [F]) {
    let row = |i: usize, out_row: &mut [F]| {
        let a_row = &a[i * k..(i + 1) * k];
        #[cfg(target_arch = "x86_64")]
        if !cfg!(target_feature = "fma") && crate::parallel::fma_available() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { product_row_fma(a_row, b, n, out_row) };
        }
        product_row(a_row, b, n, out_row)
    };
    if k * n >= PARALLEL_ROW_WORK {
        out[..m * n].par_chunks_mut(n).enumerate().for_each(|(i, out_row)| row(i, out_row));
    } else {
        out[..m * n].chunks_mut(n).enumerate().for_each(|(i, out_row)| row(i, out_row));
    }
}

/// Row i of X Xᵀ.
#[inline(always)]
fn gram_row<F: Float>(x: &[F], i: usize, cols: usize, out_row: &mut [F]) {
    let xi = &x[i * cols..(i + 1) * cols];
    for (k, value) in out_row.iter_mut().enumerate() {
        *value = dot(xi, &x[k * cols..(k + 1) * cols]);
    }
}

/// out_row = Σ_l a_row[l]·(row l of B).
#[inline(always)]
fn product_row<F: Float>(a_row: &[F], b: &[F], n: usize, out_row: &mut [F]) {
    out_row.fill(F::ZERO);
    for (l, &a_il) in a_row.iter().enumerate() {
        for (o, &b_lj) in out_row.iter_mut().zip(&b[l * n..(l + 1) * n]) {
            *o = a_il.mul_add(b_lj, *o);
        }
    }
}

/// [`gram_row`] compiled for AVX2 and FMA, for builds whose baseline lacks them (as
/// [`apply_kernel`] does for the elementwise rules): otherwise every `mul_add` is a call into
/// software (measured: 1,640 ns per parameter for Muon on 128 × 1024 blocks).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gram_row_fma<F: Float>(x: &[F], i: usize, cols: usize, out_row: &mut [F]) {
    gram_row(x, i, cols, out_row)
}

/// [`product_row`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn product_row_fma<F: Float>(a_row: &[F], b: &[F], n: usize, out_row: &mut [F]) {
    product_row(a_row, b, n, out_row)
}

/// Σ aᵢbᵢ over eight lanes (so that it vectorizes), lanes summed in a fixed order.
#[inline(always)]
fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    let mut lanes = [F::ZERO; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = a_chunks.remainder().iter().zip(b_chunks.remainder()).fold(F::ZERO, |s, (&x, &y)| x.mul_add(y, s));
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(ca).zip(cb) {
            *lane = x.mul_add(y, *lane);
        }
    }
    lanes.iter().fold(tail, |s, &lane| s + lane)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Convention, Optimizer, ParamGroup};

    /// The Newton–Schulz iteration written out with 2 × 2 matrices in f64, from the paper's
    /// pseudo-code: X ← aX + (bA + cA²)X, A = XXᵀ.
    fn newton_schulz_2x2(m: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
        let mul = |p: [[f64; 2]; 2], q: [[f64; 2]; 2]| {
            let mut r = [[0.0; 2]; 2];
            for i in 0..2 {
                for j in 0..2 {
                    r[i][j] = p[i][0] * q[0][j] + p[i][1] * q[1][j];
                }
            }
            r
        };
        let norm = m.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        let mut x = m.map(|row| row.map(|v| v / norm));
        for _ in 0..5 {
            let t = [[x[0][0], x[1][0]], [x[0][1], x[1][1]]];
            let a = mul(x, t);
            let a2 = mul(a, a);
            let mut h = [[0.0; 2]; 2];
            for i in 0..2 {
                for j in 0..2 {
                    h[i][j] = -4.7750 * a[i][j] + 2.0315 * a2[i][j];
                }
            }
            let hx = mul(h, x);
            for i in 0..2 {
                for j in 0..2 {
                    x[i][j] = 3.4445 * x[i][j] + hx[i][j];
                }
            }
        }
        x
    }

    #[test]
    fn first_step_orthogonalizes_the_momentum() {
        // t = 1 from B = 0: B = 0.05G, M = G + 0.95(B − G) = 0.0975G; NS normalizes, so O = NS(G/‖G‖).
        // θ = 0, λ = 0, ε = 0.1, square: Δθ = −0.1·O.
        let g = [[3.0, 1.0], [-1.0, 2.0]];
        let expected = newton_schulz_2x2(g);
        let groups = vec![ParamGroup::new(0..4).with_shape(2, 2)];
        let mut optimizer = Optimizer::<f64>::new(MuonConfig::new(Convention::Torch).into())
            .unwrap()
            .with_groups(groups)
            .unwrap()
            .with_weight_decay(0.0)
            .unwrap();
        let mut params = [0.0; 4];
        optimizer.step(&mut params, &[3.0, 1.0, -1.0, 2.0], 0.1).unwrap();
        for (p, o) in params.iter().zip(expected.iter().flatten()) {
            assert!((p + 0.1 * o).abs() < 1e-14, "{p} vs {}", -0.1 * o);
        }
        // And O is near-orthogonal: its singular values lie in the quintic's band around 1
        // (the coefficients trade exactness for speed; Jordan reports about 0.7–1.2).
        let o = expected;
        let ot_o = [
            o[0][0] * o[0][0] + o[1][0] * o[1][0],
            o[0][0] * o[0][1] + o[1][0] * o[1][1],
            o[0][1] * o[0][1] + o[1][1] * o[1][1],
        ];
        let (trace, det) = (ot_o[0] + ot_o[2], ot_o[0] * ot_o[2] - ot_o[1] * ot_o[1]);
        let disc = (trace * trace / 4.0 - det).sqrt();
        for s2 in [trace / 2.0 - disc, trace / 2.0 + disc] {
            assert!((0.5..1.5).contains(&s2.sqrt()), "singular value {}", s2.sqrt());
        }
    }

    /// One step of PyTorch's Muon on a `rows` × `cols` matrix (row-major) in f64, written from
    /// its documentation: B ← B + (1 − μ)(G − B); M = G + μ(B − G) with Nesterov, else B;
    /// X = M/max(‖M‖_F, δ), transposed when taller than wide; five times X ← aX + (bA + cA²)X
    /// with A = XXᵀ; transposed back; θ ← θ(1 − ελ) − ε_adjusted·X.
    #[allow(clippy::too_many_arguments)]
    fn torch_muon_step(
        theta: &mut [f64],
        g: &[f64],
        momentum_buffer: &mut [f64],
        (rows, cols): (usize, usize),
        nesterov: bool,
        (lr, lr_adjusted, lambda): (f64, f64, f64),
    ) {
        type Matrix = Vec<Vec<f64>>;
        let transpose =
            |p: &Matrix| -> Matrix { (0..p[0].len()).map(|j| p.iter().map(|row| row[j]).collect()).collect() };
        let product = |p: &Matrix, q: &Matrix| -> Matrix {
            p.iter()
                .map(|row| (0..q[0].len()).map(|j| row.iter().zip(q).map(|(a, q)| a * q[j]).sum()).collect())
                .collect()
        };
        let mu = 0.95;
        for (b, g) in momentum_buffer.iter_mut().zip(g) {
            *b += (1.0 - mu) * (g - *b);
        }
        let m: Vec<f64> =
            g.iter().zip(momentum_buffer.iter()).map(|(g, b)| if nesterov { g + mu * (b - g) } else { *b }).collect();
        let norm = m.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-7);
        let mut x: Matrix = m.chunks(cols).map(|row| row.iter().map(|v| v / norm).collect()).collect();
        if rows > cols {
            x = transpose(&x);
        }
        for _ in 0..5 {
            let a = product(&x, &transpose(&x));
            let a2 = product(&a, &a);
            let h: Matrix = a
                .iter()
                .zip(&a2)
                .map(|(a, a2)| a.iter().zip(a2).map(|(a, a2)| -4.7750 * a + 2.0315 * a2).collect())
                .collect();
            let hx = product(&h, &x);
            x = x.iter().zip(&hx).map(|(x, hx)| x.iter().zip(hx).map(|(x, hx)| 3.4445 * x + hx).collect()).collect();
        }
        if rows > cols {
            x = transpose(&x);
        }
        for (p, o) in theta.iter_mut().zip(x.iter().flatten()) {
            *p = *p * (1.0 - lr * lambda) - lr_adjusted * o;
        }
    }

    #[test]
    fn three_steps_match_torchs_muon_written_separately() {
        // A 4 × 3 matrix (orthogonalized as its 3 × 3-Gram transpose, rate ε√(4/3)) with Nesterov,
        // and a 3 × 5 one with plain momentum and Moonshot's rate 0.2ε√5; ε = 0.1, λ = 0.2,
        // g = θ ⊙ w − b so that the gradient changes from step to step.
        let cases = [
            ((4, 3), true, MuonLrAdjustment::Original, (4.0f64 / 3.0).sqrt()),
            ((3, 5), false, MuonLrAdjustment::MatchRmsAdamw, 0.2 * 5f64.sqrt()),
        ];
        for ((rows, cols), nesterov, adjust_lr, scale) in cases {
            let len = rows * cols;
            let w: Vec<f64> = (0..len).map(|i| 0.5 + (i * 7 % 5) as f64 * 0.25).collect();
            let b: Vec<f64> = (0..len).map(|i| (i * 3 % 7) as f64 * 0.5 - 1.5).collect();
            let grad = |theta: &[f64]| theta.iter().zip(&w).zip(&b).map(|((x, w), b)| x * w - b).collect::<Vec<f64>>();
            let config = MuonConfig { nesterov, adjust_lr, ..MuonConfig::new(Convention::Torch) };
            let mut optimizer = Optimizer::<f64>::new(config.into())
                .unwrap()
                .with_groups(vec![ParamGroup::new(0..len).with_shape(rows, cols)])
                .unwrap()
                .with_weight_decay(0.2)
                .unwrap();
            let (lr, lambda) = (0.1, 0.2);
            let mut params: Vec<f64> = (0..len).map(|i| (i % 4) as f64 * 0.5 - 0.75).collect();
            let (mut expected, mut momentum_buffer) = (params.clone(), vec![0.0; len]);
            for t in 1..=3 {
                let g = grad(&params);
                optimizer.step(&mut params, &g, lr).unwrap();
                torch_muon_step(
                    &mut expected,
                    &g,
                    &mut momentum_buffer,
                    (rows, cols),
                    nesterov,
                    (lr, lr * scale, lambda),
                );
                for (p, e) in params.iter().zip(&expected) {
                    assert!((p - e).abs() < 1e-12, "{rows} × {cols}, t = {t}: {p} vs {e}");
                }
            }
        }
    }

    #[test]
    fn a_matrix_large_enough_for_threads_matches_torchs_muon() {
        // 2 × 8192: the Gram matrix and the products reach PARALLEL_ROW_WORK (2·8192 = 2¹⁴) and
        // split their rows over threads, and each dot product runs through its eight lanes.
        let (rows, cols) = (2, 8192);
        let g: Vec<f64> = (0..rows * cols).map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0).collect();
        let mut optimizer = Optimizer::<f64>::new(MuonConfig::new(Convention::Torch).into())
            .unwrap()
            .with_groups(vec![ParamGroup::new(0..rows * cols).with_shape(rows, cols)])
            .unwrap()
            .with_weight_decay(0.0)
            .unwrap();
        let mut params = vec![0.0; rows * cols];
        optimizer.step(&mut params, &g, 0.1).unwrap();
        let (mut expected, mut momentum_buffer) = (vec![0.0; rows * cols], vec![0.0; rows * cols]);
        torch_muon_step(&mut expected, &g, &mut momentum_buffer, (rows, cols), true, (0.1, 0.1, 0.0));
        for (p, e) in params.iter().zip(&expected) {
            assert!((p - e).abs() < 1e-14, "{p} vs {e}");
        }
    }

    #[test]
    fn tall_matrices_are_orthogonalized_transposed_and_rates_scale_by_shape() {
        // A 3 × 2 matrix is orthogonalized as its 2 × 3 transpose, with rate ε√(3/2): the
        // update's singular values are near 1 and the rate's scale shows in ‖Δθ‖_F.
        let grads = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let groups = vec![ParamGroup::new(0..6).with_shape(3, 2)];
        let mut optimizer = Optimizer::<f64>::new(MuonConfig::new(Convention::Torch).into())
            .unwrap()
            .with_groups(groups)
            .unwrap()
            .with_weight_decay(0.0)
            .unwrap();
        let mut params = [0.0; 6];
        optimizer.step(&mut params, &grads, 1.0).unwrap();
        // Δθ = −√1.5·O with OᵀO ≈ I₂: ‖Δθ‖²_F = 1.5·(σ₁² + σ₂²) within the quintic's band.
        let frobenius_squared: f64 = params.iter().map(|p| p * p).sum();
        assert!((1.5 * 2.0 * 0.25..1.5 * 2.0 * 2.25).contains(&frobenius_squared), "{frobenius_squared}");
        let lengths: Vec<(&str, usize)> = optimizer.state_buffers().map(|(n, v)| (n, v.len())).collect();
        assert_eq!(lengths, [("momentum_buffer", 6), ("exp_avg", 0), ("exp_avg_sq", 0)]);
    }

    #[test]
    fn products_match_a_plain_triple_loop() {
        // 3 × 5 matrices with distinct entries: the vectorized kernels against the definition.
        let x: Vec<f64> = (0..15).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect();
        let mut gram = vec![0.0; 9];
        gram_matrix(&x, 3, 5, &mut gram);
        let mut product = vec![0.0; 15];
        multiply(&gram, &x, 3, 3, 5, &mut product);
        for i in 0..3 {
            for k in 0..3 {
                let expected: f64 = (0..5).map(|j| x[i * 5 + j] * x[k * 5 + j]).sum();
                assert!((gram[i * 3 + k] - expected).abs() < 1e-13);
            }
            for j in 0..5 {
                let expected: f64 = (0..3).map(|l| gram[i * 3 + l] * x[l * 5 + j]).sum();
                assert!((product[i * 5 + j] - expected).abs() < 1e-12);
            }
        }
    }
}

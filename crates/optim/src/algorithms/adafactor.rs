//! Adafactor: a factored second moment and relative step sizes (Shazeer & Stern, 2018), as
//! PyTorch 2.15's `torch.optim.Adafactor` runs it.
//!
//! For a tensor X with gradient G at step t (PyTorch's form of the paper's Algorithms 4 and 5,
//! without first moment):
//! - ρ̂₂ₜ = 1 − t^c (c = `beta2_decay` = −0.8), the rate at which the moment forgets;
//! - relative step ρₜ = min(ε, 1/√t) and step size αₜ = max(ε₂, RMS(X))·ρₜ (ε = `lr`, 1e-2 by
//!   default; ε₂ = 1e-3);
//! - for a matrix (rows × cols): R ← R + ρ̂₂ₜ(mean_j G²ᵢⱼ − R) per row and
//!   C ← C + ρ̂₂ₜ(mean_i G²ᵢⱼ − C) per column, V̂ᵢⱼ = RᵢCⱼ/max(mean R, ε₁): rows + cols numbers of
//!   state instead of rows·cols. For a vector: V ← V + ρ̂₂ₜ(G² − V), V̂ = V;
//! - U = G/√max(V̂, ε₁²), and the update is clipped by its RMS: θ ← θ − αₜ/max(1, RMS(U)/d)·U
//!   (d = 1). Decoupled weight decay θ ← θ(1 − ελ) comes first (from the undecayed RMS(X)).
//!
//! ε₁ is the element type's machine epsilon unless set (PyTorch's `eps=(None, 1e-3)`).
//!
//! **Conventions:** the chapter has no Adafactor, so both run PyTorch's form above. It differs
//! from the paper's Algorithm 4 in two details: means instead of sums in R and C (the same V̂, as
//! the factors cancel) and ε₁ as a floor on V̂ rather than added to G², and ε caps the relative
//! step where the paper fixes 10⁻².
//!
//! **Shapes:** a tensor needs its matrix shape (a [`ParamGroup`](crate::ParamGroup) with one); a
//! group without one, or with a single row or column, is a vector.

use super::{
    check_non_negative, lerp, lerp_form, matrix_shape, root_mean_square, GradientPrep, Prepare, StepContext, TensorRule,
};
use crate::error::ConfigError;
use crate::float::max_propagating_nan;
use crate::Float;

/// Hyperparameters of Adafactor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdafactorConfig {
    /// c in ρ̂₂ₜ = 1 − t^c: how fast the second moment's memory grows (≤ 0; −0.8).
    pub beta2_decay: f64,
    /// ε₁: floor of the second-moment estimate, as √ (`None`: the machine epsilon).
    pub eps1: Option<f64>,
    /// ε₂: the smallest RMS(θ) the step size scales by.
    pub eps2: f64,
    /// d: the RMS above which the update is scaled down (≥ 1).
    pub d: f64,
}

impl AdafactorConfig {
    /// PyTorch's defaults: c = −0.8, ε₁ = machine epsilon, ε₂ = 1e-3, d = 1.
    pub fn new() -> Self {
        AdafactorConfig { beta2_decay: -0.8, eps1: None, eps2: 1e-3, d: 1.0 }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.beta2_decay.is_finite() && self.beta2_decay <= 0.0) {
            return Err(ConfigError::OutOfRange {
                field: "beta2_decay",
                expected: "a finite number <= 0",
                value: self.beta2_decay,
            });
        }
        if let Some(eps1) = self.eps1 {
            check_non_negative("eps", eps1)?;
        }
        check_non_negative("eps2", self.eps2)?;
        if !(self.d.is_finite() && self.d >= 1.0) {
            return Err(ConfigError::OutOfRange { field: "d", expected: "a finite number >= 1", value: self.d });
        }
        Ok(())
    }
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TensorRule for AdafactorConfig {
    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("row_var", 0.0), ("col_var", 0.0), ("variance", 0.0)]
    }

    fn buffer_len(&self, index: usize, len: usize, shape: Option<(usize, usize)>) -> usize {
        match (matrix_shape(shape), index) {
            (Some((rows, _)), 0) => rows,
            (Some((_, cols)), 1) => cols,
            (None, 2) => len,
            _ => 0,
        }
    }

    fn scratch_len(&self, _len: usize, shape: Option<(usize, usize)>) -> usize {
        matrix_shape(shape).map_or(0, |(_, cols)| cols)
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
        let [row_var, col_var, variance] = state else { unreachable!("adafactor keeps three state buffers") };
        // PyTorch computes these in Python floats.
        let t = context.step as f64;
        let (coefficient, from_end) = lerp_form(t.powf(self.beta2_decay));
        let relative_step = context.lr.min(1.0 / t.powf(0.5));
        let eps1 = self.eps1.map_or(F::EPSILON, F::from_f64);
        let step = AdafactorStep {
            step_size: self.eps2.max(root_mean_square(params)) * relative_step,
            decay: F::from_f64(1.0 - context.lr * context.weight_decay),
            prep: context.clip_only_prep::<F>(),
            coefficient: F::from_f64(coefficient),
            from_end,
            eps1,
            floor: eps1 * eps1,
            d: self.d,
        };
        if context.weight_decay != 0.0 {
            params.iter_mut().for_each(|p| *p *= step.decay);
        }
        let fma = cfg!(target_arch = "x86_64") && !cfg!(target_feature = "fma") && crate::parallel::fma_available();
        match matrix_shape(shape) {
            // SAFETY (both): the FMA versions run only where the CPU has AVX2 and FMA.
            Some((rows, cols)) if fma => unsafe {
                step.matrix_fma(rows, cols, params, grads, row_var, col_var, scratch)
            },
            Some((rows, cols)) => step.matrix(rows, cols, params, grads, row_var, col_var, scratch),
            None if fma => unsafe { step.vector_fma(params, grads, variance) },
            None => step.vector(params, grads, variance),
        }
    }
}

/// One step's coefficients for one tensor.
struct AdafactorStep<F> {
    step_size: f64,
    decay: F,
    prep: GradientPrep<F>,
    coefficient: F,
    from_end: bool,
    eps1: F,
    floor: F,
    d: f64,
}

impl<F: Float> AdafactorStep<F> {
    /// 1/√max(V̂, ε₁²), PyTorch's `clamp_(min=eps1²).rsqrt_()`.
    #[inline(always)]
    fn inverse_root(&self, estimate: F) -> F {
        F::ONE / max_propagating_nan(estimate, self.floor).sqrt()
    }

    /// The factored step of a rows × cols matrix.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn matrix(
        &self,
        rows: usize,
        cols: usize,
        params: &mut [F],
        grads: &[F],
        row_var: &mut [F],
        col_var: &mut [F],
        scratch: &mut [F],
    ) {
        let column_sums = &mut scratch[..cols];
        column_sums.fill(F::ZERO);
        for (row, r) in grads.chunks_exact(cols).zip(row_var.iter_mut()) {
            let mut sum = F::ZERO;
            for (&g, column_sum) in row.iter().zip(column_sums.iter_mut()) {
                let g = self.prep.apply(g, F::ZERO);
                sum = g.mul_add(g, sum);
                *column_sum = g.mul_add(g, *column_sum);
            }
            *r = lerp(*r, sum / F::from_f64(cols as f64), self.coefficient, self.from_end);
        }
        for (c, &sum) in col_var.iter_mut().zip(column_sums.iter()) {
            *c = lerp(*c, sum / F::from_f64(rows as f64), self.coefficient, self.from_end);
        }
        let mut row_sum = 0.0;
        for r in row_var.iter() {
            row_sum += r.to_f64();
        }
        let divisor = F::from_f64((row_sum / rows as f64).max(self.eps1.to_f64()));
        // U = G/√V̂ twice: once for its norm, once to step (no buffer of rows·cols).
        let mut norm_squared = 0.0;
        for (row, &r) in grads.chunks_exact(cols).zip(row_var.iter()) {
            for (&g, &c) in row.iter().zip(col_var.iter()) {
                let u = self.prep.apply(g, F::ZERO) * self.inverse_root(r * c / divisor);
                norm_squared += u.to_f64() * u.to_f64();
            }
        }
        let coefficient = F::from_f64(-self.step_size / clip_divisor(norm_squared, params.len(), self.d));
        for ((p_row, g_row), &r) in params.chunks_exact_mut(cols).zip(grads.chunks_exact(cols)).zip(row_var.iter()) {
            for ((p, &g), &c) in p_row.iter_mut().zip(g_row).zip(col_var.iter()) {
                let u = self.prep.apply(g, F::ZERO) * self.inverse_root(r * c / divisor);
                *p = coefficient.mul_add(u, *p);
            }
        }
    }

    /// The unfactored step of a vector.
    #[inline(always)]
    fn vector(&self, params: &mut [F], grads: &[F], variance: &mut [F]) {
        let mut norm_squared = 0.0;
        for (v, &g) in variance.iter_mut().zip(grads) {
            let g = self.prep.apply(g, F::ZERO);
            *v = lerp(*v, g * g, self.coefficient, self.from_end);
            let u = g * self.inverse_root(*v);
            norm_squared += u.to_f64() * u.to_f64();
        }
        let coefficient = F::from_f64(-self.step_size / clip_divisor(norm_squared, params.len(), self.d));
        for ((p, &g), &v) in params.iter_mut().zip(grads).zip(variance.iter()) {
            *p = coefficient.mul_add(self.prep.apply(g, F::ZERO) * self.inverse_root(v), *p);
        }
    }

    /// [`Self::matrix`] compiled for AVX2 and FMA (for builds whose baseline lacks them).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    unsafe fn matrix_fma(
        &self,
        rows: usize,
        cols: usize,
        params: &mut [F],
        grads: &[F],
        row_var: &mut [F],
        col_var: &mut [F],
        scratch: &mut [F],
    ) {
        self.matrix(rows, cols, params, grads, row_var, col_var, scratch)
    }

    /// [`Self::vector`] compiled for AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    unsafe fn vector_fma(&self, params: &mut [F], grads: &[F], variance: &mut [F]) {
        self.vector(params, grads, variance)
    }
}

/// max(1, RMS(U)/d) from ‖U‖², in PyTorch's order (`norm / (numel ** 0.5 * d)`).
fn clip_divisor(norm_squared: f64, len: usize, d: f64) -> f64 {
    1f64.max(norm_squared.sqrt() / ((len as f64).sqrt() * d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Optimizer, ParamGroup};

    /// PyTorch's `torch.optim.Adafactor` written out in f64 from its documentation, for one
    /// tensor: a `rows` × `cols` matrix (moments R and C) or, with `shape` `None`, a vector
    /// (moment V in `moments[0]`). ε₂ = 1e-3, c = −0.8.
    #[allow(clippy::too_many_arguments)]
    fn torch_adafactor_step(
        theta: &mut [f64],
        g: &[f64],
        shape: Option<(usize, usize)>,
        moments: &mut [Vec<f64>; 2],
        t: f64,
        (lr, lambda): (f64, f64),
        eps1: f64,
        d: f64,
    ) {
        let n = theta.len() as f64;
        let beta2_hat = 1.0 - t.powf(-0.8);
        let rho = lr.min(1.0 / t.sqrt());
        let alpha = (theta.iter().map(|x| x * x).sum::<f64>() / n).sqrt().max(1e-3) * rho;
        theta.iter_mut().for_each(|x| *x *= 1.0 - lr * lambda);
        let v_hat: Vec<f64> = match shape {
            Some((rows, cols)) => {
                let [r, c] = moments;
                for (i, r) in r.iter_mut().enumerate() {
                    let mean = (0..cols).map(|j| g[i * cols + j].powi(2)).sum::<f64>() / cols as f64;
                    *r = beta2_hat * *r + (1.0 - beta2_hat) * mean;
                }
                for (j, c) in c.iter_mut().enumerate() {
                    let mean = (0..rows).map(|i| g[i * cols + j].powi(2)).sum::<f64>() / rows as f64;
                    *c = beta2_hat * *c + (1.0 - beta2_hat) * mean;
                }
                let r_mean = r.iter().sum::<f64>() / rows as f64;
                (0..rows * cols).map(|k| r[k / cols] * c[k % cols] / r_mean.max(eps1)).collect()
            }
            None => {
                let v = &mut moments[0];
                for (v, g) in v.iter_mut().zip(g) {
                    *v = beta2_hat * *v + (1.0 - beta2_hat) * g * g;
                }
                v.clone()
            }
        };
        let u: Vec<f64> = g.iter().zip(&v_hat).map(|(g, v)| g / v.max(eps1 * eps1).sqrt()).collect();
        let rms_u = (u.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
        for (x, u) in theta.iter_mut().zip(u) {
            *x -= alpha / (rms_u / d).max(1.0) * u;
        }
    }

    #[test]
    fn four_steps_match_torchs_algorithm_written_separately() {
        // A 2 × 3 matrix and a 2-vector in one optimizer, g = θ·w − b (the matrix's gradient
        // starts near diagonal, [[3, 0.05, 0.05], [0.05, 0.5, 0.05]], which the factored V̂ fits
        // badly); ε = 0.9 so that the relative step min(ε, 1/√t) shrinks from t = 2; weight decay
        // λ = 0.1; ε₁ = 0.05, which floors the vector's V̂ (its gradient is −0.01 at the start).
        // With d = 1 the matrix's update is clipped at t = 1, 2, 3 (RMS(U) 2.5, 1.9, 1.4) and the
        // vector's at t = 2, 3 (1.32, 1.20); with d = 4 none is. The steps αₜ are above 1 at first
        // (the vector's RMS(θ) is 1.9).
        let w = [1.0, 0.5, 2.0, 1.5, 0.25, 1.0, 1.0, 0.5];
        let b = [-2.0, -1.05, 0.95, 4.45, -0.5, 1.45, 1.01, 1.15];
        let grad = |theta: &[f64]| theta.iter().zip(&w).zip(&b).map(|((x, w), b)| x * w - b).collect::<Vec<f64>>();
        let start = [1.0, -2.0, 0.5, 3.0, 0.0, 1.5, 1.0, 2.5];
        let (lr, lambda, eps1) = (0.9, 0.1, 0.05);
        for d in [1.0, 4.0] {
            let groups = vec![ParamGroup::new(0..6).with_shape(2, 3), ParamGroup::new(6..8)];
            let config = AdafactorConfig { eps1: Some(eps1), d, ..AdafactorConfig::new() };
            let mut optimizer = Optimizer::<f64>::new(config.into())
                .unwrap()
                .with_groups(groups)
                .unwrap()
                .with_weight_decay(lambda)
                .unwrap();
            let mut params = start;
            let (mut matrix, mut vector) = (start[..6].to_vec(), start[6..].to_vec());
            let mut matrix_moments = [vec![0.0; 2], vec![0.0; 3]];
            let mut vector_moments = [vec![0.0; 2], vec![]];
            for t in 1..=4 {
                let g = grad(&params);
                optimizer.step(&mut params, &g, lr).unwrap();
                let t = t as f64;
                torch_adafactor_step(&mut matrix, &g[..6], Some((2, 3)), &mut matrix_moments, t, (lr, lambda), eps1, d);
                torch_adafactor_step(&mut vector, &g[6..], None, &mut vector_moments, t, (lr, lambda), eps1, d);
                for (p, expected) in params.iter().zip(matrix.iter().chain(&vector)) {
                    assert!((p - expected).abs() < 1e-13, "d = {d}, t = {t}: {p} vs {expected}");
                }
            }
            // The state holds R, C and V themselves (a checkpoint stores them).
            let buffers: Vec<Vec<f64>> = optimizer.state_buffers().map(|(_, v)| v.to_vec()).collect();
            let expected = [&matrix_moments[0], &matrix_moments[1], &vector_moments[0]];
            for (buffer, expected) in buffers.iter().zip(expected) {
                assert_eq!(buffer.len(), expected.len());
                for (v, e) in buffer.iter().zip(expected) {
                    assert!((v - e).abs() < 1e-13, "d = {d}: state {v} vs {e}");
                }
            }
        }
    }

    #[test]
    fn a_single_row_or_column_is_a_vector() {
        // A bias declared 1 × 3 or 3 × 1 keeps the unfactored V (3 numbers, no R or C) and steps
        // as a vector: at t = 1, θ − α·sign(g) with α = RMS(θ)·ε = √(50/3)·0.01 for θ = (3, 4, 5).
        for (rows, cols) in [(1, 3), (3, 1)] {
            let groups = vec![ParamGroup::new(0..3).with_shape(rows, cols)];
            let mut optimizer =
                Optimizer::<f64>::new(AdafactorConfig::new().into()).unwrap().with_groups(groups).unwrap();
            let mut params = [3.0, 4.0, 5.0];
            optimizer.step(&mut params, &[0.5, -2.0, 1.0], 0.01).unwrap();
            let alpha = (50.0f64 / 3.0).sqrt() * 0.01;
            for (p, expected) in params.iter().zip([3.0 - alpha, 4.0 + alpha, 5.0 - alpha]) {
                assert!((p - expected).abs() < 1e-15, "{rows} × {cols}: {p} vs {expected}");
            }
            let lengths: Vec<(&str, usize)> = optimizer.state_buffers().map(|(n, v)| (n, v.len())).collect();
            assert_eq!(lengths, [("row_var", 0), ("col_var", 0), ("variance", 3)], "{rows} × {cols}");
        }
    }

    #[test]
    fn first_step_of_a_vector_by_hand() {
        // t = 1: ρ̂₂ = 1, so V = G²; U = G/|G| = sign(G), RMS(U) = 1 (no clipping);
        // ρ₁ = min(ε, 1) = ε; α = max(1e-3, RMS(θ))·ε. θ = (3, 4): RMS = √(25/2).
        let mut optimizer = Optimizer::<f64>::new(AdafactorConfig::new().into()).unwrap();
        let mut params = [3.0, 4.0];
        optimizer.step(&mut params, &[0.5, -2.0], 0.01).unwrap();
        let alpha = (12.5f64).sqrt() * 0.01;
        assert!((params[0] - (3.0 - alpha)).abs() < 1e-15 && (params[1] - (4.0 + alpha)).abs() < 1e-15);
    }

    #[test]
    fn factored_second_moment_of_a_matrix_by_hand() {
        // θ = 0 (2 × 2), so α = ε₂·min(ε, 1) = 1e-3·0.5 with ε = 0.5. G = [[2, 0], [0, 1]] at t = 1:
        // R = (mean(4, 0), mean(0, 1)) = (2, 0.5); C = (mean(4, 0), mean(0, 1)) = (2, 0.5);
        // mean R = 1.25; V̂ = [[2·2, 2·0.5], [0.5·2, 0.5·0.5]]/1.25 = [[3.2, 0.8], [0.8, 0.2]];
        // U = G/√V̂ = (2/√3.2, 0, 0, 1/√0.2); Σ U² = 1.25 + 5, RMS(U) = 1.25 > 1: the step is
        // −α·U/1.25.
        let groups = vec![ParamGroup::new(0..4).with_shape(2, 2)];
        let mut optimizer = Optimizer::<f64>::new(AdafactorConfig::new().into()).unwrap().with_groups(groups).unwrap();
        let mut params = [0.0; 4];
        let grads = [2.0, 0.0, 0.0, 1.0];
        optimizer.step(&mut params, &grads, 0.5).unwrap();
        let v_hat = [3.2, 0.8, 0.8, 0.2];
        let u: Vec<f64> = grads.iter().zip(v_hat).map(|(g, v)| g / v.sqrt()).collect();
        let rms = 1.25;
        for (p, u) in params.iter().zip(&u) {
            let expected = -1e-3 * 0.5 * u / rms;
            assert!((p - expected).abs() < 1e-17, "{p} vs {expected}");
        }
        // Rows + cols numbers of state, not rows·cols.
        let lengths: Vec<(&str, usize)> = optimizer.state_buffers().map(|(n, v)| (n, v.len())).collect();
        assert_eq!(lengths, [("row_var", 2), ("col_var", 2), ("variance", 0)]);
    }
}

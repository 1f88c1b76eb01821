//! Adam (Algorithm 8.7; Kingma & Ba, 2014), with AdamW's decoupled weight decay (Loshchilov &
//! Hutter, 2019) and AMSGrad (Reddi, Kale & Kumar, 2018) as options.
//!
//! **Book:** t ← t + 1; s ← ρ₁s + (1 − ρ₁)g; r ← ρ₂r + (1 − ρ₂)g⊙g; ŝ = s/(1 − ρ₁ᵗ);
//! r̂ = r/(1 − ρ₂ᵗ); Δθ = −ε ŝ/(√r̂ + δ), with ε = 1e-3, ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8.
//!
//! **Torch** (`torch.optim.Adam`, `AdamW`): the same update, rearranged so that the bias
//! corrections are scalars: θ ← θ − (ε/(1 − ρ₁ᵗ))·s/(√r/√(1 − ρ₂ᵗ) + δ), in PyTorch's operation
//! order (two divisions per element), so that its iterates are reproduced to the last bit.
//!
//! The book form is computed as θ ← θ − (ε/(1 − ρ₁ᵗ))·s/(√(r·(1/(1 − ρ₂ᵗ))) + δ): the same
//! arithmetic up to rounding, with one division per element instead of two, which is what makes a
//! step memory-bound rather than divider-bound. Both update s as PyTorch's `lerp` does.
//!
//! **Options:** `decoupled_weight_decay` (AdamW): θ ← θ(1 − ελ) before the step, instead of
//! adding λθ to g (which Adam then rescales per coordinate, weakening the decay where gradients
//! are large). `amsgrad`: divide by the running maximum of r instead of r, so the effective rate
//! never grows.
//!
//! **Why they differ:** only in rounding (the order of operations above); the conventions share
//! defaults too. `adamw` defaults to λ = 0.01 as PyTorch's `AdamW` does.
//!
//! **Where δ goes** (`eps_root`, Optax's name): the chapter's Algorithm 8.7 prints
//! Δθ = −ε ŝ/√(r̂ + δ), δ *inside* the root, while Kingma & Ba and PyTorch write ŝ/(√r̂ + δ).
//! Both are available: the denominator is √(r̂ + δ_root) + δ, with δ_root = `eps_root`
//! (default 0) and δ = `eps` (default 1e-8), so the book's printed form is `eps = 0,
//! eps_root = 1e-8`. PyTorch has no `eps_root`; with `eps_root > 0` the torch convention computes
//! the book's arrangement above (with `eps_root = 0` it keeps PyTorch's operation order).
//! `eps = 0` is accepted as PyTorch accepts it (`eps >= 0`); with `eps_root = 0` too, a
//! coordinate whose gradient has always been zero then divides 0 by 0, in both.

use super::{
    addcdiv, check_non_negative, check_unit_interval, lerp, lerp_form, with_prep, Convention, GradientPrep, Kernel,
    Prepare, StepContext, UpdateRule,
};
use crate::error::ConfigError;
use crate::float::max_propagating_nan;
use crate::Float;

/// Hyperparameters of Adam, AdamW and AMSGrad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// ρ₁ in Algorithm 8.7 (β₁): decay of the first-moment estimate.
    pub beta1: f64,
    /// ρ₂ in Algorithm 8.7 (β₂): decay of the second-moment estimate.
    pub beta2: f64,
    /// δ: added to √r̂ for numerical stability.
    pub eps: f64,
    /// δ_root (Optax's `eps_root`): added to r̂ inside the square root, 0 by default.
    pub eps_root: f64,
    /// Use the running maximum of r (AMSGrad).
    pub amsgrad: bool,
    /// Apply weight decay as θ ← θ(1 − ελ) instead of as an L2 gradient (AdamW).
    pub decoupled_weight_decay: bool,
    /// Operation order: the book's (one division per element) or PyTorch's (bit-for-bit).
    pub convention: Convention,
}

impl AdamConfig {
    /// Adam with ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8.
    pub fn adam(convention: Convention) -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            eps_root: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
            convention,
        }
    }

    /// AdamW: Adam with decoupled weight decay.
    pub fn adamw(convention: Convention) -> Self {
        AdamConfig { decoupled_weight_decay: true, ..Self::adam(convention) }
    }

    /// AMSGrad: Adam that divides by the largest r seen.
    pub fn amsgrad(convention: Convention) -> Self {
        AdamConfig { amsgrad: true, ..Self::adam(convention) }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)?;
        check_non_negative("eps", self.eps)?;
        check_non_negative("eps_root", self.eps_root)
    }
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self::adam(Convention::Book)
    }
}

/// One prepared Adam step.
#[derive(Debug, Clone, Copy)]
pub struct AdamKernel<F> {
    prep: GradientPrep<F>,
    decay_factor: F,
    average_coefficient: F,
    average_from_end: bool,
    beta2: F,
    one_minus_beta2: F,
    bias_correction2_sqrt: F,
    inverse_bias_correction2: F,
    eps: F,
    eps_root: F,
    neg_step_size: F,
    convention: Convention,
}

impl UpdateRule for AdamConfig {
    type Kernel<F: Float> = AdamKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        let mut names = vec![("exp_avg", 0.0), ("exp_avg_sq", 0.0)];
        if self.amsgrad {
            names.push(("max_exp_avg_sq", 0.0));
        }
        names
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> AdamKernel<F> {
        // PyTorch computes these in Python floats; `powf` is the same libm `pow`.
        let t = context.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let (prep, decay_factor) = context.decay::<F>(self.decoupled_weight_decay);
        AdamKernel {
            prep,
            decay_factor,
            average_coefficient: F::from_f64(lerp_form(1.0 - self.beta1).0),
            average_from_end: lerp_form(1.0 - self.beta1).1,
            beta2: F::from_f64(self.beta2),
            one_minus_beta2: F::from_f64(1.0 - self.beta2),
            bias_correction2_sqrt: F::from_f64(bias_correction2.powf(0.5)),
            inverse_bias_correction2: F::from_f64(1.0 / bias_correction2),
            eps: F::from_f64(self.eps),
            eps_root: F::from_f64(self.eps_root),
            neg_step_size: F::from_f64(-(context.lr / bias_correction1)),
            // PyTorch has no eps_root: with one, its order gives way to the book's arrangement.
            convention: if self.eps_root == 0.0 { self.convention } else { Convention::Book },
        }
    }
}

impl<F: Float> AdamKernel<F> {
    #[inline(always)]
    fn denominator<const BOOK: bool>(&self, second_moment: F) -> F {
        if BOOK {
            second_moment.mul_add(self.inverse_bias_correction2, self.eps_root).sqrt() + self.eps
        } else {
            second_moment.sqrt() / self.bias_correction2_sqrt + self.eps
        }
    }

    #[inline(always)]
    fn run<P: Prepare<F>, const BOOK: bool>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let (decay, beta2, one_minus_beta2) = (self.decay_factor, self.beta2, self.one_minus_beta2);
        let (coefficient, from_end) = (self.average_coefficient, self.average_from_end);
        match state {
            [exp_avg, exp_avg_sq] => {
                for (((p, &g), s), r) in params.iter_mut().zip(grads).zip(exp_avg.iter_mut()).zip(exp_avg_sq.iter_mut())
                {
                    let g = prep.apply(g, *p);
                    *p *= decay;
                    *s = lerp(*s, g, coefficient, from_end);
                    *r = (one_minus_beta2 * g).mul_add(g, *r * beta2);
                    *p = addcdiv(*p, self.neg_step_size, *s, self.denominator::<BOOK>(*r));
                }
            }
            [exp_avg, exp_avg_sq, max_exp_avg_sq] => {
                for (((p, &g), s), (r, r_max)) in params
                    .iter_mut()
                    .zip(grads)
                    .zip(exp_avg.iter_mut())
                    .zip(exp_avg_sq.iter_mut().zip(max_exp_avg_sq.iter_mut()))
                {
                    let g = prep.apply(g, *p);
                    *p *= decay;
                    *s = lerp(*s, g, coefficient, from_end);
                    *r = (one_minus_beta2 * g).mul_add(g, *r * beta2);
                    *r_max = max_propagating_nan(*r_max, *r);
                    *p = addcdiv(*p, self.neg_step_size, *s, self.denominator::<BOOK>(*r_max));
                }
            }
            _ => unreachable!("adam keeps two or three state buffers"),
        }
    }
}

impl<F: Float> Kernel<F> for AdamKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| match self.convention {
            Convention::Book => self.run::<_, true>(prep, params, grads, state),
            Convention::Torch => self.run::<_, false>(prep, params, grads, state),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    /// Algorithm 8.7 as the book writes it, in f64, independent of the kernel's rearrangement.
    fn book_adam(theta0: f64, grad: impl Fn(f64) -> f64, lr: f64, steps: usize) -> Vec<f64> {
        let (rho1, rho2, delta) = (0.9f64, 0.999f64, 1e-8);
        let (mut theta, mut s, mut r) = (theta0, 0.0, 0.0);
        let mut path = Vec::new();
        for t in 1..=steps as i32 {
            let g = grad(theta);
            s = rho1 * s + (1.0 - rho1) * g;
            r = rho2 * r + (1.0 - rho2) * g * g;
            let s_hat = s / (1.0 - rho1.powi(t));
            let r_hat = r / (1.0 - rho2.powi(t));
            theta += -lr * s_hat / (r_hat.sqrt() + delta);
            path.push(theta);
        }
        path
    }

    #[test]
    fn first_step_moves_lr_against_the_sign() {
        // At t = 1, ŝ = g and r̂ = g², so Δθ = −ε g/(|g| + δ) ≈ −ε sign(g) (hand-worked).
        let path = run_steps(AdamConfig::adam(Convention::Book), &[1.0, 1.0], |_| vec![4.0, -0.25], 0.001, 1);
        assert!((path[0][0] - (1.0 - 0.001 * 4.0 / (4.0 + 1e-8))).abs() < 1e-15);
        assert!((path[0][1] - (1.0 + 0.001 * 0.25 / (0.25 + 1e-8))).abs() < 1e-15);
    }

    #[test]
    fn matches_algorithm_8_7_as_written() {
        // Both operation orders compute the same update (PyTorch's: θ − (ε/(1 − ρ₁ᵗ))·s/(√r/√(1 − ρ₂ᵗ) + δ)).
        let book = book_adam(1.5, |x| 2.0 * x + x.powi(3), 0.05, 100);
        for convention in [Convention::Book, Convention::Torch] {
            let path = run_steps(AdamConfig::adam(convention), &[1.5], |p| vec![2.0 * p[0] + p[0].powi(3)], 0.05, 100);
            for (a, b) in path.iter().zip(&book) {
                assert!((a[0] - b).abs() < 1e-12, "{convention}: {} vs {b}", a[0]);
            }
        }
    }

    #[test]
    fn amsgrad_divides_by_the_largest_second_moment() {
        // g = 10 then 0.1: r₂ = 0.999·0.1·… < r₁·… ; by hand with the max kept at r₁.
        let mut calls = 0;
        let grad = move |_: &[f64]| {
            calls += 1;
            vec![if calls == 1 { 10.0 } else { 0.1 }]
        };
        let path = run_steps(AdamConfig::amsgrad(Convention::Book), &[0.0], grad, 0.1, 2);
        let (s1, r1) = (0.1 * 10.0, 0.001 * 100.0);
        let t1 = -(0.1 / (1.0 - 0.9)) * s1 / (r1.sqrt() / (1.0 - 0.999f64).sqrt() + 1e-8);
        let s2 = s1 + 0.1 * (0.1 - s1);
        let r2 = 0.999 * r1 + 0.001 * 0.01;
        assert!(r2 < r1);
        let bc1 = 1.0 - 0.9f64.powi(2);
        let bc2 = (1.0 - 0.999f64.powi(2)).sqrt();
        let t2 = t1 - (0.1 / bc1) * s2 / (r1.sqrt() / bc2 + 1e-8);
        assert!((path[0][0] - t1).abs() < 1e-14);
        assert!((path[1][0] - t2).abs() < 1e-14);
    }

    #[test]
    fn decoupled_decay_shrinks_parameters_without_gradient() {
        // g = 0 from rest: AdamW's update is θ(1 − ελ) per step; L2-coupled Adam moves by ≈ ε.
        let mut optimizer = crate::Optimizer::<f64>::new(AdamConfig::adamw(Convention::Book).into())
            .unwrap()
            .with_weight_decay(0.1)
            .unwrap();
        let mut params = [2.0];
        optimizer.step(&mut params, &[0.0], 0.5).unwrap();
        assert_eq!(params[0], 2.0 * (1.0 - 0.5 * 0.1));
        let mut coupled = crate::Optimizer::<f64>::new(AdamConfig::adam(Convention::Book).into())
            .unwrap()
            .with_weight_decay(0.1)
            .unwrap();
        let mut params = [2.0];
        coupled.step(&mut params, &[0.0], 0.5).unwrap();
        assert!((params[0] - (2.0 - 0.5 * 0.2 / (0.2 + 1e-8))).abs() < 1e-15);
    }

    #[test]
    fn eps_root_puts_delta_inside_the_root_as_algorithm_8_7_prints_it() {
        // g = 1e-4 then 3e-4, so that r̂ (1e-8 … 9e-8) is of the size of δ = 1e-8 and the two
        // placements differ in the third digit. By hand, in f64, Δθ = −ε ŝ/√(r̂ + δ):
        // t = 1: s = 1e-5, r = 1e-11, ŝ = 1e-4, r̂ = 1e-8 → Δθ₁ = −ε·1e-4/√(2e-8).
        // t = 2: s = 0.9e-5 + 3e-5 = 3.9e-5, r = 0.999e-11 + 9e-11 = 9.999e-11,
        //        ŝ = 3.9e-5/0.19, r̂ = 9.999e-11/(1 − 0.999²) → Δθ₂ = −ε ŝ/√(r̂ + 1e-8).
        let lr = 0.1;
        let step1 = -lr * 1e-4 / (2e-8f64).sqrt();
        let s2_hat = 3.9e-5 / (1.0 - 0.81);
        let r2_hat = 9.999e-11 / (1.0 - 0.999f64 * 0.999);
        let step2 = -lr * s2_hat / (r2_hat + 1e-8).sqrt();
        for convention in [Convention::Book, Convention::Torch] {
            let config = AdamConfig { eps: 0.0, eps_root: 1e-8, ..AdamConfig::adam(convention) };
            config.validate().unwrap();
            let mut calls = 0;
            let grad = move |_: &[f64]| {
                calls += 1;
                vec![if calls == 1 { 1e-4 } else { 3e-4 }]
            };
            let path = run_steps(config, &[0.0], grad, lr, 2);
            assert!((path[0][0] - step1).abs() < 1e-15, "{convention}: {} vs {step1}", path[0][0]);
            assert!((path[1][0] - (step1 + step2)).abs() < 1e-15, "{convention}: {} vs {}", path[1][0], step1 + step2);
            // δ outside the root (the default) moves by ε·1e-4/(1e-4 + 1e-8) instead: visibly more.
            assert!((path[0][0] - (-lr * 1e-4 / (1e-4 + 1e-8))).abs() > 1e-2);
        }
    }

    #[test]
    fn eps_zero_is_accepted_and_a_negative_eps_root_refused() {
        // PyTorch checks eps >= 0; with δ = 0 the first step is exactly −ε·sign(g).
        let config = AdamConfig { eps: 0.0, ..AdamConfig::adam(Convention::Torch) };
        config.validate().unwrap();
        assert_eq!(run_steps(config, &[1.0], |_| vec![0.5], 0.25, 1)[0][0], 0.75);
        let bad = AdamConfig { eps_root: -1e-8, ..AdamConfig::adam(Convention::Book) };
        assert_eq!(bad.validate().unwrap_err().to_string(), "eps_root must be a finite number >= 0, got -0.00000001");
    }
}

//! AdaGrad (Algorithm 8.4; Duchi, Hazan & Singer, 2011).
//!
//! **Book:** r ← r + g⊙g; Δθ = −ε g/(δ + √r), δ = 1e-7.
//!
//! **Torch** (`torch.optim.Adagrad`): the same update with δ = 1e-10, plus two options the book
//! does not have: `lr_decay` (ε_t = ε/(1 + (t − 1)·lr_decay)) and `initial_accumulator_value`
//! (r starts there instead of at 0).
//!
//! **Why they differ:** only in δ's default; both add δ outside the square root. The accumulated
//! r only grows, so the effective rate ε/(δ + √r) only shrinks: the reason AdaGrad can stop too
//! early on deep nets (the chapter's remark).

use super::{
    addcdiv, check_non_negative, with_prep, Convention, GradientPrep, Kernel, Prepare, StepContext, UpdateRule,
};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of AdaGrad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// δ in Algorithm 8.4 (`eps` in PyTorch): keeps the division defined where r = 0.
    pub eps: f64,
    /// PyTorch's `lr_decay`: ε_t = ε/(1 + (t − 1)·lr_decay). 0 in the book.
    pub lr_decay: f64,
    /// PyTorch's `initial_accumulator_value`: the starting r. 0 in the book.
    pub initial_accumulator: f64,
}

impl AdagradConfig {
    /// Defaults of a convention: δ = 1e-7 (book) or 1e-10 (torch).
    pub fn new(convention: Convention) -> Self {
        AdagradConfig {
            eps: match convention {
                Convention::Book => 1e-7,
                Convention::Torch => 1e-10,
            },
            lr_decay: 0.0,
            initial_accumulator: 0.0,
        }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_non_negative("eps", self.eps)?;
        check_non_negative("lr_decay", self.lr_decay)?;
        check_non_negative("initial_accumulator", self.initial_accumulator)
    }
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self::new(Convention::Book)
    }
}

/// One prepared AdaGrad step.
#[derive(Debug, Clone, Copy)]
pub struct AdagradKernel<F> {
    prep: GradientPrep<F>,
    neg_lr: F,
    eps: F,
}

impl UpdateRule for AdagradConfig {
    type Kernel<F: Float> = AdagradKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("sum", self.initial_accumulator)]
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> AdagradKernel<F> {
        let lr = context.lr / (1.0 + (context.step - 1) as f64 * self.lr_decay);
        AdagradKernel { prep: context.coupled_prep(), neg_lr: F::from_f64(-lr), eps: F::from_f64(self.eps) }
    }
}

impl<F: Float> AdagradKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let Self { neg_lr, eps, .. } = *self;
        for ((p, &g), r) in params.iter_mut().zip(grads).zip(state[0].iter_mut()) {
            let g = prep.apply(g, *p);
            *r = g.mul_add(g, *r);
            *p = addcdiv(*p, neg_lr, g, r.sqrt() + eps);
        }
    }
}

impl<F: Float> Kernel<F> for AdagradKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| self.run(prep, params, grads, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    #[test]
    fn first_two_steps_by_hand() {
        // f = θ², θ₀ = 1, ε = 0.5, δ = 1e-7 (book).
        // step 1: g = 2, r = 4, θ = 1 − 0.5·2/(1e-7 + 2)
        // step 2: g = 2θ₁, r = 4 + g², θ₂ = θ₁ − 0.5·g/(1e-7 + √r)
        let t1 = 1.0 - 0.5 * 2.0 / (1e-7 + 2.0);
        let g2 = 2.0 * t1;
        let t2 = t1 - 0.5 * g2 / (1e-7 + (4.0 + g2 * g2).sqrt());
        let path = run_steps(AdagradConfig::new(Convention::Book), &[1.0], |p| vec![2.0 * p[0]], 0.5, 2);
        assert!((path[0][0] - t1).abs() < 1e-15);
        assert!((path[1][0] - t2).abs() < 1e-15);
    }

    #[test]
    fn torch_lr_decay_and_initial_accumulator() {
        // lr_decay = 1: ε₂ = ε/2. r₀ = 1. f = θ², θ₀ = 1, ε = 0.5, δ = 1e-10.
        let config = AdagradConfig { lr_decay: 1.0, initial_accumulator: 1.0, ..AdagradConfig::new(Convention::Torch) };
        let t1 = 1.0 - 0.5 * 2.0 / (5.0f64.sqrt() + 1e-10);
        let g2 = 2.0 * t1;
        let t2 = t1 - 0.25 * g2 / ((5.0 + g2 * g2).sqrt() + 1e-10);
        let path = run_steps(config, &[1.0], |p| vec![2.0 * p[0]], 0.5, 2);
        assert!((path[0][0] - t1).abs() < 1e-15);
        assert!((path[1][0] - t2).abs() < 1e-15);
    }

    #[test]
    fn each_coordinate_moves_at_most_lr_per_step_from_rest() {
        // From r = 0, the first step is ε·g/(δ + |g|) < ε, whatever the scale of g.
        for scale in [1e-6, 1.0, 1e6] {
            let path = run_steps(AdagradConfig::default(), &[0.0, 0.0], |_| vec![scale, -3.0 * scale], 0.1, 1);
            assert!(path[0].iter().all(|x| x.abs() < 0.1 && x.abs() > 0.09));
        }
    }
}

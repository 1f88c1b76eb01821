//! Stochastic gradient descent, with classical or Nesterov momentum (Algorithms 8.1–8.3).
//!
//! **Book** (the variable v is a velocity, in units of θ):
//! - SGD (8.1): θ ← θ − ε_k g, with ε_k from a schedule (the chapter's linear decay).
//! - Momentum (8.2): v ← αv − εg; θ ← θ + v.
//! - Nesterov (8.3), in the reparametrization of Bengio, Boulanger-Lewandowski & Pascanu (2013,
//!   "Advances in optimizing recurrent networks", §3.5) that takes the gradient at θ rather than
//!   at the interim point θ + αv: v ← αv − εg; θ ← θ + αv − εg (with the new v). Sutskever,
//!   Martens, Dahl & Hinton (2013) wrote Nesterov's method as momentum with that interim point,
//!   the form Algorithm 8.3 has; PyTorch's documentation cites them for its `nesterov`, whose
//!   step g + μb is the reparametrized form in units of g.
//!
//! **Torch** (`torch.optim.SGD`; the buffer b is an average of gradients, in units of g):
//! b ← g at the first step, then b ← μb + (1 − τ)g (τ = `dampening`); the step direction is
//! d = b, or d = g + μb with `nesterov`; θ ← θ − εd.
//!
//! **Why they differ:** v = −εb exactly when ε is constant and τ = 0, so the two produce the same
//! iterates then (up to rounding). When ε changes (a schedule), the book's v remembers past steps
//! at their old rates while PyTorch's b rescales all of history by the new rate. Defaults:
//! α = μ = 0.9 for `momentum` and `nesterov`; τ = 0. `dampening` exists only in the torch form.

use super::{
    check_non_negative, check_unit_interval, with_prep, Convention, GradientPrep, Kernel, Prepare, StepContext,
    UpdateRule,
};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of SGD with optional momentum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// α in Algorithm 8.2 (μ in PyTorch); 0 for plain SGD.
    pub momentum: f64,
    /// τ in PyTorch: the share of the new gradient not added to the buffer. Torch convention only.
    pub dampening: f64,
    /// Nesterov's accelerated gradient (Algorithm 8.3) instead of classical momentum.
    pub nesterov: bool,
    /// Whose formulas to follow.
    pub convention: Convention,
}

impl SgdConfig {
    /// Plain SGD (Algorithm 8.1).
    pub fn plain(convention: Convention) -> Self {
        SgdConfig { momentum: 0.0, dampening: 0.0, nesterov: false, convention }
    }

    /// Classical momentum with α = 0.9 (Algorithm 8.2).
    pub fn momentum(convention: Convention) -> Self {
        SgdConfig { momentum: 0.9, ..Self::plain(convention) }
    }

    /// Nesterov momentum with α = 0.9 (Algorithm 8.3).
    pub fn nesterov(convention: Convention) -> Self {
        SgdConfig { nesterov: true, ..Self::momentum(convention) }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("momentum", self.momentum)?;
        check_unit_interval("dampening", self.dampening)?;
        if self.convention == Convention::Book && self.dampening != 0.0 {
            return Err(ConfigError::OutOfRange {
                field: "dampening",
                expected: "0 in the book convention (it is a torch option)",
                value: self.dampening,
            });
        }
        if self.nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            return Err(ConfigError::OutOfRange {
                field: "momentum",
                expected: "> 0 with zero dampening for Nesterov momentum",
                value: self.momentum,
            });
        }
        check_non_negative("momentum", self.momentum)
    }
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self::plain(Convention::Book)
    }
}

/// One prepared SGD step.
#[derive(Debug, Clone, Copy)]
pub struct SgdKernel<F> {
    form: Form,
    prep: GradientPrep<F>,
    lr: F,
    neg_lr: F,
    momentum: F,
    /// PyTorch's buffer update b ← buffer_decay·b + buffer_keep·g: (μ, 1 − τ), or (0, 1) at the
    /// first step, where PyTorch sets b = g.
    buffer_decay: F,
    buffer_keep: F,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Plain,
    BookMomentum,
    BookNesterov,
    TorchMomentum,
    TorchNesterov,
}

impl UpdateRule for SgdConfig {
    type Kernel<F: Float> = SgdKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        match (self.momentum > 0.0, self.convention) {
            (false, _) => vec![],
            (true, Convention::Book) => vec![("velocity", 0.0)],
            (true, Convention::Torch) => vec![("momentum_buffer", 0.0)],
        }
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> SgdKernel<F> {
        let form = match (self.momentum > 0.0, self.convention, self.nesterov) {
            (false, _, _) => Form::Plain,
            (true, Convention::Book, false) => Form::BookMomentum,
            (true, Convention::Book, true) => Form::BookNesterov,
            (true, Convention::Torch, false) => Form::TorchMomentum,
            (true, Convention::Torch, true) => Form::TorchNesterov,
        };
        let (buffer_decay, buffer_keep) =
            if context.step == 1 { (0.0, 1.0) } else { (self.momentum, 1.0 - self.dampening) };
        SgdKernel {
            form,
            prep: context.coupled_prep(),
            lr: F::from_f64(context.lr),
            neg_lr: F::from_f64(-context.lr),
            momentum: F::from_f64(self.momentum),
            buffer_decay: F::from_f64(buffer_decay),
            buffer_keep: F::from_f64(buffer_keep),
        }
    }
}

impl<F: Float> SgdKernel<F> {
    #[inline(always)]
    fn run_plain<P: Prepare<F>>(&self, prep: P, params: &mut [F], grads: &[F]) {
        for (p, &g) in params.iter_mut().zip(grads) {
            *p = self.neg_lr.mul_add(prep.apply(g, *p), *p);
        }
    }

    #[inline(always)]
    fn run_book<P: Prepare<F>, const NESTEROV: bool>(
        &self,
        prep: P,
        params: &mut [F],
        grads: &[F],
        velocity: &mut [F],
    ) {
        let (lr, momentum) = (self.lr, self.momentum);
        for ((p, &g), v) in params.iter_mut().zip(grads).zip(velocity.iter_mut()) {
            let step = lr * prep.apply(g, *p);
            *v = momentum.mul_add(*v, -step);
            *p += if NESTEROV { momentum.mul_add(*v, -step) } else { *v };
        }
    }

    #[inline(always)]
    fn run_torch<P: Prepare<F>, const NESTEROV: bool>(&self, prep: P, params: &mut [F], grads: &[F], buffer: &mut [F]) {
        let (decay, keep, momentum, neg_lr) = (self.buffer_decay, self.buffer_keep, self.momentum, self.neg_lr);
        for ((p, &g), b) in params.iter_mut().zip(grads).zip(buffer.iter_mut()) {
            let g = prep.apply(g, *p);
            *b = keep.mul_add(g, *b * decay);
            let direction = if NESTEROV { momentum.mul_add(*b, g) } else { *b };
            *p = neg_lr.mul_add(direction, *p);
        }
    }
}

impl<F: Float> Kernel<F> for SgdKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| match (self.form, state) {
            (Form::Plain, _) => self.run_plain(prep, params, grads),
            (Form::BookMomentum, [v]) => self.run_book::<_, false>(prep, params, grads, v),
            (Form::BookNesterov, [v]) => self.run_book::<_, true>(prep, params, grads, v),
            (Form::TorchMomentum, [b]) => self.run_torch::<_, false>(prep, params, grads, b),
            (Form::TorchNesterov, [b]) => self.run_torch::<_, true>(prep, params, grads, b),
            _ => unreachable!("momentum keeps one state buffer"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    #[test]
    fn plain_sgd_by_hand() {
        // θ = 1, g = 2θ (f = θ²), ε = 0.1: θ₁ = 1 − 0.1·2 = 0.8; θ₂ = 0.8 − 0.1·1.6 = 0.64.
        let path = run_steps(SgdConfig::plain(Convention::Book), &[1.0], |p| vec![2.0 * p[0]], 0.1, 2);
        assert_eq!(path, vec![vec![0.8], vec![0.64]]);
    }

    #[test]
    fn book_momentum_by_hand() {
        // f = θ², θ₀ = 1, ε = 0.1, α = 0.9.
        // step 1: g = 2, v = −0.2, θ = 0.8
        // step 2: g = 1.6, v = 0.9·(−0.2) − 0.16 = −0.34, θ = 0.46
        let path = run_steps(SgdConfig::momentum(Convention::Book), &[1.0], |p| vec![2.0 * p[0]], 0.1, 2);
        assert!((path[0][0] - 0.8).abs() < 1e-15);
        assert!((path[1][0] - 0.46).abs() < 1e-15);
    }

    #[test]
    fn book_nesterov_by_hand() {
        // f = θ², θ₀ = 1, ε = 0.1, α = 0.9.
        // step 1: g = 2, v = −0.2, θ = 1 + 0.9·(−0.2) − 0.2 = 0.62
        // step 2: g = 1.24, v = −0.18 − 0.124 = −0.304, θ = 0.62 − 0.2736 − 0.124 = 0.2224
        let path = run_steps(SgdConfig::nesterov(Convention::Book), &[1.0], |p| vec![2.0 * p[0]], 0.1, 2);
        assert!((path[0][0] - 0.62).abs() < 1e-15);
        assert!((path[1][0] - 0.2224).abs() < 1e-15);
    }

    #[test]
    fn torch_dampening_uses_raw_gradient_first() {
        // torch: b₁ = g₁ (no dampening on the first step), b₂ = μb₁ + (1 − τ)g₂.
        // f = θ², θ₀ = 1, ε = 0.1, μ = 0.9, τ = 0.5:
        // step 1: g = 2, b = 2, θ = 0.8; step 2: g = 1.6, b = 1.8 + 0.8 = 2.6, θ = 0.8 − 0.26 = 0.54
        let config = SgdConfig { dampening: 0.5, ..SgdConfig::momentum(Convention::Torch) };
        let path = run_steps(config, &[1.0], |p| vec![2.0 * p[0]], 0.1, 2);
        assert!((path[0][0] - 0.8).abs() < 1e-15);
        assert!((path[1][0] - 0.54).abs() < 1e-15);
    }

    #[test]
    fn conventions_agree_at_constant_rate() {
        // v = −εb when ε is constant: the iterates coincide up to rounding.
        let grad = |p: &[f64]| vec![2.0 * p[0] + 0.3 * p[1], 0.3 * p[0] + 20.0 * p[1]];
        for nesterov in [false, true] {
            let book = SgdConfig { nesterov, ..SgdConfig::momentum(Convention::Book) };
            let torch = SgdConfig { nesterov, ..SgdConfig::momentum(Convention::Torch) };
            let a = run_steps(book, &[1.0, -1.0], grad, 0.01, 50);
            let b = run_steps(torch, &[1.0, -1.0], grad, 0.01, 50);
            for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
                assert!((x - y).abs() < 1e-12, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn validate_names_the_field() {
        let bad = SgdConfig { momentum: 1.2, ..SgdConfig::momentum(Convention::Book) };
        assert_eq!(bad.validate().unwrap_err().to_string(), "momentum must be in [0, 1), got 1.2");
        let book_dampening = SgdConfig { dampening: 0.1, ..SgdConfig::momentum(Convention::Book) };
        assert!(book_dampening.validate().unwrap_err().to_string().starts_with("dampening"));
    }
}

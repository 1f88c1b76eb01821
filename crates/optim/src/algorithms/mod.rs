//! The update rules, one file each, as the book writes them and as PyTorch runs them.
//!
//! Every rule is a small config struct (its hyperparameters, with defaults per [`Convention`]) and
//! a per-step kernel over a piece of the flat buffers. The [`Optimizer`](crate::Optimizer) owns
//! the state and calls the kernel; the rules themselves hold no state.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;
use crate::Float;

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod lion;
pub mod muon;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
pub mod schedule_free;
pub mod sgd;

pub use adadelta::AdadeltaConfig;
pub use adafactor::AdafactorConfig;
pub use adagrad::AdagradConfig;
pub use adam::AdamConfig;
pub use adamax::AdamaxConfig;
pub use lion::LionConfig;
pub use muon::{MuonConfig, MuonLrAdjustment};
pub use nadam::NadamConfig;
pub use radam::RadamConfig;
pub use rmsprop::RmspropConfig;
pub use schedule_free::ScheduleFreeConfig;
pub use sgd::SgdConfig;

/// Whose formulas and defaults an algorithm follows where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Convention {
    /// Goodfellow, Bengio & Courville, *Deep Learning*, ch. 8 (Algorithms 8.1–8.7) and Zeiler
    /// (2012) for AdaDelta.
    #[default]
    Book,
    /// PyTorch's `torch.optim`: its update rules, operation order and defaults.
    Torch,
}

impl Convention {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Book => "book",
            Convention::Torch => "torch",
        }
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Convention {
    type Err = ConfigError;
    fn from_str(name: &str) -> Result<Self, ConfigError> {
        match name {
            "book" => Ok(Convention::Book),
            "torch" => Ok(Convention::Torch),
            _ => Err(ConfigError::Unknown {
                kind: "convention",
                name: name.to_string(),
                expected: "book, torch".to_string(),
            }),
        }
    }
}

/// What a kernel does to a raw gradient before the update: clipping and coupled L2 decay,
/// folded into the same pass over memory.
///
/// `g ← clamp(scale·g, −bound, bound) + weight_decay·θ`, which equals clipping the gradient in
/// place first and then adding the L2 term, as PyTorch does (`clip_grad_*_` then
/// `grad.add(param, alpha=weight_decay)`). With scale 1, bound ∞ and decay 0 it is the identity.
///
/// Kernels write `a + b·c` as the fused `b.mul_add(c, a)` (one rounding), as PyTorch's CPU kernels
/// do for `add(alpha=…)`, `addcmul`, `addcdiv` and `lerp`; this is what lets the torch convention
/// reproduce PyTorch's iterates to the last bit, and it is one instruction instead of two.
#[derive(Debug, Clone, Copy)]
pub struct GradientPrep<F> {
    /// Factor from norm clipping (1 when not clipping).
    pub scale: F,
    /// Bound on |g| from value clipping (∞ when not clipping).
    pub bound: F,
    /// Coupled L2 coefficient λ (0 for none, and 0 for decoupled decay).
    pub weight_decay: F,
}

/// How a kernel turns a raw gradient into the one it uses. Kernels are generic over it so that the
/// common case (no clipping, no coupled decay) compiles to a loop without those operations.
pub trait Prepare<F: Float>: Copy + Sync {
    /// The effective gradient for parameter `param` with raw gradient `grad`.
    fn apply(&self, grad: F, param: F) -> F;
}

/// The gradient as it is (no clipping, no coupled decay).
#[derive(Debug, Clone, Copy)]
pub struct RawGradient;

impl<F: Float> Prepare<F> for RawGradient {
    #[inline(always)]
    fn apply(&self, grad: F, _param: F) -> F {
        grad
    }
}

impl<F: Float> GradientPrep<F> {
    /// True when [`Prepare::apply`] would return the gradient unchanged.
    pub fn is_identity(&self) -> bool {
        self.scale == F::ONE && self.bound == F::INFINITY && self.weight_decay == F::ZERO
    }
}

/// Runs `$kernel.run(prep, …)` with [`RawGradient`] when `$prep` is the identity, so that the
/// loop the compiler sees has no clipping or decay in it; otherwise with `$prep` itself.
macro_rules! with_prep {
    ($prep:expr, |$p:ident| $body:expr) => {
        if $prep.is_identity() {
            let $p = $crate::algorithms::RawGradient;
            $body
        } else {
            let $p = $prep;
            $body
        }
    };
}
pub(crate) use with_prep;

impl<F: Float> Prepare<F> for GradientPrep<F> {
    #[inline(always)]
    fn apply(&self, grad: F, param: F) -> F {
        let g = crate::clip::clamp(grad * self.scale, self.bound);
        self.weight_decay.mul_add(param, g)
    }
}

/// Everything one step of one parameter group needs besides the buffers.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The update's number, 1 for the first (t in Algorithm 8.7).
    pub step: u64,
    /// The learning rate ε of this step and group.
    pub lr: f64,
    /// The group's weight decay λ (coupled or decoupled, as the rule says).
    pub weight_decay: f64,
    /// Factor from norm clipping, 1 when none.
    pub grad_scale: f64,
    /// Bound from value clipping, ∞ when none.
    pub clip_value: f64,
    /// The rule's scalar state (after [`UpdateRule::advance`]), in the order of
    /// [`UpdateRule::scalar_state`].
    pub scalars: &'a [f64],
}

impl StepContext<'_> {
    /// The gradient preparation for a rule whose weight decay is coupled (L2 added to g).
    pub fn coupled_prep<F: Float>(&self) -> GradientPrep<F> {
        GradientPrep {
            scale: F::from_f64(self.grad_scale),
            bound: F::from_f64(self.clip_value),
            weight_decay: F::from_f64(self.weight_decay),
        }
    }

    /// The gradient preparation without the L2 term (for decoupled decay).
    pub fn clip_only_prep<F: Float>(&self) -> GradientPrep<F> {
        GradientPrep { weight_decay: F::ZERO, ..self.coupled_prep() }
    }

    /// The gradient preparation and the factor θ is multiplied by first: (clip only, 1 − ελ)
    /// for decoupled decay (AdamW's θ ← θ(1 − ελ)), (L2 added to g, 1) for coupled.
    pub fn decay<F: Float>(&self, decoupled: bool) -> (GradientPrep<F>, F) {
        if decoupled {
            (self.clip_only_prep(), F::from_f64(1.0 - self.lr * self.weight_decay))
        } else {
            (self.coupled_prep(), F::ONE)
        }
    }
}

/// A per-element kernel prepared for one step: coefficients are already computed.
pub trait Kernel<F: Float>: Sync {
    /// Updates `params` in place from `grads`, reading and writing the rule's state buffers
    /// (same length, in the order of [`UpdateRule::state_buffers`]).
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]);
}

/// An update rule: its state layout and how to prepare one step.
pub trait UpdateRule {
    /// The kernel type this rule prepares for element type `F`.
    type Kernel<F: Float>: Kernel<F>;

    /// The per-parameter state buffers, by name, with the value they start from.
    fn state_buffers(&self) -> Vec<(&'static str, f64)>;

    /// Scalar state shared by all parameters, by name, with its starting value.
    fn scalar_state(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// Advances the scalar state to step `step` at base rate `lr` (called once per step, before
    /// any group).
    fn advance(&self, _step: u64, _lr: f64, _scalars: &mut [f64]) {}

    /// The state buffer holding the point to evaluate, for rules whose parameters are not it
    /// (schedule-free: the average x); `None` for the others.
    fn evaluation_buffer(&self) -> Option<usize> {
        None
    }

    /// Computes the step's coefficients for one group.
    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> Self::Kernel<F>;
}

/// A rule that needs each tensor whole: its matrix shape, norms over it, or products with it
/// (Adafactor's factored second moment, Muon's orthogonalization). The optimizer calls it once
/// per group, and its state buffers hold one segment per group, as long as
/// [`buffer_len`](Self::buffer_len) says (a factored moment is shorter than the tensor).
pub trait TensorRule {
    /// The state buffers, by name, with the value they start from.
    fn state_buffers(&self) -> Vec<(&'static str, f64)>;

    /// Elements of buffer `index` that a group of `len` parameters of matrix `shape` (rows,
    /// columns; `None` for a vector) keeps.
    fn buffer_len(&self, index: usize, len: usize, shape: Option<(usize, usize)>) -> usize;

    /// Scratch elements one step of such a group needs (allocated once, for the largest group).
    fn scratch_len(&self, len: usize, shape: Option<(usize, usize)>) -> usize;

    /// One step of one group: `state` holds this group's segment of every buffer, in order.
    fn step_group<F: Float>(
        &self,
        context: &StepContext<'_>,
        shape: Option<(usize, usize)>,
        params: &mut [F],
        grads: &[F],
        state: &mut [&mut [F]],
        scratch: &mut [F],
    );
}

/// The matrix shape a rule should treat a group as: `None` for vectors and for matrices with a
/// single row or column (a bias is a vector whichever way it is declared).
pub(crate) fn matrix_shape(shape: Option<(usize, usize)>) -> Option<(usize, usize)> {
    shape.filter(|&(rows, cols)| rows > 1 && cols > 1)
}

/// ‖x‖/√n, accumulated in f64, in PyTorch's order (`x.norm(2).item() / numel ** 0.5`); 0 for an
/// empty slice.
pub(crate) fn root_mean_square<F: Float>(values: &[F]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    crate::parallel::sum_of_squares(values).sqrt() / (values.len() as f64).sqrt()
}

/// Checks `0 <= value < 1` (decay rates).
pub(crate) fn check_unit_interval(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { field, expected: "in [0, 1)", value })
    }
}

/// Checks `value >= 0` and finite.
pub(crate) fn check_non_negative(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { field, expected: "a finite number >= 0", value })
    }
}

/// Checks `value > 0` and finite.
pub(crate) fn check_positive(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { field, expected: "a finite number > 0", value })
    }
}

/// `a + value·t1/t2` in the order of PyTorch's `addcdiv` (`a + (value·t1)/t2`: the quotient
/// cannot be fused, so it rounds three times).
#[inline(always)]
pub(crate) fn addcdiv<F: Float>(a: F, value: F, t1: F, t2: F) -> F {
    a + value * t1 / t2
}

/// The interpolation `a + w·(b − a)` as PyTorch's `lerp_` computes it on CPU: `a + w·(b − a)` for
/// |w| < ½ and `b + (w − 1)·(b − a)` otherwise, fused. `coefficient` is w or w − 1 and
/// `from_end` says which form, so that the loop has no branch (only a select of the base).
#[inline(always)]
pub(crate) fn lerp<F: Float>(a: F, b: F, coefficient: F, from_end: bool) -> F {
    coefficient.mul_add(b - a, if from_end { b } else { a })
}

/// The (coefficient, from_end) pair of [`lerp`] for weight `w`.
pub(crate) fn lerp_form(weight: f64) -> (f64, bool) {
    if weight.abs() < 0.5 {
        (weight, false)
    } else {
        (weight - 1.0, true)
    }
}

/// One of the update rules with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algorithm {
    /// SGD, momentum, Nesterov (Algorithms 8.1–8.3).
    Sgd(SgdConfig),
    /// AdaGrad (Algorithm 8.4).
    Adagrad(AdagradConfig),
    /// RMSProp, with or without (Nesterov) momentum (Algorithms 8.5, 8.6).
    Rmsprop(RmspropConfig),
    /// Adam, AdamW, AMSGrad (Algorithm 8.7).
    Adam(AdamConfig),
    /// NAdam.
    Nadam(NadamConfig),
    /// AdaDelta.
    Adadelta(AdadeltaConfig),
    /// AdaMax (Kingma & Ba's infinity-norm Adam).
    Adamax(AdamaxConfig),
    /// RAdam (rectified Adam).
    Radam(RadamConfig),
    /// Lion (the sign of an interpolated momentum).
    Lion(LionConfig),
    /// Adafactor (factored second moment; needs matrix shapes).
    Adafactor(AdafactorConfig),
    /// Muon (orthogonalized momentum for matrices, AdamW for vectors).
    Muon(MuonConfig),
    /// Schedule-free AdamW (evaluated at the average x).
    ScheduleFree(ScheduleFreeConfig),
}

macro_rules! impl_from_config {
    ($($config:ident => $variant:ident),*) => {$(
        impl From<$config> for Algorithm {
            fn from(config: $config) -> Self {
                Algorithm::$variant(config)
            }
        }
    )*};
}
impl_from_config!(SgdConfig => Sgd, AdagradConfig => Adagrad, RmspropConfig => Rmsprop,
    AdamConfig => Adam, NadamConfig => Nadam, AdadeltaConfig => Adadelta, AdamaxConfig => Adamax,
    RadamConfig => Radam, LionConfig => Lion, AdafactorConfig => Adafactor, MuonConfig => Muon,
    ScheduleFreeConfig => ScheduleFree);

impl Algorithm {
    /// The rule's family name (`sgd` covers momentum and Nesterov, `adam` covers AdamW and AMSGrad).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Sgd(_) => "sgd",
            Algorithm::Adagrad(_) => "adagrad",
            Algorithm::Rmsprop(_) => "rmsprop",
            Algorithm::Adam(_) => "adam",
            Algorithm::Nadam(_) => "nadam",
            Algorithm::Adadelta(_) => "adadelta",
            Algorithm::Adamax(_) => "adamax",
            Algorithm::Radam(_) => "radam",
            Algorithm::Lion(_) => "lion",
            Algorithm::Adafactor(_) => "adafactor",
            Algorithm::Muon(_) => "muon",
            Algorithm::ScheduleFree(_) => "schedule-free-adamw",
        }
    }

    /// The convention, where the meaning of the rule's state depends on it (`None` where the
    /// convention changes only defaults).
    pub fn convention(&self) -> Option<Convention> {
        match self {
            Algorithm::Sgd(c) => Some(c.convention),
            Algorithm::Rmsprop(c) => Some(c.convention),
            Algorithm::Adam(c) => Some(c.convention),
            Algorithm::Nadam(c) => Some(c.convention),
            Algorithm::Adamax(c) => Some(c.convention),
            Algorithm::Radam(c) => Some(c.convention),
            Algorithm::Muon(c) => Some(c.fallback.convention),
            Algorithm::Adagrad(_)
            | Algorithm::Adadelta(_)
            | Algorithm::Lion(_)
            | Algorithm::Adafactor(_)
            | Algorithm::ScheduleFree(_) => None,
        }
    }

    /// Checks the hyperparameters, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Algorithm::Sgd(c) => c.validate(),
            Algorithm::Adagrad(c) => c.validate(),
            Algorithm::Rmsprop(c) => c.validate(),
            Algorithm::Adam(c) => c.validate(),
            Algorithm::Nadam(c) => c.validate(),
            Algorithm::Adadelta(c) => c.validate(),
            Algorithm::Adamax(c) => c.validate(),
            Algorithm::Radam(c) => c.validate(),
            Algorithm::Lion(c) => c.validate(),
            Algorithm::Adafactor(c) => c.validate(),
            Algorithm::Muon(c) => c.validate(),
            Algorithm::ScheduleFree(c) => c.validate(),
        }
    }
}

/// The names of the optimizers, in the order the chapter presents them, then those it does not
/// have.
pub const OPTIMIZER_NAMES: [&str; 17] = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "rmsprop-nesterov",
    "adam",
    "adamw",
    "amsgrad",
    "nadam",
    "adadelta",
    "adamax",
    "radam",
    "lion",
    "adafactor",
    "muon",
    "schedule-free-adamw",
];

/// A hyperparameter a user can set by name, across algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hyperparameter {
    /// α / μ of momentum methods.
    Momentum,
    /// ρ of RMSProp and AdaDelta.
    Rho,
    /// ρ₁ / β₁ of Adam and NAdam.
    Beta1,
    /// ρ₂ / β₂ of Adam and NAdam.
    Beta2,
    /// δ / eps of the adaptive methods.
    Eps,
    /// δ_root / eps_root of the Adam family (inside the square root).
    EpsRoot,
    /// τ, PyTorch SGD's dampening (torch convention).
    Dampening,
    /// AdaGrad's `lr_decay`: ε/(1 + (t − 1)·lr_decay).
    LrDecay,
    /// AdaGrad's starting value of r.
    InitialAccumulator,
    /// ψ of PyTorch NAdam's momentum schedule.
    MomentumDecay,
    /// RMSProp divided by the variance rather than the second moment (a switch).
    Centered,
    /// Weight decay as θ ← θ(1 − ελ) rather than as an L2 gradient (a switch: adam, amsgrad,
    /// nadam, radam).
    DecoupledWeightDecay,
}

impl Hyperparameter {
    /// The flag-style name (`momentum`, `rho`, `beta1`, `beta2`, `eps`, `eps-root`, …).
    pub fn name(self) -> &'static str {
        match self {
            Hyperparameter::Momentum => "momentum",
            Hyperparameter::Rho => "rho",
            Hyperparameter::Beta1 => "beta1",
            Hyperparameter::Beta2 => "beta2",
            Hyperparameter::Eps => "eps",
            Hyperparameter::EpsRoot => "eps-root",
            Hyperparameter::Dampening => "dampening",
            Hyperparameter::LrDecay => "lr-decay",
            Hyperparameter::InitialAccumulator => "initial-accumulator",
            Hyperparameter::MomentumDecay => "momentum-decay",
            Hyperparameter::Centered => "centered",
            Hyperparameter::DecoupledWeightDecay => "decoupled-weight-decay",
        }
    }

    /// True for the on/off options (given as 1 for on, 0 for off).
    pub fn is_switch(self) -> bool {
        matches!(self, Hyperparameter::Centered | Hyperparameter::DecoupledWeightDecay)
    }
}

/// How many hyperparameters [`Overrides`] holds.
pub const OVERRIDE_COUNT: usize = 12;

/// Values for the hyperparameters a user can set by name (flags, config files), each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    /// α / μ.
    pub momentum: Option<f64>,
    /// ρ.
    pub rho: Option<f64>,
    /// ρ₁ / β₁.
    pub beta1: Option<f64>,
    /// ρ₂ / β₂.
    pub beta2: Option<f64>,
    /// δ / eps.
    pub eps: Option<f64>,
    /// δ_root / eps_root.
    pub eps_root: Option<f64>,
    /// τ (SGD, torch).
    pub dampening: Option<f64>,
    /// AdaGrad's lr_decay.
    pub lr_decay: Option<f64>,
    /// AdaGrad's initial accumulator.
    pub initial_accumulator: Option<f64>,
    /// NAdam's ψ.
    pub momentum_decay: Option<f64>,
    /// RMSProp centered.
    pub centered: Option<bool>,
    /// Decoupled weight decay for adam, amsgrad, nadam, radam.
    pub decoupled_weight_decay: Option<bool>,
}

impl Overrides {
    /// The overrides as (parameter, value) pairs, in a fixed order.
    pub fn pairs(&self) -> [(Hyperparameter, Option<f64>); OVERRIDE_COUNT] {
        [
            (Hyperparameter::Momentum, self.momentum),
            (Hyperparameter::Rho, self.rho),
            (Hyperparameter::Beta1, self.beta1),
            (Hyperparameter::Beta2, self.beta2),
            (Hyperparameter::Eps, self.eps),
            (Hyperparameter::EpsRoot, self.eps_root),
            (Hyperparameter::Dampening, self.dampening),
            (Hyperparameter::LrDecay, self.lr_decay),
            (Hyperparameter::InitialAccumulator, self.initial_accumulator),
            (Hyperparameter::MomentumDecay, self.momentum_decay),
            (Hyperparameter::Centered, self.centered.map(f64::from)),
            (Hyperparameter::DecoupledWeightDecay, self.decoupled_weight_decay.map(f64::from)),
        ]
    }
}

/// Where a rule keeps a hyperparameter: a number, or a switch.
enum Place<'a> {
    Value(&'a mut f64),
    Switch(&'a mut bool),
}

/// A named optimizer with everything needed to build it: rule, learning rate, weight decay.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    /// The optimizer's name (one of [`OPTIMIZER_NAMES`]).
    pub name: &'static str,
    /// Whose formulas and defaults.
    pub convention: Convention,
    /// The update rule and its hyperparameters.
    pub algorithm: Algorithm,
    /// The base learning rate ε (ε₀ for schedules).
    pub lr: f64,
    /// Weight decay λ: coupled L2 for most rules, decoupled for `adamw`.
    pub weight_decay: f64,
    /// Ascend instead of descend (PyTorch's `maximize`: the gradient's sign flipped).
    pub maximize: bool,
}

impl OptimizerConfig {
    /// The optimizer `name` with the defaults of `convention`.
    pub fn named(name: &str, convention: Convention) -> Result<Self, ConfigError> {
        use Convention::{Book, Torch};
        let sgd_lr = if convention == Torch { 1e-3 } else { 0.01 };
        let (name, algorithm, lr, weight_decay): (&'static str, Algorithm, f64, f64) = match name {
            // torch.optim.SGD's default rate is 1e-3 (with or without momentum).
            "sgd" => ("sgd", SgdConfig::plain(convention).into(), sgd_lr, 0.0),
            "momentum" => ("momentum", SgdConfig::momentum(convention).into(), sgd_lr, 0.0),
            "nesterov" => ("nesterov", SgdConfig::nesterov(convention).into(), sgd_lr, 0.0),
            "adagrad" => ("adagrad", AdagradConfig::new(convention).into(), 0.01, 0.0),
            "rmsprop" => {
                let lr = if convention == Book { 1e-3 } else { 1e-2 };
                ("rmsprop", RmspropConfig::new(convention).into(), lr, 0.0)
            }
            "rmsprop-nesterov" => ("rmsprop-nesterov", RmspropConfig::nesterov(convention).into(), 1e-3, 0.0),
            "adam" => ("adam", AdamConfig::adam(convention).into(), 1e-3, 0.0),
            "adamw" => ("adamw", AdamConfig::adamw(convention).into(), 1e-3, 0.01),
            "amsgrad" => ("amsgrad", AdamConfig::amsgrad(convention).into(), 1e-3, 0.0),
            "nadam" => {
                let lr = if convention == Torch { 2e-3 } else { 1e-3 };
                ("nadam", NadamConfig::new(convention).into(), lr, 0.0)
            }
            "adadelta" => ("adadelta", AdadeltaConfig::new(convention).into(), 1.0, 0.0),
            "adamax" => ("adamax", AdamaxConfig::new(convention).into(), 2e-3, 0.0),
            "radam" => ("radam", RadamConfig::new(convention).into(), 1e-3, 0.0),
            "lion" => ("lion", LionConfig::new().into(), 1e-4, 0.0),
            "adafactor" => ("adafactor", AdafactorConfig::new().into(), 1e-2, 0.0),
            "muon" => ("muon", MuonConfig::new(convention).into(), 1e-3, 0.1),
            "schedule-free-adamw" => ("schedule-free-adamw", ScheduleFreeConfig::new().into(), 2.5e-3, 0.0),
            _ => {
                return Err(ConfigError::Unknown {
                    kind: "optimizer",
                    name: name.to_string(),
                    expected: OPTIMIZER_NAMES.join(", "),
                })
            }
        };
        Ok(OptimizerConfig { name, convention, algorithm, lr, weight_decay, maximize: false })
    }

    /// The same optimizer at base rate `lr`.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// The value of `parameter` if this rule has it (a switch reads 1 when on, 0 when off).
    pub fn get(&self, parameter: Hyperparameter) -> Option<f64> {
        if let (Algorithm::Adafactor(c), Hyperparameter::Eps) = (&self.algorithm, parameter) {
            return c.eps1; // unset means Adafactor's own default, which no value states
        }
        match self.algorithm.clone().place(parameter)? {
            Place::Value(value) => Some(*value),
            Place::Switch(on) => Some(if *on { 1.0 } else { 0.0 }),
        }
    }

    /// Sets `parameter` if this rule has it (a switch is on for any value but 0); returns whether
    /// it did. Call [`Self::validate`] after.
    pub fn set(&mut self, parameter: Hyperparameter, value: f64) -> bool {
        self.algorithm.set(parameter, value)
    }

    /// Sets every given override this rule has; returns, in the order of [`Overrides::pairs`],
    /// whether each given value was used (false for values not given).
    pub fn apply(&mut self, overrides: &Overrides) -> [bool; OVERRIDE_COUNT] {
        overrides.pairs().map(|(parameter, value)| value.is_some_and(|value| self.set(parameter, value)))
    }

    /// Checks the learning rate, the weight decay and the rule's hyperparameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_non_negative("lr", self.lr)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        self.algorithm.validate()
    }
}

impl Algorithm {
    /// Sets `parameter` if this rule has it (a switch is on for any value but 0); returns whether
    /// it did. Call [`Self::validate`] after.
    pub fn set(&mut self, parameter: Hyperparameter, value: f64) -> bool {
        match self.place(parameter) {
            Some(Place::Value(slot)) => *slot = value,
            Some(Place::Switch(switch)) => *switch = value != 0.0,
            None => return false,
        }
        true
    }

    /// Where this rule keeps `parameter`, if it has it.
    fn place(&mut self, parameter: Hyperparameter) -> Option<Place<'_>> {
        use Hyperparameter::*;
        let slot: Option<&mut f64> = match (self, parameter) {
            (Algorithm::Rmsprop(c), Centered) => return Some(Place::Switch(&mut c.centered)),
            (Algorithm::Adam(c), DecoupledWeightDecay) => return Some(Place::Switch(&mut c.decoupled_weight_decay)),
            (Algorithm::Nadam(c), DecoupledWeightDecay) => return Some(Place::Switch(&mut c.decoupled_weight_decay)),
            (Algorithm::Radam(c), DecoupledWeightDecay) => return Some(Place::Switch(&mut c.decoupled_weight_decay)),
            (Algorithm::Sgd(c), Momentum) => Some(&mut c.momentum),
            (Algorithm::Rmsprop(c), Momentum) => Some(&mut c.momentum),
            (Algorithm::Rmsprop(c), Rho) => Some(&mut c.rho),
            (Algorithm::Adadelta(c), Rho) => Some(&mut c.rho),
            (Algorithm::Adam(c), Beta1) => Some(&mut c.beta1),
            (Algorithm::Adam(c), Beta2) => Some(&mut c.beta2),
            (Algorithm::Nadam(c), Beta1) => Some(&mut c.beta1),
            (Algorithm::Nadam(c), Beta2) => Some(&mut c.beta2),
            (Algorithm::Adagrad(c), Eps) => Some(&mut c.eps),
            (Algorithm::Rmsprop(c), Eps) => Some(&mut c.eps),
            (Algorithm::Adam(c), Eps) => Some(&mut c.eps),
            (Algorithm::Nadam(c), Eps) => Some(&mut c.eps),
            (Algorithm::Adadelta(c), Eps) => Some(&mut c.eps),
            (Algorithm::Adam(c), EpsRoot) => Some(&mut c.eps_root),
            (Algorithm::Nadam(c), EpsRoot) => Some(&mut c.eps_root),
            (Algorithm::Adamax(c), Beta1) => Some(&mut c.beta1),
            (Algorithm::Adamax(c), Beta2) => Some(&mut c.beta2),
            (Algorithm::Adamax(c), Eps) => Some(&mut c.eps),
            (Algorithm::Radam(c), Beta1) => Some(&mut c.beta1),
            (Algorithm::Radam(c), Beta2) => Some(&mut c.beta2),
            (Algorithm::Radam(c), Eps) => Some(&mut c.eps),
            (Algorithm::Radam(c), EpsRoot) => Some(&mut c.eps_root),
            (Algorithm::Lion(c), Beta1) => Some(&mut c.beta1),
            (Algorithm::Lion(c), Beta2) => Some(&mut c.beta2),
            (Algorithm::Adafactor(c), Eps) => Some(c.eps1.insert(0.0)),
            (Algorithm::Muon(c), Momentum) => Some(&mut c.momentum),
            (Algorithm::ScheduleFree(c), Beta1) => Some(&mut c.beta1),
            (Algorithm::ScheduleFree(c), Beta2) => Some(&mut c.beta2),
            (Algorithm::ScheduleFree(c), Eps) => Some(&mut c.eps),
            (Algorithm::Muon(c), Beta1) => Some(&mut c.fallback.beta1),
            (Algorithm::Muon(c), Beta2) => Some(&mut c.fallback.beta2),
            (Algorithm::Muon(c), Eps) => Some(&mut c.fallback.eps),
            (Algorithm::Sgd(c), Dampening) => Some(&mut c.dampening),
            (Algorithm::Adagrad(c), LrDecay) => Some(&mut c.lr_decay),
            (Algorithm::Adagrad(c), InitialAccumulator) => Some(&mut c.initial_accumulator),
            (Algorithm::Nadam(c), MomentumDecay) => Some(&mut c.momentum_decay),
            _ => None,
        };
        slot.map(Place::Value)
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn every_name_builds_and_validates_in_both_conventions() {
        for name in OPTIMIZER_NAMES {
            for convention in [Convention::Book, Convention::Torch] {
                let config = OptimizerConfig::named(name, convention).unwrap();
                assert_eq!(config.name, name);
                config.validate().unwrap();
            }
        }
    }

    #[test]
    fn only_the_rules_that_need_them_keep_scalars_or_an_evaluation_point() {
        // Besides the step count (PyTorch's `step`), torch NAdam keeps Πμ and schedule-free its
        // Σγ² and averaging weight; no other rule keeps a scalar. Only schedule-free evaluates
        // elsewhere than at the parameters (after two steps its x and y differ).
        for name in OPTIMIZER_NAMES {
            let config = OptimizerConfig::named(name, Convention::Torch).unwrap();
            let mut optimizer = crate::Optimizer::<f64>::from_config(&config).unwrap();
            let mut params = [1.0, -2.0];
            for _ in 0..2 {
                optimizer.step(&mut params, &[0.5, 0.25], 0.1).unwrap();
            }
            let names: Vec<&str> = optimizer.state_scalars().iter().map(|(name, _)| *name).collect();
            let expected: &[&str] = match name {
                "nadam" => &["step", "mu_product"],
                "schedule-free-adamw" => &["step", "lr_squared_sum", "average_weight"],
                _ => &["step"],
            };
            assert_eq!(names, expected, "{name}");
            let before = params;
            optimizer.swap_evaluation_point(&mut params);
            assert_eq!(params != before, name == "schedule-free-adamw", "{name}: {params:?} vs {before:?}");
        }
    }

    #[test]
    fn lerp_takes_pytorchs_form_for_each_weight() {
        // PyTorch's CPU lerp: a + w(b − a) for |w| < ½, else b − (b − a)(1 − w), fused. At these
        // points the two forms round differently (found with an exact fma in Python):
        // (a, b) = (0.3, −0.4), w = 0.1: 0.22999999999999998 (the other form 0.22999999999999995);
        // w = 0.9: −0.33 (−0.32999999999999996); (0.3, 1.1), w = ½: 0.7000000000000001 (0.7).
        let lerp_at = |a: f64, b: f64, weight: f64| {
            let (coefficient, from_end) = lerp_form(weight);
            lerp(a, b, coefficient, from_end)
        };
        assert_eq!(lerp_at(0.3, -0.4, 0.1), 0.22999999999999998);
        assert_eq!(lerp_at(0.3, -0.4, 0.9), -0.33);
        assert_eq!(lerp_at(0.3, 1.1, 0.5), 0.7000000000000001);
    }

    #[test]
    fn get_set_and_apply_reach_the_named_fields() {
        use Hyperparameter::*;
        // torch.optim.Adam's defaults: betas (0.9, 0.999), eps 1e-8; it has no ρ.
        let mut adam = OptimizerConfig::named("adam", Convention::Torch).unwrap();
        assert_eq!([adam.get(Beta1), adam.get(Beta2), adam.get(Eps)], [Some(0.9), Some(0.999), Some(1e-8)]);
        assert_eq!(adam.get(Rho), None);
        // A switch reads 1 when on and 0 when off; any value but 0 turns it on.
        assert_eq!(adam.get(DecoupledWeightDecay), Some(0.0));
        assert!(adam.set(DecoupledWeightDecay, 2.0));
        assert_eq!(adam.get(DecoupledWeightDecay), Some(1.0));
        assert!(adam.set(DecoupledWeightDecay, 0.0));
        assert_eq!(adam.get(DecoupledWeightDecay), Some(0.0));
        // Adafactor's ε₁ reads as unset until set (its default is the element type's epsilon).
        let mut adafactor = OptimizerConfig::named("adafactor", Convention::Torch).unwrap();
        assert_eq!(adafactor.get(Eps), None);
        assert!(adafactor.set(Eps, 1e-30));
        assert_eq!(adafactor.get(Eps), Some(1e-30));
        // apply sets the values the rule has and says which of the given ones it used.
        let overrides = Overrides { beta2: Some(0.99), rho: Some(0.5), ..Overrides::default() };
        let used = adam.apply(&overrides);
        let expected = overrides.pairs().map(|(parameter, _)| parameter == Beta2);
        assert_eq!(used, expected);
        assert_eq!(adam.get(Beta2), Some(0.99));
        // The switches are the on/off options, and only they.
        let switches: Vec<Hyperparameter> =
            overrides.pairs().iter().map(|(parameter, _)| *parameter).filter(|p| p.is_switch()).collect();
        assert_eq!(switches, [Centered, DecoupledWeightDecay]);
    }

    #[test]
    fn each_rule_takes_exactly_the_hyperparameters_it_has() {
        use Hyperparameter::*;
        // From the rules' definitions (PyTorch's constructor arguments, Optax's eps_root; Muon's
        // β and δ are its AdamW fallback's). Setting one changes the rule; any other is refused.
        let sgd: &[Hyperparameter] = &[Momentum, Dampening];
        let rmsprop: &[Hyperparameter] = &[Momentum, Rho, Eps, Centered];
        let adam: &[Hyperparameter] = &[Beta1, Beta2, Eps, EpsRoot, DecoupledWeightDecay];
        let table: [(&str, &[Hyperparameter]); 17] = [
            ("sgd", sgd),
            ("momentum", sgd),
            ("nesterov", sgd),
            ("adagrad", &[Eps, LrDecay, InitialAccumulator]),
            ("rmsprop", rmsprop),
            ("rmsprop-nesterov", rmsprop),
            ("adam", adam),
            ("adamw", adam),
            ("amsgrad", adam),
            ("nadam", &[Beta1, Beta2, Eps, EpsRoot, MomentumDecay, DecoupledWeightDecay]),
            ("adadelta", &[Rho, Eps]),
            ("adamax", &[Beta1, Beta2, Eps]),
            ("radam", adam),
            ("lion", &[Beta1, Beta2]),
            ("adafactor", &[Eps]),
            ("muon", &[Momentum, Beta1, Beta2, Eps]),
            ("schedule-free-adamw", &[Beta1, Beta2, Eps]),
        ];
        for (name, has) in table {
            let default = OptimizerConfig::named(name, Convention::Torch).unwrap();
            for (parameter, _) in Overrides::default().pairs() {
                let mut config = default.clone();
                // A switch is flipped; a value set to one no default has.
                let value = if parameter.is_switch() { 1.0 - default.get(parameter).unwrap_or(0.0) } else { 0.123 };
                assert_eq!(config.set(parameter, value), has.contains(&parameter), "{name}: {}", parameter.name());
                assert_eq!(
                    config.algorithm != default.algorithm,
                    has.contains(&parameter),
                    "{name}: {}",
                    parameter.name()
                );
            }
        }
    }

    #[test]
    fn positive_means_above_zero() {
        assert!(check_positive("gamma", 0.0).is_err());
        assert!(check_positive("gamma", 5e-324).is_ok());
    }

    #[test]
    fn torch_defaults_are_torch_optims() {
        // The signatures of torch.optim in PyTorch 2.15: SGD(lr=1e-3), RMSprop(lr=1e-2),
        // NAdam(lr=2e-3), Adamax(lr=2e-3), Adam(lr=1e-3), Adagrad(lr=1e-2), Adadelta(lr=1.0).
        let expected = [
            ("sgd", 1e-3),
            ("momentum", 1e-3),
            ("nesterov", 1e-3),
            ("rmsprop", 1e-2),
            ("nadam", 2e-3),
            ("adamax", 2e-3),
            ("adam", 1e-3),
            ("adagrad", 1e-2),
            ("adadelta", 1.0),
        ];
        for (name, lr) in expected {
            assert_eq!(OptimizerConfig::named(name, Convention::Torch).unwrap().lr, lr, "{name}");
        }
        assert_eq!(OptimizerConfig::named("sgd", Convention::Book).unwrap().lr, 0.01);
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let message = OptimizerConfig::named("adamx", Convention::Book).unwrap_err().to_string();
        assert!(message.starts_with("unknown optimizer 'adamx' (expected one of: sgd, momentum"));
    }

    #[test]
    fn set_reaches_only_rules_that_have_the_parameter() {
        let mut adam = OptimizerConfig::named("adam", Convention::Book).unwrap();
        assert!(adam.set(Hyperparameter::Beta2, 0.99));
        assert!(!adam.set(Hyperparameter::Rho, 0.5));
        let mut rmsprop = OptimizerConfig::named("rmsprop", Convention::Book).unwrap();
        assert!(rmsprop.set(Hyperparameter::Rho, 1.2));
        assert_eq!(rmsprop.validate().unwrap_err().to_string(), "rho must be in [0, 1), got 1.2");
    }

    #[test]
    fn conventions_parse_from_their_names_and_nothing_else() {
        for convention in [Convention::Book, Convention::Torch] {
            assert_eq!(convention.to_string().parse::<Convention>().unwrap(), convention);
        }
        assert_eq!(
            ("book".parse::<Convention>().unwrap(), "torch".parse::<Convention>().unwrap()),
            (Convention::Book, Convention::Torch)
        );
        let message = "pytorch".parse::<Convention>().unwrap_err().to_string();
        assert!(message.contains("'pytorch'") && message.contains("book, torch"), "{message}");
    }
}

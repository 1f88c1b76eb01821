//! # descent-optim
//!
//! The optimization algorithms of deep learning — as written in Goodfellow, Bengio & Courville,
//! *Deep Learning*, chapter 8, and as PyTorch runs them — on flat slices of `f32` or `f64`.
//!
//! - [`algorithms`]: SGD (8.1), momentum (8.2), Nesterov (8.3), AdaGrad (8.4), RMSProp (8.5),
//!   RMSProp with Nesterov momentum (8.6), Adam (8.7), AdaDelta, AdamW, AMSGrad, NAdam; each in the
//!   `book` or `torch` [`Convention`].
//! - [`Optimizer`]: an algorithm's state over one flat parameter buffer, with weight decay,
//!   [`clip`]ping and per-range [`ParamGroup`]s, updated in one fused, parallel pass.
//! - [`schedule`]: learning rates as pure functions of the step.
//! - [`average`]: Polyak and exponential averages of the iterates.
//! - [`init`]: Glorot, He, LeCun, the chapter's U(±1/√m), orthogonal.
//!
//! Nothing here does I/O or knows about models: an optimizer sees parameters and gradients as
//! slices, so it serves any model whose parameters live in one buffer.
#![warn(missing_docs)]

pub mod algorithms;
pub mod average;
pub mod clip;
pub mod elementwise;
pub mod error;
pub mod exp;
pub mod float;
pub mod init;
mod optimizer;
pub mod parallel;
pub mod schedule;
mod state;
pub mod tanh;
#[cfg(test)]
mod testing;

pub use algorithms::{
    AdadeltaConfig, AdagradConfig, AdamConfig, Algorithm, Convention, Hyperparameter, NadamConfig, OptimizerConfig,
    Overrides, RmspropConfig, SgdConfig, OPTIMIZER_NAMES, OVERRIDE_COUNT,
};
pub use average::Averaging;
pub use clip::Clip;
pub use error::{ConfigError, StateError, StepError};
pub use float::Float;
pub use init::Init;
pub use optimizer::{Optimizer, ParamGroup, STEP_STATE_NAME};
pub use schedule::{Decay, ReduceOnPlateau, Schedule};
pub use state::OptimizerState;

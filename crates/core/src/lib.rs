//! # descent
//!
//! Training deep models and studying the optimizers that train them (Goodfellow, Bengio &
//! Courville, *Deep Learning*, ch. 8). This crate holds the problems and the code that runs
//! optimizers on them; it computes and reports through return values, and never prints or draws.
//!
//! - [`functions`]: the 2-D test functions of the optimizer lab, with exact gradients and Hessians.
//! - [`trajectory`]: runs optimizers on a 2-D function and records their paths.
//! - [`layers`]: dense, convolutional, pooling and activation layers over one flat parameter
//!   buffer; [`network`] composes them in sequence, trained on the [`loss`]es, with the one matrix
//!   product in [`linalg`]; [`rnn`] is the recurrent network.
//! - [`train`]: the training loop (events, early stopping, [`checkpoint`]s, exact resume), set up
//!   by a [`config::TrainConfig`].
//! - [`problems`]: the registry of problems by name; [`lab`] runs optimizers side by side on one.
//! - [`data`]: MNIST (IDX) and CSV readers, the bundled MNIST subset, splits and the sampler.
//!
//! The algorithms themselves live in [`descent_optim`], re-exported here as [`optim`].
#![warn(missing_docs)]
// Raw pointers and intrinsics stay inside the matrix product, where the safety argument is made.
#![deny(unsafe_code)]

pub use descent_optim as optim;

pub mod checkpoint;
pub mod collective;
pub mod config;
pub mod curvature;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod files;
pub mod functions;
pub mod lab;
pub mod layers;
#[allow(unsafe_code)]
pub mod linalg;
pub mod loss;
pub mod model;
pub mod network;
pub mod problems;
pub mod rnn;
mod text;
pub mod train;
pub mod trajectory;

pub use config::TrainConfig;
pub use error::Error;
pub use model::Model;
pub use train::{Event, Splits, Trainer};

/// What most programs that train with descent use, in one import: `use descent::prelude::*;`.
pub mod prelude {
    pub use crate::config::{ModelRecord, TrainConfig};
    pub use crate::data::{Dataset, Targets};
    pub use crate::layers::{Activation, Layer, LayerSpec, Padding, Shape};
    pub use crate::loss::{Criterion, Objective};
    pub use crate::model::Model;
    pub use crate::network::Network;
    pub use crate::train::{Control, Event, Splits, Summary, Trainer};
    pub use crate::Error;
    pub use descent_optim::{Clip, Convention, Init, Optimizer, OptimizerConfig, ParamGroup, Schedule};
}

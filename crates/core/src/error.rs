//! The error type of the core crate: every message names the value or setting at fault.

use thiserror::Error;

/// What can go wrong in the core crate.
#[derive(Debug, Error)]
pub enum Error {
    /// A setting of an optimizer, schedule or clipping rule.
    #[error(transparent)]
    Config(#[from] descent_optim::ConfigError),
    /// A misuse of an optimizer at step time.
    #[error(transparent)]
    Step(#[from] descent_optim::StepError),
    /// A value given by the user that is out of range for what it sets.
    #[error("{field} {message}, got {value}")]
    Invalid {
        /// The flag or field at fault.
        field: &'static str,
        /// What was expected.
        message: &'static str,
        /// What was given.
        value: String,
    },
}

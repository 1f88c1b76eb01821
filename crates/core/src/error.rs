//! The error type of the core crate: every message names the value or setting at fault.

use thiserror::Error;

/// What can go wrong in the core crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of an optimizer, schedule or clipping rule.
    #[error(transparent)]
    Config(#[from] descent_optim::ConfigError),
    /// A misuse of an optimizer at step time.
    #[error(transparent)]
    Step(#[from] descent_optim::StepError),
    /// Optimizer state that does not fit the optimizer it is loaded into.
    #[error(transparent)]
    State(#[from] descent_optim::StateError),
    /// A data file that cannot be read or does not hold what it should.
    #[error("{path}: {message}")]
    Data {
        /// The file (or folder) at fault.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A run folder or checkpoint that cannot be used.
    #[error("{path}: {message}")]
    Run {
        /// The folder or file at fault.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Training stopped on a value that is not finite.
    #[error("non-finite {what} at step {step} (epoch {epoch}){layer}")]
    NonFinite {
        /// "loss" or "gradient".
        what: &'static str,
        /// The update at which it appeared.
        step: u64,
        /// The epoch.
        epoch: u32,
        /// ", in layer N (name)" where known.
        layer: String,
    },
    /// The run was asked to stop (Ctrl-C) before it finished; a run with a folder keeps a
    /// checkpoint of the update it stopped after.
    #[error("interrupted after update {step} (in epoch {epoch}); a run folder keeps a checkpoint of that update")]
    Interrupted {
        /// Updates made when it stopped.
        step: u64,
        /// The epoch it was in.
        epoch: u32,
    },
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

impl Error {
    /// A [`Error::Data`] for `path`.
    pub fn data(path: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        Error::Data { path: path.as_ref().display().to_string(), message: message.into() }
    }

    /// A [`Error::Run`] for `path`.
    pub fn run(path: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        Error::Run { path: path.as_ref().display().to_string(), message: message.into() }
    }
}

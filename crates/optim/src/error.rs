//! Typed errors of the optimizer crate. Each message names the culprit first.

use thiserror::Error;

/// A hyperparameter, schedule or clipping setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value outside the range where the algorithm is defined.
    #[error("{field} must be {expected}, got {value}")]
    OutOfRange {
        /// The name users know the field by (`rho`, `beta2`, `lr`, …).
        field: &'static str,
        /// What was allowed, e.g. `in [0, 1)`.
        expected: &'static str,
        /// What was given.
        value: f64,
    },
    /// A name (optimizer, schedule, convention, clip mode) that is not known.
    #[error("unknown {kind} '{name}' (expected one of: {expected})")]
    Unknown {
        /// What kind of name it is.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        expected: String,
    },
    /// A textual specification that does not parse.
    #[error("{what}: {message}")]
    Syntax {
        /// The text at fault.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// A parameter group with a bad setting, or one that overlaps another.
    #[error("parameter group {index} ({start}..{end}) {problem}")]
    BadGroup {
        /// Position of the group in the list.
        index: usize,
        /// First element.
        start: usize,
        /// One past the last element.
        end: usize,
        /// What is wrong.
        problem: String,
    },
}

/// A misuse of an optimizer at step time (shapes or state that do not fit).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum StepError {
    /// Parameters and gradients differ in length.
    #[error("gradient length {grads} does not match parameter length {params}")]
    LengthMismatch {
        /// Length of the parameter slice.
        params: usize,
        /// Length of the gradient slice.
        grads: usize,
    },
    /// The parameter buffer changed size after the state was allocated.
    #[error("parameter length changed from {expected} to {found} after the first step")]
    ResizedParameters {
        /// Length at the first step.
        expected: usize,
        /// Length now.
        found: usize,
    },
    /// A parameter group reaches outside the buffer or overlaps another.
    #[error("parameter group {index} ({start}..{end}) {problem}")]
    BadGroup {
        /// Position of the group in the list.
        index: usize,
        /// First element.
        start: usize,
        /// One past the last element.
        end: usize,
        /// What is wrong.
        problem: String,
    },
    /// Parameters that no group covers (they would never be updated).
    #[error("parameters {start}..{end} are in no parameter group (give them a group with lr_scale 0 to freeze them)")]
    Uncovered {
        /// First parameter not covered.
        start: usize,
        /// One past the last.
        end: usize,
    },
    /// The learning rate is negative or not finite.
    #[error("lr must be a finite number >= 0, got {0}")]
    BadLearningRate(f64),
}

/// Optimizer state that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The algorithm keeps no buffer or scalar of this name.
    #[error("optimizer '{optimizer}' has no state named '{name}' (it has: {expected})")]
    UnknownName {
        /// The optimizer's name.
        optimizer: String,
        /// The name given.
        name: String,
        /// The names it has.
        expected: String,
    },
    /// A buffer of the wrong length.
    #[error("state '{name}' has length {found}, expected {expected}")]
    WrongLength {
        /// Buffer name.
        name: String,
        /// Expected length (the parameter count).
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// State saved by another rule (or the same rule under another convention).
    #[error("the state is of {found}, this optimizer is {expected}")]
    OtherRule {
        /// This optimizer's rule.
        expected: String,
        /// The state's.
        found: String,
    },
    /// A buffer or scalar that the algorithm needs was not given.
    #[error("state '{name}' is missing")]
    Missing {
        /// Buffer name.
        name: String,
    },
}

//! The problem registry: every problem the trainer and the lab know, by name, each with its data,
//! model, loss, metric, default budget and the target that counts as "reached" (SPEC §6).
//!
//! A problem is one constant in one small file of this folder; adding one means writing that file
//! and listing it in [`ALL`].

mod adding;
mod autoencoder;
mod conv;
mod dense;
mod functions;
mod mnist_rnn;
pub(crate) mod quadratic_deep;

use crate::config::TrainConfig;
use crate::functions::Function2d;
use crate::network::Network;
use crate::Error;

pub use quadratic_deep::QuadraticForm;

/// Where a problem's examples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// MNIST's handwritten digits: the bundled subset, or the four IDX files of `--data DIR`.
    Mnist,
    /// Zalando's Fashion-MNIST, the same way.
    FashionMnist,
    /// Sequences of the adding problem, drawn from a fixed seed.
    Adding,
    /// DeepOBS's noisy quadratic: Gaussian points drawn from a fixed seed.
    Quadratic,
    /// None: a 2-D function.
    Nothing,
}

/// Builds a problem's network for a config, with buffers for batches up to the given size.
pub type BuildNetwork = fn(&TrainConfig, usize) -> Result<Network<f32>, Error>;

/// What a problem trains.
#[derive(Debug, Clone, Copy)]
pub enum Task {
    /// A dense classifier (the bundled subset, or the full set with `--data`), trained on the
    /// negative log-likelihood, judged by the 0-1 error; its layers come from the config's
    /// `hidden`, `activation` and `init`.
    Classify {
        /// Hidden layer widths (none for logistic regression).
        hidden: &'static [usize],
    },
    /// A network of the problem's own layers (a conv net, an autoencoder, the noisy quadratic).
    Network {
        /// Makes the network (the config's `init` and seed apply).
        build: BuildNetwork,
        /// Whether the targets are the inputs themselves (an autoencoder).
        autoencoder: bool,
        /// The hidden units' nonlinearity, fixed by the problem (recorded in `config.toml`).
        activation: crate::layers::Activation,
    },
    /// A classifier on MNIST read as a sequence: a vanilla RNN whose time steps are the rows of
    /// each image (sequential MNIST), its width the config's first hidden width.
    Sequence {
        /// Time steps each example is cut into (its features split evenly among them).
        steps: usize,
    },
    /// The adding problem: a vanilla RNN reads `length` steps of (value, marker) and regresses the
    /// sum of the two marked values (½‖o − t‖²; right when within 0.04).
    Adding {
        /// Default sequence length T (the config's `length` overrides it).
        length: usize,
    },
    /// A 2-D test function minimized from its customary start, judged by f − f*.
    Minimize {
        /// The function's name in [`crate::functions`].
        function: &'static str,
        /// κ for the quadratic (ignored by the others).
        condition: f64,
    },
}

/// One entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Problem {
    /// The name on the command line.
    pub name: &'static str,
    /// One line for people: model and data.
    pub description: &'static str,
    /// What is trained.
    pub task: Task,
    /// What it is trained on.
    pub data: Source,
    /// The lab's default budget: epochs for classifiers, updates for 2-D functions.
    pub budget: u32,
    /// The value of [`metric`](Self::metric) on the test set that counts as reaching the result
    /// on the built-in data (the bundled MNIST subset).
    pub target: f64,
    /// The same on the full data set (`--data DIR`), where models do better.
    pub target_full_data: f64,
    /// What is judged: "0-1 error", "squared reconstruction error", "loss" or "f − f*".
    pub metric: &'static str,
    /// The batch size of its default recipe.
    pub batch: usize,
    /// Training examples held out for validation by default.
    pub val_size: usize,
}

/// The usual recipe's batch and validation split (128 and 5,000, as on MNIST).
pub(crate) const BATCH: usize = 128;
/// Validation examples of the image problems.
pub(crate) const VAL_SIZE: usize = 5000;

/// Every problem, in the order they are listed to users.
pub const ALL: &[Problem] = &[
    dense::MNIST_MLP,
    dense::MNIST_LOGREG,
    conv::MNIST_2C2D,
    autoencoder::MNIST_AUTOENCODER,
    dense::FMNIST_MLP,
    dense::FMNIST_LOGREG,
    conv::FMNIST_2C2D,
    quadratic_deep::PROBLEM,
    mnist_rnn::PROBLEM,
    adding::PROBLEM,
    functions::QUADRATIC,
    functions::ROSENBROCK,
    functions::BEALE,
    functions::SADDLE,
    functions::HIMMELBLAU,
];

/// The problem called `name`.
pub fn named(name: &str) -> Result<&'static Problem, Error> {
    ALL.iter().find(|p| p.name == name).ok_or_else(|| {
        Error::Config(descent_optim::ConfigError::Unknown {
            kind: "problem",
            name: name.to_string(),
            expected: names().join(", "),
        })
    })
}

/// The names of every problem.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|p| p.name).collect()
}

impl Problem {
    /// True for problems with data, a model and minibatches (as opposed to a 2-D function).
    pub fn is_classifier(&self) -> bool {
        !matches!(self.task, Task::Minimize { .. })
    }

    /// Whether the model's targets are its own inputs.
    pub fn is_autoencoder(&self) -> bool {
        matches!(self.task, Task::Network { autoencoder: true, .. })
    }

    /// True when every run is the same whatever the seed (2-D functions from a fixed start).
    pub fn is_deterministic(&self) -> bool {
        !self.is_classifier()
    }

    /// The 2-D function of a [`Task::Minimize`] problem.
    pub fn function(&self) -> Option<Function2d> {
        match self.task {
            Task::Minimize { function, condition } => Function2d::named(function, condition).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_function_builds() {
        let names = names();
        for (index, name) in names.iter().enumerate() {
            assert!(!names[..index].contains(name), "{name} twice");
        }
        for problem in ALL {
            assert!(problem.budget > 0 && problem.target.is_finite(), "{}", problem.name);
            assert_eq!(problem.function().is_some(), !problem.is_classifier(), "{}", problem.name);
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let message = named("mnist-cnn").unwrap_err().to_string();
        assert!(message.contains("mnist-cnn") && message.contains("mnist-mlp, mnist-logreg"), "{message}");
    }
}

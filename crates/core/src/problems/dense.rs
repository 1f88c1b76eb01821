//! The dense classifiers: DeepOBS's `mnist_mlp`/`fmnist_mlp` (784-1000-500-100-10, ReLU) and
//! logistic regression (784→10, softmax), on MNIST and on Fashion-MNIST.

use super::{Problem, Source, Task, BATCH, VAL_SIZE};

/// A dense classifier of `hidden` widths on `data`.
const fn classifier(
    name: &'static str,
    description: &'static str,
    hidden: &'static [usize],
    data: Source,
    (target, target_full_data): (f64, f64),
) -> Problem {
    Problem {
        name,
        description,
        task: Task::Classify { hidden },
        data,
        budget: 5,
        target,
        target_full_data,
        metric: "0-1 error",
        batch: BATCH,
        val_size: VAL_SIZE,
    }
}

/// `mnist-mlp`: 92% on the subset's 5,000 training images within the budget; 98% on the full set.
pub const MNIST_MLP: Problem = classifier(
    "mnist-mlp",
    "MLP 784-1000-500-100-10 (ReLU, softmax cross-entropy) on MNIST",
    &[1000, 500, 100],
    Source::Mnist,
    (0.08, 0.02),
);

/// `mnist-logreg`: a convex problem.
pub const MNIST_LOGREG: Problem = classifier(
    "mnist-logreg",
    "logistic regression 784→10 (softmax cross-entropy) on MNIST",
    &[],
    Source::Mnist,
    (0.12, 0.08),
);

/// `fmnist-mlp`: Fashion-MNIST is harder (its classes overlap: shirts, T-shirts, pullovers, coats).
pub const FMNIST_MLP: Problem = classifier(
    "fmnist-mlp",
    "MLP 784-1000-500-100-10 (ReLU, softmax cross-entropy) on Fashion-MNIST",
    &[1000, 500, 100],
    Source::FashionMnist,
    (0.20, 0.12),
);

/// `fmnist-logreg`.
pub const FMNIST_LOGREG: Problem = classifier(
    "fmnist-logreg",
    "logistic regression 784→10 (softmax cross-entropy) on Fashion-MNIST",
    &[],
    Source::FashionMnist,
    (0.22, 0.17),
);

//! `mnist-logreg`: multinomial logistic regression (784→10, softmax) on MNIST, a convex problem.

use super::{Problem, Task};

/// The registry entry.
pub const PROBLEM: Problem = Problem {
    name: "mnist-logreg",
    description: "logistic regression 784→10 (softmax cross-entropy) on MNIST",
    task: Task::Classify { hidden: &[] },
    budget: 5,
    target: 0.12,
    target_full_data: 0.08,
    metric: "0-1 error",
};

//! `mnist-mlp`: the multilayer perceptron 784-1000-500-100-10 (ReLU) on MNIST.

use super::{Problem, Task};

/// The registry entry.
pub const PROBLEM: Problem = Problem {
    name: "mnist-mlp",
    description: "MLP 784-1000-500-100-10 (ReLU, softmax cross-entropy) on MNIST",
    task: Task::Classify { hidden: &[1000, 500, 100] },
    budget: 5,
    // 92% on the subset's 5,000 training images within the budget; 98% on the full set.
    target: 0.08,
    target_full_data: 0.02,
    metric: "0-1 error",
};

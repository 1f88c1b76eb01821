//! DeepOBS's `mnist_2c2d` and `fmnist_2c2d`: two convolutions and two fully connected layers.
//! conv 32@5×5 same + ReLU, max-pool 2×2, conv 64@5×5 same + ReLU, max-pool 2×2, dense 1024 +
//! ReLU, dense 10; 3,274,634 parameters. Images are 28×28×1, activations NHWC.

use super::{Problem, Source, Task, BATCH, VAL_SIZE};
use crate::config::TrainConfig;
use crate::layers::{Activation, LayerSpec, Padding, Shape};
use crate::loss::Objective;
use crate::network::Network;
use crate::Error;

/// The layers of the 2c2d net, every weight drawn by `init`.
pub fn layers(init: descent_optim::Init) -> Vec<LayerSpec> {
    vec![
        LayerSpec::conv2d(32, 5, Padding::Same, Activation::Relu, init),
        LayerSpec::max_pool(2, Padding::Same),
        LayerSpec::conv2d(64, 5, Padding::Same, Activation::Relu, init),
        LayerSpec::max_pool(2, Padding::Same),
        LayerSpec::Flatten,
        LayerSpec::dense(1024, Activation::Relu, init),
        LayerSpec::dense(10, Activation::Identity, init),
    ]
}

fn build(config: &TrainConfig, max_batch: usize) -> Result<Network<f32>, Error> {
    let layers = layers(config.init);
    Network::new(Shape::image(28, 28, 1), &layers, Objective::CLASSIFY, max_batch, config.seed, config.threads)
}

const fn two_conv_two_dense(
    name: &'static str,
    description: &'static str,
    data: Source,
    target: (f64, f64),
) -> Problem {
    Problem {
        name,
        description,
        task: Task::Network { build, autoencoder: false, activation: crate::layers::Activation::Relu },
        data,
        budget: 5,
        target: target.0,
        target_full_data: target.1,
        metric: "0-1 error",
        batch: BATCH,
        val_size: VAL_SIZE,
    }
}

/// `mnist-2c2d`: 99% test accuracy on the full set.
pub const MNIST_2C2D: Problem = two_conv_two_dense(
    "mnist-2c2d",
    "conv net 2c2d (DeepOBS: two 5×5 convolutions, two dense layers) on MNIST",
    Source::Mnist,
    (0.05, 0.01),
);

/// `fmnist-2c2d`: 90% test accuracy on the full set.
pub const FMNIST_2C2D: Problem = two_conv_two_dense(
    "fmnist-2c2d",
    "conv net 2c2d (DeepOBS: two 5×5 convolutions, two dense layers) on Fashion-MNIST",
    Source::FashionMnist,
    (0.20, 0.10),
);

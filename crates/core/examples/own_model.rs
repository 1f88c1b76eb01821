//! Using descent as a library: a model of your own layers, trained by descent's trainer on your
//! own data, and saved. Run with `cargo run --release -p descent --example own_model`.
//!
//! The data are two concentric rings in the plane (no linear model separates them: it is stuck
//! near 50% error); the model is 2-32-32-2 with tanh units.

use descent::config::TrainConfig;
use descent::data::Dataset;
use descent::layers::{Activation, LayerSpec};
use descent::train::{Event, Splits, Summary, Trainer};
use descent_optim::Init;

/// `n` points on each of two noisy rings, of radius 0.5 (class 0) and 1 (class 1).
fn rings(n: usize, seed: u64) -> Dataset {
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        for class in 0..2u32 {
            let noise = 0.1 * (((i as u64 * 2654435761 + seed * 97 + class as u64 * 31) % 1000) as f64 / 500.0 - 1.0);
            let radius = 0.5 * (1 + class) as f64 + noise;
            let angle = 2.0 * std::f64::consts::PI * (i as f64 + 0.37 * seed as f64) / n as f64;
            inputs.push((radius * angle.cos()) as f32);
            inputs.push((radius * angle.sin()) as f32);
            labels.push(class);
        }
    }
    Dataset::new(inputs, labels, 2, 2).expect("well-formed")
}

/// Trains the model; writes the run folder to `out` if given. Returns the summary.
pub fn train(out: Option<&std::path::Path>) -> Summary {
    let mut config = TrainConfig::for_problem("mnist-mlp").expect("known problem");
    config.epochs = 30;
    config.batch = 32;
    config.lr = 0.01;
    config.val_size = 100;
    config.threads = 1;
    let splits = Splits::from_sets(&config, rings(300, 1), rings(100, 2)).expect("valid split");
    let layer = |units, activation| LayerSpec::dense(units, activation, Init::GlorotUniform);
    let layers = vec![layer(32, Activation::Tanh), layer(32, Activation::Tanh), layer(2, Activation::Identity)];
    let mut trainer = Trainer::with_layers(config, splits, layers).expect("valid model");
    trainer
        .run(out, &mut |event| {
            if let Event::EpochEnd(m) = event {
                if m.epoch % 10 == 0 {
                    println!(
                        "epoch {:>2}: train loss {:.3}, test error {:.1}%",
                        m.epoch,
                        m.train_loss,
                        100.0 * m.test_error
                    );
                }
            }
        })
        .expect("training runs")
}

#[allow(dead_code)] // when included by the test suite, only `train` is used
fn main() {
    let out = std::path::Path::new("runs/own-model");
    let summary = train(Some(out));
    let test_error = summary.final_metrics.map_or(f64::NAN, |m| m.test_error);
    println!("test error {:.1}%; saved in {}", 100.0 * test_error, out.display());
}

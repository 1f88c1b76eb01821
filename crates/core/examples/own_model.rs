//! Using descent as a library: a model with a layer of your own (swish) trained on a loss of your
//! own (label-smoothed cross-entropy) by descent's trainer, on your own data; stopped, resumed
//! exactly from its run folder, and used to predict. Run with
//! `cargo run --release -p descent-nn --example own_model`.
//!
//! The data are two concentric rings in the plane (no linear model separates them: it is stuck
//! near 50% error); the model is 2-32-32-2 with swish units.

use std::path::Path;

use descent::layers::{Dense, Layer, Shape, TensorSpec};
use descent::linalg::Workspace;
use descent::prelude::*;

/// swish(z) = z·σ(z) (Ramachandran et al. 2017), elementwise, with no parameters of its own.
struct Swish {
    shape: Shape,
}

impl Layer<f32> for Swish {
    fn describe(&self) -> String {
        "swish".into()
    }
    fn output_shape(&self) -> Shape {
        self.shape
    }
    fn tensors(&self) -> Vec<TensorSpec> {
        Vec::new()
    }
    fn forward(&mut self, _: &[f32], input: &[f32], output: &mut [f32], batch: usize, _: &mut Workspace<f32>) {
        let n = batch * self.shape.len();
        output[..n].iter_mut().zip(&input[..n]).for_each(|(y, &z)| *y = z / (1.0 + (-z).exp()));
    }
    fn backward(
        &mut self,
        _: &[f32],
        input: &[f32],
        _: &[f32],
        output_grad: &mut [f32],
        _: &mut [f32],
        input_grad: Option<&mut [f32]>,
        batch: usize,
        _: &mut Workspace<f32>,
    ) {
        // d/dz z·σ(z) = σ(z)·(1 + z·(1 − σ(z))).
        let n = batch * self.shape.len();
        if let Some(input_grad) = input_grad {
            for ((dz, &dy), &z) in input_grad[..n].iter_mut().zip(&output_grad[..n]).zip(&input[..n]) {
                let s = 1.0 / (1.0 + (-z).exp());
                *dz = dy * s * (1.0 + z * (1.0 - s));
            }
        }
    }
}

/// Cross-entropy against (1 − α)·onehot(y) + α/K (Szegedy et al. 2016), judged by the 0-1 error.
struct LabelSmoothing {
    alpha: f32,
}

impl Criterion<f32> for LabelSmoothing {
    fn evaluate(
        &self,
        outputs: &[f32],
        targets: Targets<'_, f32>,
        batch: usize,
        width: usize,
        mut grad: Option<&mut [f32]>,
    ) -> (f64, f64) {
        let Targets::Classes(labels) = targets else { panic!("label smoothing needs class labels") };
        let (mut loss, mut errors) = (0.0, 0.0);
        for (row, (z, &label)) in outputs.chunks_exact(width).zip(labels).take(batch).enumerate() {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let log_sum = max + z.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
            let target =
                |j: usize| self.alpha / width as f32 + if j == label as usize { 1.0 - self.alpha } else { 0.0 };
            loss += (0..width).map(|j| f64::from(target(j) * (log_sum - z[j]))).sum::<f64>();
            errors += f64::from(u8::from(z[label as usize] < max));
            if let Some(grad) = grad.as_deref_mut() {
                for j in 0..width {
                    grad[row * width + j] = ((z[j] - log_sum).exp() - target(j)) / batch as f32;
                }
            }
        }
        (loss, errors)
    }
}

/// `n` points on each of two noisy rings, of radius 0.5 (class 0) and 1 (class 1).
pub fn rings(n: usize, seed: u64) -> Dataset {
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

/// The configuration and data of the example.
pub fn setup(epochs: u32) -> (TrainConfig, Splits) {
    let mut config = TrainConfig::custom("rings")
        .with_optimizer(&OptimizerConfig::named("adam", Convention::Torch).expect("known").with_lr(0.01));
    (config.epochs, config.batch, config.val_size, config.threads) = (epochs, 32, 100, 1);
    let splits = Splits::from_sets(&config, rings(300, 1), rings(100, 2)).expect("valid split");
    (config, splits)
}

/// The network 2-32-32-2 with swish units, on label smoothing 0.1, weights from `seed`.
pub fn network(seed: u64, max_batch: usize) -> Network<f32> {
    let init = Init::GlorotUniform;
    let layers: Vec<Box<dyn Layer<f32>>> = vec![
        Box::new(Dense::new(2, 32, Activation::Identity, init)),
        Box::new(Swish { shape: Shape::flat(32) }),
        Box::new(Dense::new(32, 32, Activation::Identity, init)),
        Box::new(Swish { shape: Shape::flat(32) }),
        Box::new(Dense::new(32, 2, Activation::Identity, init)),
    ];
    Network::from_layers(Shape::flat(2), layers, Objective::CLASSIFY, max_batch, seed, 1)
        .expect("valid layers")
        .with_criterion(LabelSmoothing { alpha: 0.1 })
}

/// Trains for `epochs` epochs into `out`, stopping after `stop_after` updates if given (then
/// resuming from the folder to the end). Returns the trainer at the end.
pub fn train(out: &Path, epochs: u32, stop_after: Option<usize>) -> Result<Trainer, Error> {
    let (config, splits) = setup(epochs);
    let mut trainer = Trainer::with_model(config.clone(), splits.clone(), network(config.seed, 500))?;
    let mut updates = 0;
    trainer.run_with(Some(out), &mut |event| {
        if let Event::Batch { .. } = event {
            updates += 1;
        }
        if stop_after == Some(updates) {
            Control::Stop
        } else {
            Control::Continue
        }
    })?;
    if stop_after.is_some() {
        // A new process would do this: build the model again and continue from the folder.
        trainer = Trainer::resume_with_model(out, config.clone(), splits, network(config.seed, 500))?;
        trainer.run(Some(out), &mut |_| {})?;
    }
    Ok(trainer)
}

#[allow(dead_code)] // when included by the test suite, only the functions above are used
fn main() -> Result<(), Error> {
    let out = Path::new("runs/own-model");
    let mut trainer = train(out, 30, Some(100))?;
    let test_error = trainer.metrics().last().map_or(f64::NAN, |m| m.test_error);
    println!("test error {:.1}% after a stop and a resume; saved in {}", 100.0 * test_error, out.display());
    let scores = trainer.predict(&[0.0, 0.5, 0.0, 1.0])?;
    println!("scores of (0, 0.5): {:?}; of (0, 1): {:?}", &scores[..2], &scores[2..]);
    Ok(())
}

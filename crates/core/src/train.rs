//! The training loop: minibatch SGD-style training of a [`Model`] with any optimizer, schedule
//! and clipping; evaluation every epoch on train (running averages), validation and test;
//! early stopping on validation error; checkpoints after every epoch; exact resumption.
//!
//! The trainer reports through [`Event`]s and never prints.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use descent_optim::parallel::all_finite;
use descent_optim::{Optimizer, ParamGroup, Schedule};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, Progress, CHECKPOINT_FILE};
use crate::config::TrainConfig;
use crate::curvature::{self, Scratch};
use crate::data::adding::AddingProblem;
use crate::data::{mnist, Dataset, EpochSampler};
use crate::diagnostics::{
    self, CurvatureRow, DiagnosticsConfig, LayerRow, TimeRow, DIAGNOSTICS_HEADER, LAYER_STATS_HEADER, TIME_GRADS_HEADER,
};
use crate::layers::{LayerSpec, Shape};
use crate::loss::Objective;
use crate::loss::Targets;
use crate::model::Model;
use crate::network::Network;
use crate::problems::{Problem, Source, Task};
use crate::rnn::Rnn;
use crate::Error;

/// Training and test sequences of the adding problem, and the seed they are drawn from.
const ADDING_TRAIN: usize = 10_000;
const ADDING_TEST: usize = 2_000;
const ADDING_SEED: u64 = 0xadd;

/// Examples evaluated per forward pass when measuring loss and error.
const EVAL_BATCH: usize = 500;

/// One row of `metrics.csv`: where the run stood after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1 for the first).
    pub epoch: u32,
    /// Updates made.
    pub step: u64,
    /// Learning rate of the epoch's last update.
    pub lr: f64,
    /// Cumulative training seconds, evaluation excluded.
    pub seconds: f64,
    /// Mean surrogate loss (NLL) over the epoch's minibatches, as they were trained on.
    pub train_loss: f64,
    /// 0-1 error over the epoch's minibatches.
    pub train_error: f64,
    /// Mean NLL on the validation set at the end of the epoch.
    pub val_loss: f64,
    /// 0-1 error on the validation set.
    pub val_error: f64,
    /// Mean NLL on the test set.
    pub test_loss: f64,
    /// 0-1 error on the test set.
    pub test_error: f64,
}

/// The columns of `metrics.csv`, in order.
pub const METRICS_HEADER: &str = "epoch,step,lr,seconds,train_loss,train_error,val_loss,val_error,test_loss,test_error";

impl EpochMetrics {
    /// The row as CSV (numbers print as the shortest decimal that parses back exactly).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{:?},{:.3},{:?},{:?},{:?},{:?},{:?},{:?}",
            self.epoch,
            self.step,
            self.lr,
            self.seconds,
            self.train_loss,
            self.train_error,
            self.val_loss,
            self.val_error,
            self.test_loss,
            self.test_error
        )
    }
}

/// What the trainer reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// An epoch begins.
    EpochStart {
        /// Its number (1-based).
        epoch: u32,
        /// Minibatches in it.
        batches: usize,
        /// Training examples in it.
        examples: usize,
    },
    /// A minibatch was trained on.
    Batch {
        /// Minibatches done in this epoch.
        done: usize,
        /// Examples done in this epoch.
        examples: usize,
        /// Mean training loss so far this epoch.
        running_loss: f64,
    },
    /// An epoch ended and was evaluated (and checkpointed, if the run has a folder).
    EpochEnd(&'a EpochMetrics),
    /// Validation error has not improved for `patience` epochs: training stops and the parameters
    /// of `best_epoch` are restored.
    EarlyStop {
        /// The epoch whose parameters are kept.
        best_epoch: u32,
    },
}

/// The data a run trains and evaluates on.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training part.
    pub train: Dataset,
    /// Validation part (held out of training, used for early stopping and tuning).
    pub val: Dataset,
    /// Test set (never used for any choice).
    pub test: Dataset,
}

impl Splits {
    /// The data of `config`: MNIST (bundled, or the folder `config.data`), or a CSV file
    /// (`config.data` ending in `.csv`, of which a seeded 20% becomes the test set); split and scaled.
    pub fn load(config: &TrainConfig) -> Result<Self, Error> {
        let (train, test) = Self::sources(config)?;
        Self::from_sets(config, train, test)
    }

    /// The training and test sets of `config` before the validation split: MNIST, a CSV file,
    /// or for the adding problem sequences generated from a fixed seed (the same for every run,
    /// so that runs differ only in what their own seed draws).
    pub fn sources(config: &TrainConfig) -> Result<(Dataset, Dataset), Error> {
        let problem = crate::problems::named(&config.problem).ok();
        let csv = config.data.as_deref().filter(|path| path.extension().is_some_and(|e| e == "csv"));
        let (mut train, mut test) = match (problem.map(|p| (p.data, p.task)), csv) {
            (Some((Source::Adding, Task::Adding { length })), _) => {
                let length = config.length.unwrap_or(length);
                let set = |examples, seed| {
                    let data = AddingProblem::generate(examples, length, seed);
                    Dataset::regression(data.inputs, data.targets, 2 * length, 1)
                };
                (set(ADDING_TRAIN, ADDING_SEED)?, set(ADDING_TEST, ADDING_SEED + 1)?)
            }
            (Some((Source::Quadratic, _)), _) => crate::problems::quadratic_deep::data()?,
            (_, Some(path)) => {
                let all = crate::data::csv::read(path)?;
                let test_size = (all.len() / 5).max(1);
                all.split(test_size, config.seed ^ 0x7e57)
                    .map_err(|_| Error::data(path, "too few rows to split off a test set"))?
            }
            (source, None) => {
                let set = match source {
                    Some((Source::FashionMnist, _)) => mnist::ImageSet::FashionMnist,
                    _ => mnist::ImageSet::Mnist,
                };
                let data = mnist::load_set(set, config.data.as_deref())?;
                (data.train, data.test)
            }
        };
        if problem.is_some_and(Problem::is_autoencoder) {
            train.reconstruct = true;
            test.reconstruct = true;
        }
        Ok((train, test))
    }

    /// Splits `train` into train and validation as `config` says, and standardizes if asked.
    pub fn from_sets(config: &TrainConfig, train: Dataset, test: Dataset) -> Result<Self, Error> {
        let (mut train, mut val) = train.split(config.val_size, config.seed).map_err(|_| Error::Invalid {
            field: "val-size",
            message: "must leave at least one training example",
            value: format!("{} of {}", config.val_size, train.len()),
        })?;
        let mut test = test;
        if config.batch > train.len() {
            return Err(Error::Invalid {
                field: "batch",
                message: "must not exceed the training examples",
                value: format!("{} > {}", config.batch, train.len()),
            });
        }
        if config.standardize {
            let (mean, std) = train.feature_moments();
            for set in [&mut train, &mut val, &mut test] {
                set.standardize(&mean, &std);
            }
        }
        Ok(Splits { train, val, test })
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Epochs trained.
    pub epochs: u32,
    /// Updates made.
    pub steps: u64,
    /// Training seconds, evaluation excluded.
    pub seconds: f64,
    /// The epoch whose parameters the run ends with (the best one with early stopping).
    pub final_epoch: u32,
    /// Metrics of that epoch.
    pub final_metrics: Option<EpochMetrics>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Training examples per second.
    pub examples_per_second: f64,
}

/// A training run in progress.
pub struct Trainer {
    config: TrainConfig,
    model: Model,
    optimizer: Optimizer<f32>,
    schedule: Schedule,
    splits: Splits,
    sampler: EpochSampler,
    batch_inputs: Vec<f32>,
    batch_labels: Vec<u32>,
    batch_values: Vec<f32>,
    progress: Progress,
    best_params: Option<Vec<f32>>,
    stop: Option<Arc<AtomicBool>>,
    monitor: Option<Box<Monitor>>,
}

/// The diagnostics of a run that asked for them: a fixed diagnostic batch, buffers sized once,
/// and the rows recorded so far.
struct Monitor {
    config: DiagnosticsConfig,
    examples: Dataset,
    buffers: [Vec<f32>; 2],
    theta: Vec<f32>,
    scratch: Scratch<f32>,
    pending: Option<CurvatureRow>,
    curvature: Vec<CurvatureRow>,
    layers: Vec<LayerRow>,
    time: Vec<TimeRow>,
}

impl Trainer {
    /// A fresh run of `config` on `splits`, with the model its problem builds: dense layers from
    /// the config, the problem's own network, or a recurrent network reading each row as time
    /// steps.
    pub fn new(config: TrainConfig, splits: Splits) -> Result<Self, Error> {
        config.validate()?;
        let problem = crate::problems::named(&config.problem)?;
        let max_batch = config.batch.max(EVAL_BATCH);
        let sequence = match problem.task {
            Task::Sequence { steps } => Some(steps),
            Task::Adding { length } => Some(config.length.unwrap_or(length)),
            _ => None,
        };
        if let Some(steps) = sequence {
            let spec = config.rnn_spec(splits.train.dim, splits.train.classes, steps)?;
            let rnn = Rnn::new(spec, max_batch, config.seed)?.with_threads(config.threads);
            return Self::with_model(config, splits, Model::Recurrent(rnn));
        }
        if let Task::Network { build, .. } = problem.task {
            let network = build(&config, max_batch)?;
            return Self::with_network(config, splits, network);
        }
        let layers = config.layers(splits.train.classes)?;
        Self::with_layers(config, splits, layers)
    }

    /// A fresh run with a model of the caller's own layers on the data's features read as a flat
    /// vector, trained on softmax cross-entropy (the config's `hidden`, `activation` and `init`
    /// are then not used). The last layer's outputs are the class scores.
    pub fn with_layers(config: TrainConfig, splits: Splits, layers: Vec<LayerSpec>) -> Result<Self, Error> {
        config.validate()?;
        let input = Shape::flat(splits.train.dim);
        let max_batch = config.batch.max(EVAL_BATCH);
        let network = Network::new(input, &layers, Objective::CLASSIFY, max_batch, config.seed, config.threads)?;
        Self::with_network(config, splits, network)
    }

    /// A fresh run of a network built by the caller (its input must match the data's features,
    /// its output the classes or target values; its largest batch must hold the config's).
    pub fn with_network(config: TrainConfig, splits: Splits, network: Network<f32>) -> Result<Self, Error> {
        config.validate()?;
        let data = &splits.train;
        let source = config.data.as_ref().map_or("the bundled data".to_string(), |path| path.display().to_string());
        if network.input_width() != data.dim {
            return Err(Error::data(
                source,
                format!(
                    "examples have {} values, but the model takes {} ({})",
                    data.dim,
                    network.input_width(),
                    network.input_shape()
                ),
            ));
        }
        let outputs = if data.reconstruct { data.dim } else { data.classes };
        if network.output_width() != outputs {
            return Err(Error::Invalid {
                field: "layers",
                message: "must output one score per class (or one value per target)",
                value: format!("{} outputs for {outputs}", network.output_width()),
            });
        }
        if network.max_batch() < config.batch {
            return Err(Error::Invalid {
                field: "batch",
                message: "must fit the network's buffers",
                value: format!("{} > {}", config.batch, network.max_batch()),
            });
        }
        Self::with_model(config, splits, Model::Layers(network))
    }

    /// A fresh run of a model built by the caller.
    fn with_model(config: TrainConfig, splits: Splits, model: Model) -> Result<Self, Error> {
        // One group per tensor, so that per-tensor norm clipping clips each tensor.
        let groups = model.tensors().into_iter().map(|(_, range)| ParamGroup::new(range)).collect();
        let optimizer =
            Optimizer::from_config(&config.optimizer_config()?)?.with_clip(config.clip()?)?.with_groups(groups)?;
        let sampler = EpochSampler::new(splits.train.len(), config.batch, false);
        let mut total_steps = sampler.batches() as u64 * config.epochs as u64;
        if let Some(steps) = config.steps {
            total_steps = total_steps.min(steps);
        }
        let diagnostics = config.diagnostics.clone();
        let trainer = Trainer {
            schedule: config.schedule(total_steps)?,
            batch_inputs: vec![0.0; config.batch * splits.train.dim],
            batch_labels: Vec::with_capacity(config.batch),
            batch_values: Vec::with_capacity(config.batch * splits.train.classes),
            progress: Progress {
                epoch: 0,
                step: 0,
                seconds: 0.0,
                best_val_error: f64::INFINITY,
                best_epoch: 0,
                bad_epochs: 0,
                optimizer_scalars: Vec::new(),
                metrics: Vec::new(),
            },
            best_params: None,
            stop: None,
            monitor: None,
            config,
            model,
            optimizer,
            splits,
            sampler,
        };
        match diagnostics {
            Some(diagnostics) => trainer.with_diagnostics(diagnostics),
            None => Ok(trainer),
        }
    }

    /// The run saved in `dir`, ready to continue to `epochs` total epochs (its own total if `None`).
    pub fn resume(dir: &Path, epochs: Option<u32>) -> Result<Self, Error> {
        if !dir.is_dir() {
            return Err(Error::run(dir, "no such run folder"));
        }
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() || !dir.join(CHECKPOINT_FILE).is_file() {
            return Err(Error::run(dir, format!("not a descent run (it needs {CONFIG_FILE} and {CHECKPOINT_FILE})")));
        }
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| Error::run(&config_path, format!("cannot read: {e}")))?;
        let mut config: TrainConfig =
            toml::from_str(&text).map_err(|e| Error::run(&config_path, format!("damaged: {}", e.message())))?;
        if let Some(epochs) = epochs {
            config.epochs = epochs;
        }
        let splits = Splits::load(&config)?;
        Self::resume_with(dir, config, splits)
    }

    /// The run saved in `dir` with `config` and `splits` given by the caller (the library form of
    /// [`resume`](Self::resume), for data that is not in a file).
    pub fn resume_with(dir: &Path, config: TrainConfig, splits: Splits) -> Result<Self, Error> {
        let checkpoint = Checkpoint::load(dir)?;
        let mut trainer = Trainer::new(config, splits)?;
        trainer.restore(&checkpoint).map_err(|message| Error::run(dir.join(CHECKPOINT_FILE), message))?;
        Ok(trainer)
    }

    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), String> {
        let params = checkpoint.tensor("params").ok_or("has no 'params' tensor")?;
        if params.len() != self.model.params().len() {
            return Err(format!(
                "holds {} parameters, the model of config.toml has {}",
                params.len(),
                self.model.params().len()
            ));
        }
        self.model.params_mut().copy_from_slice(params);
        let buffers: Vec<(&str, &[f32])> = checkpoint
            .tensors
            .iter()
            .filter_map(|(name, values)| name.strip_prefix("optimizer.").map(|n| (n, &values[..])))
            .collect();
        let scalars: Vec<(&str, f64)> =
            checkpoint.progress.optimizer_scalars.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        self.optimizer.load_state(params.len(), &buffers, &scalars).map_err(|e| e.to_string())?;
        self.best_params = checkpoint.tensor("best_params").map(<[f32]>::to_vec);
        self.progress = checkpoint.progress.clone();
        Ok(())
    }

    /// Makes the run stop, between two updates, once `flag` is set: [`run`](Self::run) then
    /// returns [`Error::Interrupted`] and the run folder keeps its last epoch's checkpoint, from
    /// which [`resume`](Self::resume) continues exactly.
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Turns on the monitors of [`diagnostics`]: before every `config.every`-th update, the
    /// curvature row (and per-layer statistics if asked), written to `diagnostics.csv` (and
    /// `layer_stats.csv`) in the run folder. The diagnostic batch is a seeded sample of the
    /// training part, the same at every diagnosed step. Equivalent to setting
    /// [`TrainConfig::diagnostics`] before [`new`](Self::new).
    pub fn with_diagnostics(mut self, config: DiagnosticsConfig) -> Result<Self, Error> {
        config.validate()?;
        let train = &self.splits.train;
        let examples = config.examples.min(train.len()).min(self.model.max_batch());
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.config.seed ^ 0xd1a6_0057);
        order.shuffle(&mut rng);
        order.truncate(examples);
        let chosen = train.subset(&order);
        let dim = self.model.params().len();
        // The settings travel in the config (and so in config.toml), so that a resumed run
        // keeps diagnosing.
        self.config.diagnostics = Some(config.clone());
        self.monitor = Some(Box::new(Monitor {
            config,
            examples: chosen,
            buffers: [vec![0.0; dim], vec![0.0; dim]],
            theta: vec![0.0; dim],
            scratch: Scratch::new(dim),
            pending: None,
            curvature: Vec::new(),
            layers: Vec::new(),
            time: Vec::new(),
        }));
        Ok(self)
    }

    /// Curvature rows recorded so far (empty without diagnostics).
    pub fn curvature_rows(&self) -> &[CurvatureRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.curvature)
    }

    /// Per-layer rows recorded so far (empty without `layer_stats`).
    pub fn layer_rows(&self) -> &[LayerRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.layers)
    }

    /// Gradient norms across time and ρ(W) recorded so far (recurrent models only).
    pub fn time_rows(&self) -> &[TimeRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.time)
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The model being trained.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Metrics of the epochs completed so far.
    pub fn metrics(&self) -> &[EpochMetrics] {
        &self.progress.metrics
    }

    /// Trains to the configured number of epochs, reporting to `observe`; with `out`, writes the
    /// run folder (config, metrics, checkpoint, summary) after every epoch.
    pub fn run(&mut self, out: Option<&Path>, observe: &mut (dyn FnMut(Event<'_>) + Send)) -> Result<Summary, Error> {
        if let Some(dir) = out {
            std::fs::create_dir_all(dir).map_err(|e| Error::run(dir, format!("cannot create: {e}")))?;
            let text = toml::to_string(&self.config).map_err(|e| Error::run(dir, e.to_string()))?;
            crate::checkpoint::write_atomically(&dir.join(CONFIG_FILE), text.as_bytes())?;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .build()
            .map_err(|e| Error::run("threads", e.to_string()))?;
        if let (Some(dir), Some(monitor)) = (out, self.monitor.as_mut()) {
            monitor.load_earlier(dir, self.progress.step)?;
        }
        let mut stopped_early = false;
        while self.progress.epoch < self.config.epochs && !stopped_early && !self.out_of_steps() {
            let metrics = pool.install(|| self.train_epoch(observe))?;
            stopped_early = self.update_early_stopping(&metrics);
            self.progress.metrics.push(metrics);
            if let Some(dir) = out {
                self.save(dir)?;
            }
            observe(Event::EpochEnd(self.progress.metrics.last().expect("just pushed")));
        }
        if stopped_early || self.config.early_stop.is_some() {
            if let Some(best) = &self.best_params {
                self.model.params_mut().copy_from_slice(best);
            }
        }
        if stopped_early {
            observe(Event::EarlyStop { best_epoch: self.progress.best_epoch });
        }
        let final_epoch = if self.config.early_stop.is_some() && self.best_params.is_some() {
            self.progress.best_epoch
        } else {
            self.progress.epoch
        };
        let examples = self.progress.step as f64 * self.config.batch as f64;
        let summary = Summary {
            epochs: self.progress.epoch,
            steps: self.progress.step,
            seconds: self.progress.seconds,
            final_epoch,
            final_metrics: self.progress.metrics.iter().find(|m| m.epoch == final_epoch).cloned(),
            stopped_early,
            examples_per_second: if self.progress.seconds > 0.0 { examples / self.progress.seconds } else { 0.0 },
        };
        if let Some(dir) = out {
            let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::run(dir, e.to_string()))?;
            crate::checkpoint::write_atomically(&dir.join(SUMMARY_FILE), json.as_bytes())?;
        }
        Ok(summary)
    }

    /// One pass over the training set in a fresh random order, then evaluation.
    fn train_epoch(&mut self, observe: &mut (dyn FnMut(Event<'_>) + Send)) -> Result<EpochMetrics, Error> {
        let epoch = self.progress.epoch + 1;
        self.sampler.shuffle(self.config.seed, epoch);
        let batches = self.sampler.batches();
        observe(Event::EpochStart { epoch, batches, examples: self.splits.train.len() });
        let (mut loss_sum, mut error_sum, mut seen) = (0.0, 0.0, 0usize);
        let mut lr = self.schedule.lr(self.progress.step);
        let started = Instant::now();
        for index in 0..batches {
            if self.out_of_steps() {
                break;
            }
            if self.stop.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                return Err(Error::Interrupted { step: self.progress.step, epoch });
            }
            let (batch_loss, batch_error, size) = self.train_batch(index, epoch)?;
            lr = self.schedule.lr(self.progress.step - 1);
            loss_sum += batch_loss;
            error_sum += batch_error;
            seen += size;
            observe(Event::Batch { done: index + 1, examples: seen, running_loss: loss_sum / seen as f64 });
        }
        self.progress.seconds += started.elapsed().as_secs_f64();
        let (val_loss, val_error) = evaluate(&mut self.model, &self.splits.val);
        let (test_loss, test_error) = evaluate(&mut self.model, &self.splits.test);
        self.progress.epoch = epoch;
        self.progress.optimizer_scalars =
            self.optimizer.state_scalars().into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        Ok(EpochMetrics {
            epoch,
            step: self.progress.step,
            lr,
            seconds: self.progress.seconds,
            train_loss: loss_sum / seen as f64,
            train_error: error_sum / seen as f64,
            val_loss,
            val_error,
            test_loss,
            test_error,
        })
    }

    /// One update on batch `index` of the current permutation: gather, forward, loss, backward,
    /// check, optimizer step. Returns (Σ loss, Σ error, batch size).
    fn train_batch(&mut self, index: usize, epoch: u32) -> Result<(f64, f64, usize), Error> {
        let dim = self.splits.train.dim;
        let indices = self.sampler.batch(index);
        self.batch_labels.clear();
        self.batch_values.clear();
        let regression = self.splits.train.is_regression();
        for (row, &example) in indices.iter().enumerate() {
            self.batch_inputs[row * dim..(row + 1) * dim].copy_from_slice(self.splits.train.row(example as usize));
            self.batch_labels.push(self.splits.train.labels[example as usize]);
            if regression {
                let width = self.splits.train.classes;
                let example = example as usize;
                self.batch_values.extend_from_slice(&self.splits.train.values[example * width..(example + 1) * width]);
            }
        }
        let size = indices.len();
        let lr = self.schedule.lr(self.progress.step);
        let diagnosed = self.monitor.as_ref().is_some_and(|m| m.config.is_due(self.progress.step));
        if diagnosed {
            self.measure_curvature(lr);
        }
        let inputs = &self.batch_inputs[..size * dim];
        let targets = if self.splits.train.reconstruct {
            Targets::Values(inputs)
        } else if regression {
            Targets::Values(&self.batch_values)
        } else {
            Targets::Classes(&self.batch_labels)
        };
        let (batch_loss, batch_error) = self.model.gradients(inputs, targets, size);
        let step = self.progress.step + 1;
        if !batch_loss.is_finite() {
            return Err(Error::NonFinite { what: "loss", step, epoch, layer: String::new() });
        }
        if !all_finite(self.model.grads()) {
            return Err(self.non_finite_gradient(step, epoch));
        }
        if diagnosed {
            if let Some(monitor) = self.monitor.as_mut() {
                monitor.theta.copy_from_slice(self.model.params());
            }
        }
        let (params, grads) = self.model.params_and_grads();
        self.optimizer.step(params, grads, lr)?;
        if diagnosed {
            self.record_step();
        }
        self.progress.step = step;
        Ok((batch_loss, batch_error, size))
    }

    /// One update on batch `index` of the current permutation, exactly as training makes it
    /// (gather, forward, loss, backward, check, optimizer step), on the caller's thread pool.
    /// Returns (Σ loss, Σ error) of the batch. For benchmarks and tests: the epoch's metrics do
    /// not count it.
    pub fn train_on_batch(&mut self, index: usize) -> Result<(f64, f64), Error> {
        let index = index % self.sampler.batches();
        let (loss, error, _) = self.train_batch(index, self.progress.epoch + 1)?;
        Ok((loss, error))
    }

    /// Runs `steps` training updates exactly as training does (data already in memory), cycling
    /// through the first epoch's batches, on the run's thread pool; returns the seconds taken.
    /// For benchmarks: the run's progress and metrics are not meant to be used afterwards.
    pub fn time_steps(&mut self, steps: usize) -> Result<f64, Error> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .build()
            .map_err(|e| Error::run("threads", e.to_string()))?;
        self.sampler.shuffle(self.config.seed, 1);
        let batches = self.sampler.batches();
        pool.install(|| {
            let started = Instant::now();
            for step in 0..steps {
                self.train_batch(step % batches, 1)?;
            }
            Ok(started.elapsed().as_secs_f64())
        })
    }

    /// Whether the config's step budget, if any, is spent.
    fn out_of_steps(&self) -> bool {
        self.config.steps.is_some_and(|steps| self.progress.step >= steps)
    }

    /// The curvature part of a diagnostic row at the current θ (θ is left as it was).
    fn measure_curvature(&mut self, lr: f64) {
        let Some(monitor) = self.monitor.as_mut() else { return };
        let Monitor { config, examples: data, buffers, theta, scratch, pending, .. } = &mut **monitor;
        let model = &mut self.model;
        theta.copy_from_slice(model.params());
        let examples = data.len() as f64;
        let mut gradient = |point: &[f32], out: &mut [f32]| {
            model.params_mut().copy_from_slice(point);
            let (loss, _) = model.gradients(&data.inputs, data.targets(0..data.len()), data.len());
            out.copy_from_slice(model.grads());
            loss / examples
        };
        let row = diagnostics::measure(
            &mut gradient,
            theta,
            lr,
            self.progress.step,
            config,
            self.config.seed,
            buffers,
            scratch,
        );
        model.params_mut().copy_from_slice(theta);
        *pending = Some(row);
    }

    /// After a diagnosed update: the loss change it made, and per-layer statistics (the
    /// minibatch gradient is still in `grads`, θ before the update in the monitor).
    fn record_step(&mut self) {
        let Some(monitor) = self.monitor.as_mut() else { return };
        let examples = monitor.examples.len() as f64;
        if let Some(mut row) = monitor.pending.take() {
            let data = &monitor.examples;
            let (loss, _) = self.model.evaluate(&data.inputs, data.targets(0..data.len()), data.len());
            row.actual_change = loss / examples - row.loss;
            monitor.curvature.push(row);
        }
        if let Some((spectral_radius, norms)) = self.model.time_profile() {
            let step = self.progress.step;
            monitor.time.extend(norms.iter().enumerate().map(|(index, &hidden_grad_norm)| TimeRow {
                step,
                spectral_radius,
                t: index + 1,
                hidden_grad_norm,
            }));
        }
        if monitor.config.layer_stats {
            let model = &self.model;
            for (index, (_, range)) in model.layers().into_iter().enumerate() {
                let before = &monitor.theta[range.clone()];
                let param_norm = curvature::norm(before);
                let change: f64 = model.params()[range.clone()]
                    .iter()
                    .zip(before)
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                monitor.layers.push(LayerRow {
                    step: self.progress.step,
                    layer: index + 1,
                    grad_norm: curvature::norm(&model.grads()[range]),
                    param_norm,
                    update_ratio: if param_norm > 0.0 { change / param_norm } else { f64::NAN },
                });
            }
        }
    }

    /// Multiply-adds ×2 of one training example's forward and backward pass (the first layer needs
    /// no gradient with respect to its input).
    pub fn flops_per_example(&self) -> f64 {
        self.model.flops_per_example()
    }

    /// The error for a gradient that is not finite, naming the first layer where it is not.
    fn non_finite_gradient(&self, step: u64, epoch: u32) -> Error {
        let layer = self
            .model
            .layers()
            .into_iter()
            .enumerate()
            .find(|(_, (_, range))| !all_finite(&self.model.grads()[range.clone()]))
            .map(|(index, (name, _))| format!(", in layer {} ({name})", index + 1))
            .unwrap_or_default();
        Error::NonFinite { what: "gradient", step, epoch, layer }
    }

    /// Records the epoch for early stopping; returns true when patience has run out.
    fn update_early_stopping(&mut self, metrics: &EpochMetrics) -> bool {
        if metrics.val_error < self.progress.best_val_error {
            self.progress.best_val_error = metrics.val_error;
            self.progress.best_epoch = metrics.epoch;
            self.progress.bad_epochs = 0;
            if self.config.early_stop.is_some() {
                match &mut self.best_params {
                    Some(best) => best.copy_from_slice(self.model.params()),
                    None => self.best_params = Some(self.model.params().to_vec()),
                }
            }
            false
        } else {
            self.progress.bad_epochs += 1;
            self.config.early_stop.is_some_and(|patience| self.progress.bad_epochs >= patience)
        }
    }

    /// Writes metrics.csv and the checkpoint into `dir`.
    fn save(&self, dir: &Path) -> Result<(), Error> {
        let csv = diagnostics::to_csv(METRICS_HEADER, self.progress.metrics.iter().map(EpochMetrics::csv_row));
        crate::checkpoint::write_atomically(&dir.join(METRICS_FILE), csv.as_bytes())?;
        if let Some(monitor) = &self.monitor {
            let rows = diagnostics::to_csv(DIAGNOSTICS_HEADER, monitor.curvature.iter().map(CurvatureRow::csv_row));
            crate::checkpoint::write_atomically(&dir.join(DIAGNOSTICS_FILE), rows.as_bytes())?;
            if monitor.config.layer_stats {
                let rows = diagnostics::to_csv(LAYER_STATS_HEADER, monitor.layers.iter().map(LayerRow::csv_row));
                crate::checkpoint::write_atomically(&dir.join(LAYER_STATS_FILE), rows.as_bytes())?;
            }
            if !monitor.time.is_empty() {
                let rows = diagnostics::to_csv(TIME_GRADS_HEADER, monitor.time.iter().map(TimeRow::csv_row));
                crate::checkpoint::write_atomically(&dir.join(TIME_GRADS_FILE), rows.as_bytes())?;
            }
        }
        let mut tensors = vec![("params".to_string(), self.model.params().to_vec())];
        if let Some(best) = &self.best_params {
            tensors.push(("best_params".to_string(), best.clone()));
        }
        tensors.extend(
            self.optimizer.state_buffers().map(|(name, values)| (format!("optimizer.{name}"), values.to_vec())),
        );
        Checkpoint { tensors, progress: self.progress.clone() }.save(dir)
    }
}

/// Mean loss and mean error (the problem's metric) of `model` on `data`.
pub fn evaluate(model: &mut Model, data: &Dataset) -> (f64, f64) {
    let chunk = model.max_batch();
    let (mut loss, mut error) = (0.0, 0.0);
    for start in (0..data.len()).step_by(chunk) {
        let end = (start + chunk).min(data.len());
        let (l, c) =
            model.evaluate(&data.inputs[start * data.dim..end * data.dim], data.targets(start..end), end - start);
        loss += l;
        error += c;
    }
    let n = data.len().max(1) as f64;
    (loss / n, error / n)
}

/// File names inside a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Per-epoch metrics.
pub const METRICS_FILE: &str = "metrics.csv";
/// The run's summary.
pub const SUMMARY_FILE: &str = "summary.json";
/// Curvature rows of a diagnosed run.
pub const DIAGNOSTICS_FILE: &str = "diagnostics.csv";
/// Per-layer rows of a run with layer statistics.
pub const LAYER_STATS_FILE: &str = "layer_stats.csv";
/// Gradient norms across time of a diagnosed recurrent run.
pub const TIME_GRADS_FILE: &str = "time_grads.csv";

impl Monitor {
    /// On resume: the rows an earlier invocation wrote for steps before `step`.
    fn load_earlier(&mut self, dir: &Path, step: u64) -> Result<(), Error> {
        if step == 0 || !self.curvature.is_empty() {
            return Ok(());
        }
        let read = |name: &str| -> Result<Vec<String>, Error> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(text.lines().skip(1).map(str::to_string).collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(Error::run(&path, format!("cannot read: {e}"))),
            }
        };
        for line in read(DIAGNOSTICS_FILE)? {
            let row =
                CurvatureRow::parse(&line).ok_or_else(|| Error::run(dir.join(DIAGNOSTICS_FILE), "damaged row"))?;
            if row.step < step {
                self.curvature.push(row);
            }
        }
        for line in read(TIME_GRADS_FILE)? {
            let row = TimeRow::parse(&line).ok_or_else(|| Error::run(dir.join(TIME_GRADS_FILE), "damaged row"))?;
            if row.step < step {
                self.time.push(row);
            }
        }
        for line in read(LAYER_STATS_FILE)? {
            let row = LayerRow::parse(&line).ok_or_else(|| Error::run(dir.join(LAYER_STATS_FILE), "damaged row"))?;
            if row.step < step {
                self.layers.push(row);
            }
        }
        Ok(())
    }
}

/// True when `dir` already holds a run (so that a new run must not overwrite it).
pub fn holds_a_run(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).exists() || dir.join(CONFIG_FILE).exists()
}

/// The default run folder for a problem.
pub fn default_out(problem: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("train-{problem}"))
}

//! The training loop: minibatch SGD-style training of a [`Model`] with any optimizer, schedule
//! and clipping; evaluation every epoch on train (running averages), validation and test;
//! early stopping on validation error; checkpoints after every epoch; exact resumption.
//!
//! The trainer reports through [`Event`]s and never prints. The loop is here; the data of a
//! run ([`Splits`]), what it reports ([`EpochMetrics`], [`Event`], [`Summary`]), its run folder
//! (files, checkpoints, resume) and its diagnostics each have a module of their own.

mod folder;
mod metrics;
mod monitor;
mod splits;

pub use folder::{
    default_out, holds_a_run, holds_an_unstarted_run, CONFIG_FILE, DIAGNOSTICS_FILE, LAYER_STATS_FILE, METRICS_FILE,
    SUMMARY_FILE, TIME_GRADS_FILE,
};
pub use metrics::{
    metrics_header, AveragedMetrics, Control, EpochMetrics, Event, Summary, AVERAGED_COLUMNS, METRICS_HEADER,
};
pub use splits::Splits;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use descent_optim::parallel::all_finite;
use descent_optim::{Averaging, Optimizer, ParamGroup, Schedule};

use crate::checkpoint::{Fnv1a, PartialEpoch, PlateauState, Progress};
use crate::collective::{Collective, SingleProcess};
use crate::config::{ModelRecord, TrainConfig, Watched};
use crate::data::Targets;
use crate::data::{Dataset, EpochSampler};
use crate::layers::{LayerSpec, Shape};
use crate::loss::Objective;
pub use crate::model::Model;
use crate::network::Network;
use crate::problems::Task;
use crate::rnn::Rnn;
use crate::Error;
use monitor::Monitor;

/// Examples evaluated per forward pass when measuring loss and error.
const EVAL_BATCH: usize = 500;

/// A training run in progress.
///
/// ```
/// use descent::prelude::*;
///
/// // XOR-like data: the class is whether x and y have the same sign.
/// let (mut inputs, mut labels) = (Vec::new(), Vec::new());
/// for i in 0..400 {
///     let (x, y) = ((i % 20) as f32 / 10.0 - 0.95, (i / 20) as f32 / 10.0 - 0.95);
///     inputs.extend([x, y]);
///     labels.push(u32::from(x * y > 0.0));
/// }
/// let data = Dataset::new(inputs, labels, 2, 2)?;
/// let mut config = TrainConfig::custom("xor")
///     .with_optimizer(&OptimizerConfig::named("adam", Convention::Torch)?.with_lr(0.02));
/// (config.epochs, config.batch, config.val_size, config.threads) = (40, 20, 40, 1);
/// let splits = Splits::from_sets(&config, data.clone(), data)?;
/// let layers = vec![
///     LayerSpec::dense(16, Activation::Tanh, Init::GlorotUniform),
///     LayerSpec::dense(2, Activation::Identity, Init::GlorotUniform),
/// ];
/// let mut trainer = Trainer::with_layers(config, splits, layers)?;
/// let summary = trainer.run(None, &mut |_| {})?;
/// assert!(summary.final_metrics.unwrap().test_error < 0.1);
/// let scores = trainer.predict(&[0.5, 0.5, 0.5, -0.5])?;
/// assert!(scores[1] > scores[0] && scores[2] > scores[3]);
/// # Ok::<(), descent::Error>(())
/// ```
pub struct Trainer {
    config: TrainConfig,
    model: Box<dyn Model>,
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
    /// The observer asked to stop at the last update of an epoch.
    stop_after_epoch: bool,
    /// The ranks of a data-parallel job ([`SingleProcess`] for a plain run).
    collective: Arc<dyn Collective>,
    /// Whether a job sums each layer's gradient over ranks while backward computes the layers
    /// before it (else after the whole pass).
    overlap: bool,
    /// The running sum over shards of `config.shards`, and the gathered shards of a job: sized
    /// once, at the start.
    shard_sum: Vec<f32>,
    shard_scratch: Vec<f32>,
    shard_scratch_f64: Vec<f64>,
    monitor: Option<Box<Monitor>>,
    /// The average of the iterates, where the run keeps one.
    average: Option<IterateAverage>,
}

/// The average of the iterates a run keeps ([`TrainConfig::average`]): as long as the
/// parameters, allocated once, updated after every update.
struct IterateAverage {
    averaging: Averaging,
    values: Vec<f32>,
}

impl Trainer {
    /// A fresh run of `config` on `splits`, with the model `config.model` records: the
    /// problem's own (dense layers from the config, the problem's network, or a recurrent network
    /// reading each row as time steps), or the layers a caller gave before.
    pub fn new(config: TrainConfig, splits: Splits) -> Result<Self, Error> {
        config.validate()?;
        match &config.model {
            ModelRecord::Problem => {}
            ModelRecord::Layers { layers } => {
                let network = layer_network(&config, &splits, layers)?;
                return Self::start(config, splits, Box::new(network));
            }
            ModelRecord::Custom { description } => {
                return Err(Error::Invalid {
                    field: "model",
                    message: "is the caller's own: start it with Trainer::with_model (or with_layers), resume it with Trainer::resume_with_model",
                    value: description.clone(),
                })
            }
        }
        let problem = crate::problems::named(&config.problem)?;
        let max_batch = config.batch.max(EVAL_BATCH);
        let sequence = match problem.task {
            Task::Sequence { steps } => Some(steps),
            Task::Adding { length } => Some(config.length.unwrap_or(length)),
            _ => None,
        };
        if let Some(steps) = sequence {
            let spec = config.rnn_spec(splits.train.dim, splits.train.classes, steps)?;
            let (h, d, o) = (spec.hidden as u64, spec.inputs as u64, spec.outputs as u64);
            let params = h.checked_mul(h + d + 1).and_then(|p| p.checked_add(o * (h + 1)));
            let states = (steps as u64 + 1).checked_mul(max_batch as u64).and_then(|s| s.checked_mul(h));
            let bytes = params.and_then(|p| p.checked_mul(5 * 4)).zip(states).map(|(p, s)| p + s * 4);
            crate::files::check_memory(bytes, "hidden", &format!("a recurrent net of {h} units over {steps} steps"))?;
            let rnn = Rnn::new(spec, max_batch, config.seed)?.with_threads(config.threads);
            return Self::start(config, splits, Box::new(rnn));
        }
        if let Task::Network { build, .. } = problem.task {
            let network = build(&config, max_batch)?;
            check_fits(&config, &splits, &network)?;
            return Self::start(config, splits, Box::new(network));
        }
        let layers = config.layers(splits.train.classes)?;
        let widths: Vec<u64> = std::iter::once(splits.train.dim)
            .chain(config.hidden.iter().copied())
            .chain([splits.train.classes])
            .map(|w| w as u64)
            .collect();
        // Parameters, their gradient and up to three optimizer buffers; every layer's outputs.
        let params = widths.windows(2).try_fold(0u64, |sum, pair| sum.checked_add(pair[1].checked_mul(pair[0] + 1)?));
        let outputs = widths.iter().try_fold(0u64, |sum, &w| sum.checked_add(w.checked_mul(3 * max_batch as u64)?));
        let bytes = params.and_then(|p| p.checked_mul(5 * 4)).zip(outputs).and_then(|(p, o)| p.checked_add(o * 4));
        crate::files::check_memory(bytes, "hidden", &format!("a dense network of widths {widths:?}"))?;
        let network = layer_network(&config, &splits, &layers)?;
        Self::start(config, splits, Box::new(network))
    }

    /// A fresh run with a network of the caller's own layers on the data's features read as a
    /// flat vector, trained on softmax cross-entropy (the config's `hidden`, `activation` and
    /// `init` are then not used). The last layer's outputs are the class scores. `config.toml`
    /// records the layers, so that [`resume`](Self::resume) rebuilds them.
    pub fn with_layers(mut config: TrainConfig, splits: Splits, layers: Vec<LayerSpec>) -> Result<Self, Error> {
        config.model = ModelRecord::Layers { layers };
        Self::new(config, splits)
    }

    /// A fresh run of a network built by the caller (its input must match the data's features,
    /// its output the classes or target values; its largest batch must hold the config's).
    /// Resuming it needs the network built again ([`resume_with_model`](Self::resume_with_model)).
    pub fn with_network(config: TrainConfig, splits: Splits, network: Network<f32>) -> Result<Self, Error> {
        Self::with_model(config, splits, network)
    }

    /// A fresh run of any [`Model`], the caller's own type included: its input must take the
    /// data's features, its output one score per class (or one value per target), and its
    /// largest batch the config's. Resuming it needs the model built again
    /// ([`resume_with_model`](Self::resume_with_model)).
    pub fn with_model(mut config: TrainConfig, splits: Splits, model: impl Model + 'static) -> Result<Self, Error> {
        config.validate()?;
        check_fits(&config, &splits, &model)?;
        let layers: Vec<String> = model.layers().into_iter().map(|(name, _)| name).collect();
        let description = format!("{} parameters; {}", model.params().len(), layers.join(", "));
        config.model = ModelRecord::Custom { description };
        Self::start(config, splits, Box::new(model))
    }

    /// A fresh run of `model` (checked to fit the data and batch).
    fn start(config: TrainConfig, splits: Splits, model: Box<dyn Model>) -> Result<Self, Error> {
        // One group per tensor, so that per-tensor norm clipping clips each tensor, with its
        // matrix shape for the rules that need one.
        let groups = model
            .tensors()
            .into_iter()
            .zip(model.tensor_shapes())
            .map(|((_, range), (rows, cols))| ParamGroup::new(range).with_shape(rows, cols))
            .collect();
        let optimizer =
            Optimizer::from_config(&config.optimizer_config()?)?.with_clip(config.clip)?.with_groups(groups)?;
        let sampler = EpochSampler::new(splits.train.len(), config.batch, config.drop_last);
        let mut total_steps = sampler.batches() as u64 * config.epochs as u64;
        if let Some(steps) = config.steps {
            total_steps = total_steps.min(steps);
        }
        let diagnostics = config.diagnostics.clone();
        let average =
            config.average.map(|averaging| IterateAverage { averaging, values: vec![0.0; model.params().len()] });
        let trainer = Trainer {
            schedule: config.schedule(total_steps)?,
            batch_inputs: vec![0.0; config.batch * splits.train.dim],
            batch_labels: Vec::with_capacity(config.batch),
            batch_values: Vec::with_capacity(config.batch * splits.train.classes),
            progress: Progress::start(),
            best_params: None,
            stop: None,
            stop_after_epoch: false,
            collective: Arc::new(SingleProcess),
            overlap: true,
            shard_sum: if config.shards.is_some_and(|shards| shards > 1) {
                vec![0.0; model.grads().len()]
            } else {
                Vec::new()
            },
            shard_scratch: Vec::new(),
            shard_scratch_f64: Vec::new(),
            monitor: None,
            average,
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

    /// Makes the run stop, between two updates, once `flag` is set: [`run`](Self::run) then
    /// returns [`Error::Interrupted`] after writing a checkpoint of the last update (its
    /// epoch's progress included) to the run folder, from which [`resume`](Self::resume)
    /// continues exactly.
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// The run as one rank of a data-parallel job: each global batch is cut into one shard per
    /// rank, the gradient of the batch's mean loss is summed over ranks (in buckets of
    /// [`BUCKET_VALUES`](crate::collective::BUCKET_VALUES)), and every rank makes the same
    /// update; evaluation is shared too. Only rank 0 writes the run folder. The ranks must agree
    /// on the configuration and data (checked here: a rank that differs is refused on every
    /// rank), and the batch must be a multiple of the ranks; every rank starts from rank 0's
    /// parameters. With [`TrainConfig::shards`] equal to the ranks, the sums are added in rank
    /// order, and the job computes the bits of one process run with the same `shards`.
    pub fn with_collective(mut self, collective: Arc<dyn Collective>) -> Result<Self, Error> {
        let ranks = collective.size();
        if ranks > 1 {
            // First the agreement, so that every rank goes on to the same checks below, which
            // then give every rank the same answer.
            let fingerprint = self.fingerprint();
            let all = collective.all_gather_bytes(fingerprint.as_bytes());
            if let Some(rank) = all.iter().position(|other| *other != all[0]) {
                return Err(Error::Invalid {
                    field: "ranks",
                    message: "disagree on the configuration or data: start every rank with the same command",
                    value: format!(
                        "rank {rank} has {}, rank 0 has {}",
                        String::from_utf8_lossy(&all[rank]),
                        String::from_utf8_lossy(&all[0])
                    ),
                });
            }
            self.collective = collective.clone();
            self.refuse_in_a_job()?;
            if !self.config.batch.is_multiple_of(ranks) {
                return Err(Error::Invalid {
                    field: "batch",
                    message: "must be a multiple of the ranks (the global batch is cut into equal shards)",
                    value: format!("{} over {ranks} ranks", self.config.batch),
                });
            }
            if let Some(shards) = self.config.shards.filter(|&shards| shards != ranks) {
                return Err(Error::Invalid {
                    field: "shards",
                    message: "must equal the ranks of the job (rank r sums shard r in order)",
                    value: format!("{shards} shards over {ranks} ranks"),
                });
            }
            if self.config.shards.is_some() {
                let bucket = self.model.grads().len().min(crate::collective::BUCKET_VALUES);
                self.shard_scratch = vec![0.0; bucket * ranks];
                self.shard_scratch_f64 = vec![0.0; 2 * ranks];
            }
            collective.broadcast_f32(self.model.params_mut(), 0);
        }
        self.collective = collective;
        Ok(self)
    }

    /// The diagnostics are for one process (their extra passes are not shared over ranks).
    fn refuse_in_a_job(&self) -> Result<(), Error> {
        let ranks = self.collective.size();
        if ranks > 1 && (self.monitor.is_some() || self.config.diagnostics.is_some()) {
            return Err(Error::Invalid {
                field: "diagnose-every",
                message: "is for one process (diagnose a data-parallel run's folder, or run it alone)",
                value: format!("{ranks} ranks"),
            });
        }
        Ok(())
    }

    /// Checks that every rank of a job ends with the same parameters (the same updates, summed
    /// by MPI to the same bits on every rank): a difference would mean a rank computed something
    /// else, and the run folder (rank 0's) would not be the job's result.
    fn check_ranks_agree(&self) -> Result<(), Error> {
        let mut hash = Fnv1a::new();
        hash.feed_f32s(self.model.params());
        let hash = hash.finish();
        let all = self.collective.all_gather_bytes(&hash.to_le_bytes());
        match all.iter().position(|other| *other != all[0]) {
            None => Ok(()),
            Some(rank) => Err(Error::Run {
                path: format!("rank {rank}"),
                message: "ended with parameters other than rank 0's (the ranks diverged)".into(),
            }),
        }
    }

    /// Sums gradients over ranks only after the whole backward pass instead of streaming each
    /// layer's as it is made: to measure what the overlap hides.
    pub fn without_overlap(mut self) -> Self {
        self.overlap = false;
        self
    }

    /// What the ranks of a job must agree on: the configuration (but threads) and the data's
    /// sizes, as a short text.
    fn fingerprint(&self) -> String {
        let mut config = self.config.clone();
        config.threads = 0;
        let mut config_hash = Fnv1a::new();
        config_hash.feed(toml::to_string(&config).unwrap_or_default().as_bytes());
        // The examples themselves, not only their number: ranks reading different files differ.
        let (train, val, test) = (&self.splits.train, &self.splits.val, &self.splits.test);
        let mut data_hash = Fnv1a::new();
        for set in [train, val, test] {
            data_hash.feed_f32s(&set.inputs);
            data_hash.feed_f32s(&set.values);
            set.labels.iter().for_each(|label| data_hash.feed(&label.to_le_bytes()));
        }
        let (config_hash, data_hash) = (config_hash.finish(), data_hash.finish());
        format!(
            "problem {}, seed {}, config {config_hash:016x}, data {}+{}+{} of {} values ({data_hash:016x}), {} parameters, at update {}",
            config.problem,
            config.seed,
            train.len(),
            val.len(),
            test.len(),
            train.dim,
            self.model.params().len(),
            self.progress.step
        )
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The model being trained.
    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    /// The model being trained, to change (its parameters, say, before a run).
    pub fn model_mut(&mut self) -> &mut dyn Model {
        self.model.as_mut()
    }

    /// The trained model, for predictions after the run, at the point the run evaluates (for
    /// schedule-free AdamW its average x, not the iterate y that [`model`](Self::model) holds).
    pub fn into_model(mut self) -> Box<dyn Model> {
        self.optimizer.swap_evaluation_point(self.model.params_mut());
        self.model
    }

    /// The model's outputs (class scores, or values) for every row of `inputs`, as rows of
    /// [`Model::output_width`] values, at the point the run evaluates.
    pub fn predict(&mut self, inputs: &[f32]) -> Result<Vec<f32>, Error> {
        at_evaluation_point(&mut self.optimizer, self.model.as_mut(), |model| predict(model, inputs))
    }

    /// Mean loss and mean error of the model on `data` (another test set, say), at the point the
    /// run evaluates, as its metrics are.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<(f64, f64), Error> {
        if data.dim != self.model.input_width() {
            return Err(Error::Invalid {
                field: "data",
                message: "must have as many features as the model takes",
                value: format!("{} for {}", data.dim, self.model.input_width()),
            });
        }
        Ok(at_evaluation_point(&mut self.optimizer, self.model.as_mut(), |model| evaluate(model, data)))
    }

    /// The average of the iterates, where the run keeps one ([`TrainConfig::average`]), laid out
    /// as the parameters (before the first update, not yet meaningful).
    pub fn average(&self) -> Option<&[f32]> {
        self.average.as_ref().map(|average| &average.values[..])
    }

    /// Metrics of the epochs completed so far.
    pub fn metrics(&self) -> &[EpochMetrics] {
        &self.progress.metrics
    }

    /// Trains to the configured number of epochs, reporting to `observe`; with `out`, writes the
    /// run folder (config, metrics, checkpoint, summary) after every epoch.
    pub fn run(&mut self, out: Option<&Path>, observe: &mut (dyn FnMut(Event<'_>) + Send)) -> Result<Summary, Error> {
        self.run_with(out, &mut |event| {
            observe(event);
            Control::Continue
        })
    }

    /// [`run`](Self::run) with an observer that can stop the run: after any event, returning
    /// [`Control::Stop`] ends it between two updates with `Ok(summary)`, its folder (if any)
    /// holding a checkpoint of the last update for [`resume`](Self::resume).
    ///
    /// ```no_run
    /// # use descent::prelude::*;
    /// # fn main() -> Result<(), descent::Error> {
    /// let config = TrainConfig::for_problem("mnist-logreg")?;
    /// let splits = Splits::load(&config)?;
    /// let mut trainer = Trainer::new(config, splits)?;
    /// // Stop once the training loss of an epoch falls below 0.3.
    /// let summary = trainer.run_with(None, &mut |event| match event {
    ///     Event::EpochEnd(metrics) if metrics.train_loss < 0.3 => Control::Stop,
    ///     _ => Control::Continue,
    /// })?;
    /// println!("stopped by the observer: {}", summary.stopped_by_observer);
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_with(
        &mut self,
        out: Option<&Path>,
        observe: &mut (dyn FnMut(Event<'_>) -> Control + Send),
    ) -> Result<Summary, Error> {
        // In a data-parallel job rank 0 alone writes the run folder.
        let out = out.filter(|_| self.collective.is_root());
        let mut _lock = None;
        if let Some(dir) = out {
            std::fs::create_dir_all(dir).map_err(|e| Error::run(dir, format!("cannot create: {e}")))?;
            _lock = Some(crate::files::FolderLock::acquire(dir)?);
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
        let mut stopped_by_observer = false;
        while self.progress.epoch < self.config.epochs && !stopped_early && !self.out_of_steps() {
            let metrics = match pool.install(|| self.train_epoch(observe)) {
                Ok(Some(metrics)) => metrics,
                Ok(None) => {
                    // The observer stopped the run inside the epoch: keep its work so far.
                    if let Some(dir) = out {
                        self.save(dir)?;
                    }
                    stopped_by_observer = true;
                    break;
                }
                Err(error @ Error::Interrupted { .. }) => {
                    // Keep the work of the epoch so far: a checkpoint of this very update.
                    if let Some(dir) = out {
                        self.save(dir)?;
                    }
                    return Err(error);
                }
                Err(error) => return Err(error),
            };
            stopped_early = self.update_early_stopping(&metrics);
            self.update_plateau(&metrics)?;
            self.progress.metrics.push(metrics);
            if let Some(dir) = out {
                self.save(dir)?;
            }
            let control = observe(Event::EpochEnd(self.progress.metrics.last().expect("just pushed")));
            let stop = self.collective.any(control == Control::Stop);
            if stop || std::mem::take(&mut self.stop_after_epoch) {
                stopped_by_observer = true;
                break;
            }
        }
        // A run the observer stopped keeps its last parameters, to continue from them. Otherwise
        // the run ends with its result: the best epoch's parameters (or average) with early
        // stopping, else the average of the iterates where it keeps one.
        if !stopped_by_observer && (stopped_early || self.config.early_stop.is_some()) {
            if let Some(best) = &self.best_params {
                self.model.params_mut().copy_from_slice(best);
            }
        } else if let Some(average) = self.average.as_ref().filter(|_| !stopped_by_observer && self.progress.step > 0) {
            self.model.params_mut().copy_from_slice(&average.values);
        }
        if stopped_early {
            observe(Event::EarlyStop { best_epoch: self.progress.best_epoch });
        }
        let restored = !stopped_by_observer && self.config.early_stop.is_some() && self.best_params.is_some();
        let final_epoch = if restored { self.progress.best_epoch } else { self.progress.epoch };
        if self.collective.size() > 1 {
            self.check_ranks_agree()?;
        }
        let examples = self.progress.step as f64 * self.config.batch as f64;
        let summary = Summary {
            epochs: self.progress.epoch,
            steps: self.progress.step,
            seconds: self.progress.seconds,
            final_epoch,
            final_metrics: self.progress.metrics.iter().find(|m| m.epoch == final_epoch).cloned(),
            stopped_early,
            stopped_by_observer,
            examples_per_second: if self.progress.seconds > 0.0 { examples / self.progress.seconds } else { 0.0 },
        };
        if let Some(dir) = out {
            let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::run(dir, e.to_string()))?;
            crate::checkpoint::write_atomically(&dir.join(SUMMARY_FILE), json.as_bytes())?;
        }
        Ok(summary)
    }

    /// One pass over the training set in a fresh random order, then evaluation; `None` when the
    /// observer stopped the run inside the epoch (its progress is then in `progress.partial`).
    fn train_epoch(
        &mut self,
        observe: &mut (dyn FnMut(Event<'_>) -> Control + Send),
    ) -> Result<Option<EpochMetrics>, Error> {
        let epoch = self.progress.epoch + 1;
        self.sampler.shuffle(self.config.seed, epoch);
        let batches = self.sampler.batches();
        let control = observe(Event::EpochStart { epoch, batches, examples: self.splits.train.len() });
        // An epoch interrupted before continues where it stopped, with its running sums.
        let partial = self.progress.partial.take().unwrap_or_default();
        if self.collective.any(control == Control::Stop) {
            // Stopped before the epoch's first update: nothing of it is done yet.
            self.progress.partial = (partial.batches > 0).then_some(partial);
            return Ok(None);
        }
        let (mut loss_sum, mut error_sum, mut seen) = (partial.loss_sum, partial.error_sum, partial.seen);
        // ‖g‖ before clipping at each update, for the clipping telemetry.
        let mut grad_norms = partial.grad_norms;
        grad_norms.reserve(batches);
        let mut lr = self.lr(self.progress.step);
        let started = Instant::now();
        for index in partial.batches..batches {
            if self.out_of_steps() {
                break;
            }
            let interrupted = self.stop.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed));
            // Every rank stops at the same update, or the others would wait for it forever.
            if self.collective.any(interrupted) {
                self.pause(PartialEpoch { batches: index, loss_sum, error_sum, seen, grad_norms }, started);
                return Err(Error::Interrupted { step: self.progress.step, epoch });
            }
            let (batch_loss, batch_error, size) = self.train_batch(index, epoch)?;
            lr = self.lr(self.progress.step - 1);
            grad_norms.extend(self.optimizer.last_grad_norm());
            loss_sum += batch_loss;
            error_sum += batch_error;
            seen += size;
            let event = Event::Batch {
                done: index + 1,
                examples: seen,
                running_loss: loss_sum / seen as f64,
                lr,
                grad_norm: self.optimizer.last_grad_norm(),
                grads: self.model.grads(),
            };
            let stop = observe(event) == Control::Stop;
            if self.collective.any(stop) {
                if index + 1 < batches {
                    self.pause(PartialEpoch { batches: index + 1, loss_sum, error_sum, seen, grad_norms }, started);
                    return Ok(None);
                }
                // At the epoch's last update: evaluate the epoch, then stop.
                self.stop_after_epoch = true;
            }
        }
        self.progress.seconds += started.elapsed().as_secs_f64();
        let (splits, collective, shards) = (&self.splits, self.collective.as_ref(), self.config.shards);
        let ((val_loss, val_error), (test_loss, test_error)) =
            at_evaluation_point(&mut self.optimizer, self.model.as_mut(), |model| {
                (
                    evaluate_in_shards(model, &splits.val, collective, shards),
                    evaluate_in_shards(model, &splits.test, collective, shards),
                )
            });
        let averaged = self.evaluate_average();
        self.progress.epoch = epoch;
        self.progress.optimizer_scalars =
            self.optimizer.state_scalars().into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        let (grad_norm_median, clipped_fraction) = metrics::clipping_telemetry(&grad_norms, self.config.clip);
        Ok(Some(EpochMetrics {
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
            grad_norm_median,
            clipped_fraction,
            averaged,
        }))
    }

    /// Validation and test figures of the average of the iterates, where the run keeps one:
    /// the average is exchanged with the parameters for the evaluation, and back (exactly).
    fn evaluate_average(&mut self) -> Option<AveragedMetrics> {
        let average = self.average.as_mut()?;
        if self.progress.step == 0 {
            average.values.copy_from_slice(self.model.params()); // no iterate yet: θ₀ itself
        }
        let (splits, collective) = (&self.splits, self.collective.as_ref());
        self.model.params_mut().swap_with_slice(&mut average.values);
        let (val_loss, val_error) = evaluate_shared(self.model.as_mut(), &splits.val, collective);
        let (test_loss, test_error) = evaluate_shared(self.model.as_mut(), &splits.test, collective);
        self.model.params_mut().swap_with_slice(&mut average.values);
        Some(AveragedMetrics { val_loss, val_error, test_loss, test_error })
    }

    /// Records an epoch left between two updates, for a checkpoint to continue it exactly.
    fn pause(&mut self, partial: PartialEpoch, started: Instant) {
        self.progress.seconds += started.elapsed().as_secs_f64();
        self.progress.partial = Some(partial);
        self.progress.optimizer_scalars =
            self.optimizer.state_scalars().into_iter().map(|(n, v)| (n.to_string(), v)).collect();
    }

    /// The gradient of the batch's mean loss over the ranks of a job, summed by MPI's all-reduce
    /// (fast; the order of the sum is MPI's): this rank's gradient of the mean over its `rows`
    /// of the batch's `size`, weighted by its share. Returns the batch's (Σ loss, Σ error).
    fn all_reduced_gradients(&mut self, size: usize, rows: usize) -> (f64, f64) {
        let (weight, collective) = (rows as f32 / size as f32, self.collective.as_ref());
        let sum = |part: &mut [f32]| {
            part.iter_mut().for_each(|g| *g *= weight);
            part.chunks_mut(crate::collective::BUCKET_VALUES).for_each(|b| collective.all_reduce_sum_f32(b));
        };
        let (inputs, targets) =
            batch_rows(&self.batch_inputs, &self.batch_labels, &self.batch_values, &self.splits.train, 0..rows);
        let (loss, error) = if rows == 0 {
            // A rank with no rows (an epoch's short last batch) still takes part in every
            // sum, with zeros, in the parts and order the others stream them.
            let parts = if self.overlap {
                self.model.streamed_parts()
            } else {
                std::iter::once(0..self.model.grads().len()).collect()
            };
            let grads = self.model.grads_mut();
            grads.fill(0.0);
            parts.into_iter().for_each(|part| sum(&mut grads[part]));
            (0.0, 0.0)
        } else if self.overlap {
            self.model.gradients_streamed(inputs, targets, rows, &sum)
        } else {
            let result = self.model.gradients(inputs, targets, rows);
            sum(self.model.grads_mut());
            result
        };
        let mut sums = [loss, error];
        self.collective.all_reduce_sum_f64(&mut sums);
        (sums[0], sums[1])
    }

    /// The gradient of the batch's mean loss as the sum, in shard order, of each shard's
    /// gradient of its mean weighted by its share of the batch (`config.shards` equal shards).
    /// On one process it computes every shard; in a job of as many ranks, rank r computes
    /// shard r (its `rows`) and the ranks add theirs in rank order: the same operations on the
    /// same values, so the same bits. Returns the batch's (Σ loss, Σ error).
    fn sharded_gradients(&mut self, size: usize, rows: usize) -> (f64, f64) {
        let shards = self.config.shards.unwrap_or(1);
        let ranks = self.collective.size();
        let mut sums = [0.0f64; 2];
        // One process computes every shard; a rank its own, which it holds as rows 0..rows.
        for index in 0..if ranks == 1 { shards } else { 1 } {
            let range = if ranks == 1 { crate::collective::shard(size, index, shards) } else { 0..rows };
            let rows = range.len();
            let weight = rows as f32 / size as f32;
            let (loss, error) = if rows == 0 {
                self.model.grads_mut().fill(0.0);
                (0.0, 0.0)
            } else {
                let (inputs, targets) =
                    batch_rows(&self.batch_inputs, &self.batch_labels, &self.batch_values, &self.splits.train, range);
                self.model.gradients(inputs, targets, rows)
            };
            let grads = self.model.grads_mut();
            grads.iter_mut().for_each(|g| *g *= weight);
            // The operations of `add_in_order` over ranks: the first shard copied, each next one
            // added (a rank's one shard stays where it is, in the gradient buffer).
            if index == 0 {
                if ranks == 1 {
                    self.shard_sum.copy_from_slice(grads);
                }
                sums = [loss, error];
            } else {
                self.shard_sum.iter_mut().zip(grads.iter()).for_each(|(sum, &g)| *sum += g);
                sums[0] += loss;
                sums[1] += error;
            }
        }
        let grads = self.model.grads_mut();
        if ranks == 1 {
            grads.copy_from_slice(&self.shard_sum);
        } else {
            let collective = self.collective.as_ref();
            for bucket in grads.chunks_mut(crate::collective::BUCKET_VALUES) {
                collective.ordered_sum_f32(bucket, &mut self.shard_scratch[..bucket.len() * ranks]);
            }
            collective.ordered_sum_f64(&mut sums, &mut self.shard_scratch_f64);
        }
        (sums[0], sums[1])
    }

    /// One update on batch `index` of the current permutation: gather, forward, loss, backward,
    /// check, optimizer step. Returns (Σ loss, Σ error, batch size).
    fn train_batch(&mut self, index: usize, epoch: u32) -> Result<(f64, f64, usize), Error> {
        let dim = self.splits.train.dim;
        let batch = self.sampler.batch(index);
        let size = batch.len();
        // In a data-parallel job each rank takes its shard of the global batch.
        let (rank, ranks) = (self.collective.rank(), self.collective.size());
        let indices = &batch[crate::collective::shard(size, rank, ranks)];
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
        let rows = indices.len();
        let lr = self.lr(self.progress.step);
        let diagnosed = self.monitor.as_ref().is_some_and(|m| m.config.is_due(self.progress.step));
        if diagnosed {
            self.measure_curvature(lr);
        }
        let (batch_loss, batch_error) = if self.config.shards.is_some_and(|shards| shards > 1) {
            self.sharded_gradients(size, rows)
        } else if ranks == 1 {
            let (inputs, targets) =
                batch_rows(&self.batch_inputs, &self.batch_labels, &self.batch_values, &self.splits.train, 0..rows);
            self.model.gradients(inputs, targets, rows)
        } else {
            self.all_reduced_gradients(size, rows)
        };
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
        if let Some(average) = self.average.as_mut() {
            average.averaging.update(&mut average.values, self.model.params(), step);
        }
        if diagnosed {
            self.record_step(size);
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

    /// The rate of update `step` (0 for the first): the schedule's, times reduce-on-plateau's
    /// multiplier where the run uses it.
    fn lr(&self, step: u64) -> f64 {
        self.schedule.lr(step) * self.progress.plateau.map_or(1.0, |p| p.scale)
    }

    /// Records the epoch's validation loss with reduce-on-plateau, if the run uses it.
    fn update_plateau(&mut self, metrics: &EpochMetrics) -> Result<(), Error> {
        let Some(plateau) = self.config.plateau else { return Ok(()) };
        let mut controller = plateau.controller()?;
        if let Some(state) = self.progress.plateau {
            (controller.scale, controller.best, controller.bad_evaluations) =
                (state.scale, state.best, state.bad_epochs);
        }
        let scale = controller.observe(metrics.val_loss);
        self.progress.plateau =
            Some(PlateauState { scale, best: controller.best, bad_epochs: controller.bad_evaluations });
        Ok(())
    }

    /// Whether the config's step budget, if any, is spent.
    fn out_of_steps(&self) -> bool {
        self.config.steps.is_some_and(|steps| self.progress.step >= steps)
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
        // Where the run averages, the average is its result, and early stopping watches it.
        let (val_error, val_loss) =
            metrics.averaged.map_or((metrics.val_error, metrics.val_loss), |a| (a.val_error, a.val_loss));
        let watched = match self.config.early_stop_on {
            Watched::ValError => val_error,
            Watched::ValLoss => val_loss,
        };
        if watched < self.progress.best_val_error {
            self.progress.best_val_error = watched;
            self.progress.best_epoch = metrics.epoch;
            self.progress.bad_epochs = 0;
            if self.config.early_stop.is_some() {
                let best = &mut self.best_params;
                let mut keep = |values: &[f32]| match best {
                    Some(best) => best.copy_from_slice(values),
                    None => *best = Some(values.to_vec()),
                };
                match &self.average {
                    Some(average) => keep(&average.values),
                    None => at_evaluation_point(&mut self.optimizer, self.model.as_mut(), |model| keep(model.params())),
                }
            }
            false
        } else {
            self.progress.bad_epochs += 1;
            self.config.early_stop.is_some_and(|patience| self.progress.bad_epochs >= patience)
        }
    }
}

/// Runs `body` with the model's parameters at the point the optimizer wants evaluated
/// (schedule-free AdamW's average x; the parameters themselves for every other rule), and puts
/// the training point back exactly afterwards.
fn at_evaluation_point<R>(
    optimizer: &mut Optimizer<f32>,
    model: &mut dyn Model,
    body: impl FnOnce(&mut dyn Model) -> R,
) -> R {
    optimizer.swap_evaluation_point(model.params_mut());
    let result = body(model);
    optimizer.swap_evaluation_point(model.params_mut());
    result
}

/// Rows `range` of the gathered batch (`inputs`, with its `labels` or target `values`) as a
/// model's inputs and targets: the inputs themselves for a reconstruction problem.
fn batch_rows<'a>(
    inputs: &'a [f32],
    labels: &'a [u32],
    values: &'a [f32],
    train: &Dataset,
    range: std::ops::Range<usize>,
) -> (&'a [f32], Targets<'a, f32>) {
    let inputs = &inputs[range.start * train.dim..range.end * train.dim];
    let targets = if train.reconstruct {
        Targets::Values(inputs)
    } else if train.is_regression() {
        Targets::Values(&values[range.start * train.classes..range.end * train.classes])
    } else {
        Targets::Classes(&labels[range])
    };
    (inputs, targets)
}

/// Mean loss and mean error (the problem's metric) of `model` on `data`.
pub fn evaluate(model: &mut dyn Model, data: &Dataset) -> (f64, f64) {
    evaluate_shared(model, data, &SingleProcess)
}

/// [`evaluate`] with the rows shared among the ranks of `collective`, each evaluating its shard.
pub fn evaluate_shared(model: &mut dyn Model, data: &Dataset, collective: &dyn Collective) -> (f64, f64) {
    evaluate_in_shards(model, data, collective, None)
}

/// [`evaluate_shared`], and with `shards` the sums of that many shards added in shard order
/// (see [`TrainConfig::shards`]): one process evaluates every shard, a job of as many ranks one
/// shard a rank, and the two give the same bits.
fn evaluate_in_shards(
    model: &mut dyn Model,
    data: &Dataset,
    collective: &dyn Collective,
    shards: Option<usize>,
) -> (f64, f64) {
    let chunk = model.max_batch();
    let mut sum_over = |rows: std::ops::Range<usize>| {
        let mut sums = [0.0, 0.0];
        for start in rows.clone().step_by(chunk) {
            let end = (start + chunk).min(rows.end);
            let (l, c) =
                model.evaluate(&data.inputs[start * data.dim..end * data.dim], data.targets(start..end), end - start);
            sums[0] += l;
            sums[1] += c;
        }
        sums
    };
    let (rank, ranks) = (collective.rank(), collective.size());
    let sums = match shards.filter(|&shards| shards > 1) {
        None => {
            let mut sums = sum_over(crate::collective::shard(data.len(), rank, ranks));
            collective.all_reduce_sum_f64(&mut sums);
            sums
        }
        Some(shards) if ranks == 1 => {
            let parts: Vec<[f64; 2]> =
                (0..shards).map(|index| sum_over(crate::collective::shard(data.len(), index, shards))).collect();
            let mut sums = [0.0, 0.0];
            crate::collective::add_in_order(parts.iter().map(|part| &part[..]), &mut sums);
            sums
        }
        Some(_) => {
            let mut sums = sum_over(crate::collective::shard(data.len(), rank, ranks));
            collective.ordered_sum_f64(&mut sums, &mut vec![0.0; 2 * ranks]);
            sums
        }
    };
    let n = data.len().max(1) as f64;
    (sums[0] / n, sums[1] / n)
}

/// The outputs of `model` for every row of `inputs`, in chunks of its largest batch.
pub fn predict(model: &mut dyn Model, inputs: &[f32]) -> Result<Vec<f32>, Error> {
    let (dim, width) = (model.input_width(), model.output_width());
    if dim == 0 || !inputs.len().is_multiple_of(dim) {
        return Err(Error::Invalid {
            field: "inputs",
            message: "must be whole rows of the model's input width",
            value: format!("{} values for rows of {dim}", inputs.len()),
        });
    }
    let rows = inputs.len() / dim;
    let mut outputs = Vec::with_capacity(rows * width);
    for start in (0..rows).step_by(model.max_batch()) {
        let end = (start + model.max_batch()).min(rows);
        outputs.extend_from_slice(model.predict(&inputs[start * dim..end * dim], end - start));
    }
    Ok(outputs)
}

/// A network of `layers` on the data's features as a flat vector, classifying.
fn layer_network(config: &TrainConfig, splits: &Splits, layers: &[LayerSpec]) -> Result<Network<f32>, Error> {
    let input = Shape::flat(splits.train.dim);
    let max_batch = config.batch.max(EVAL_BATCH);
    let network = Network::new(input, layers, Objective::CLASSIFY, max_batch, config.seed, config.threads)?;
    check_fits(config, splits, &network)?;
    Ok(network)
}

/// Checks that `model` takes the data's features, gives its outputs, and holds the batch.
fn check_fits(config: &TrainConfig, splits: &Splits, model: &dyn Model) -> Result<(), Error> {
    let data = &splits.train;
    let source = config.data.as_ref().map_or("the bundled data".to_string(), |path| path.display().to_string());
    if model.input_width() != data.dim {
        return Err(Error::data(
            source,
            match model.input_shape() {
                shape if shape == Shape::flat(shape.len()) => {
                    format!("examples have {} values, but the model takes {}", data.dim, model.input_width())
                }
                shape => format!("examples have {} values, but the model takes {} ({shape})", data.dim, shape.len()),
            },
        ));
    }
    let outputs = if data.reconstruct { data.dim } else { data.classes };
    if model.output_width() != outputs {
        return Err(Error::Invalid {
            field: "layers",
            message: "must output one score per class (or one value per target)",
            value: format!("{} outputs for {outputs}", model.output_width()),
        });
    }
    if model.max_batch() < config.batch {
        return Err(Error::Invalid {
            field: "batch",
            message: "must fit the model's buffers",
            value: format!("{} > {}", config.batch, model.max_batch()),
        });
    }
    Ok(())
}

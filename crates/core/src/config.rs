//! The resolved configuration of a training run: every choice, defaults filled in, so that a run
//! folder's `config.toml` says exactly what ran and `--resume` can rebuild it.

use std::path::PathBuf;

use descent_optim::{
    Averaging, Clip, ConfigError, Convention, Hyperparameter, Init, OptimizerConfig, Overrides, Schedule,
};
use serde::{Deserialize, Serialize};

use crate::diagnostics::DiagnosticsConfig;
use crate::layers::{Activation, LayerSpec};
use crate::problems::{Problem, Task, ALL};
use crate::Error;

/// The problems `train` knows: the registry's classifiers.
pub fn trainable() -> Vec<&'static str> {
    ALL.iter().filter(|p| p.is_classifier()).map(|p| p.name).collect()
}

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// `mnist-mlp` or `mnist-logreg`.
    pub problem: String,
    /// Folder with the full MNIST files; `None` for the bundled subset.
    pub data: Option<PathBuf>,
    /// Hidden layer widths (empty for logistic regression).
    pub hidden: Vec<usize>,
    /// Nonlinearity of the hidden layers.
    pub activation: Activation,
    /// Weight initializer.
    #[serde(with = "crate::text")]
    pub init: Init,
    /// Optimizer name (one of [`descent_optim::OPTIMIZER_NAMES`]); [`with_optimizer`](Self::with_optimizer)
    /// sets it with its hyperparameters from a typed [`OptimizerConfig`].
    pub optimizer: String,
    /// Whose formulas and defaults: the book's or PyTorch's.
    #[serde(with = "crate::text")]
    pub convention: Convention,
    /// Base learning rate ε₀.
    pub lr: f64,
    /// Overrides of the optimizer's hyperparameters (momentum, rho, beta1, beta2, eps).
    pub momentum: Option<f64>,
    /// ρ of RMSProp and AdaDelta.
    pub rho: Option<f64>,
    /// ρ₁ of Adam and NAdam.
    pub beta1: Option<f64>,
    /// ρ₂ of Adam and NAdam.
    pub beta2: Option<f64>,
    /// δ of the adaptive methods.
    pub eps: Option<f64>,
    /// δ_root of the Adam family, inside the square root (Optax's `eps_root`).
    #[serde(default)]
    pub eps_root: Option<f64>,
    /// τ, PyTorch SGD's dampening (torch convention).
    #[serde(default)]
    pub dampening: Option<f64>,
    /// AdaGrad's lr_decay.
    #[serde(default)]
    pub lr_decay: Option<f64>,
    /// AdaGrad's starting value of r.
    #[serde(default)]
    pub initial_accumulator: Option<f64>,
    /// ψ of PyTorch NAdam's momentum schedule.
    #[serde(default)]
    pub momentum_decay: Option<f64>,
    /// RMSProp centered (divides by the variance).
    #[serde(default)]
    pub centered: Option<bool>,
    /// Weight decay as θ ← θ(1 − ελ) for adam, amsgrad, nadam, radam.
    #[serde(default)]
    pub decoupled_weight_decay: Option<bool>,
    /// Ascend instead of descend (PyTorch's maximize).
    #[serde(default)]
    pub maximize: bool,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// Learning-rate schedule, as text (`constant`, `linear`, `warmup:100+cosine`, …): a
    /// decay's length defaults to the rest of the run, which is known only once the data is, so
    /// the schedule is resolved at the start of training. [`with_schedule`](Self::with_schedule)
    /// sets it from a typed [`Schedule`].
    pub schedule: String,
    /// Gradient clipping, if any.
    #[serde(default, with = "crate::text::optional", skip_serializing_if = "Option::is_none")]
    pub clip: Option<Clip>,
    /// Minibatch size m.
    pub batch: usize,
    /// Drop each epoch's last batch when it is shorter than m (PyTorch's `drop_last`), so that
    /// every update averages m examples.
    #[serde(default)]
    pub drop_last: bool,
    /// Total epochs of the run (a resumed run continues to this number).
    pub epochs: u32,
    /// A budget in updates instead: the run stops after this many (in the middle of an epoch if
    /// need be, which is then evaluated as the last).
    #[serde(default)]
    pub steps: Option<u64>,
    /// Examples held out of training for validation.
    pub val_size: usize,
    /// Stop after this many epochs without a better validation error (or loss: `early_stop_on`),
    /// and restore the best.
    pub early_stop: Option<u32>,
    /// What early stopping (and the best epoch) watches on the validation set.
    #[serde(default)]
    pub early_stop_on: Watched,
    /// Sequence length T of the adding problem (its default if absent).
    #[serde(default)]
    pub length: Option<usize>,
    /// Standardize features (zero mean, unit variance, from the training part).
    pub standardize: bool,
    /// The seed of every random draw (initialization, split, minibatches).
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Cut each batch into this many equal shards and add their gradients in shard order: what
    /// `mpirun -n N` with the same `shards = N` computes, rank r taking shard r, so the two runs
    /// agree to the bit. Absent: one piece on one process, MPI's own (fast, unordered) sum
    /// over ranks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<usize>,
    /// An average of the iterates (Polyak's mean or an exponential moving average, chapter
    /// 8.7.3), evaluated beside the parameters every epoch. Where a run keeps one, the average
    /// is the run's result: early stopping watches its validation figure, and the model a run
    /// ends with is the average (the best epoch's, with early stopping), as with Keras'
    /// `use_ema`; the checkpoint keeps both, training continuing from the parameters.
    #[serde(default, with = "crate::text::optional", skip_serializing_if = "Option::is_none")]
    pub average: Option<Averaging>,
    /// Reduce the rate when the validation loss stops improving (PyTorch's `ReduceLROnPlateau`),
    /// on top of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<Plateau>,
    /// The monitors of [`crate::diagnostics`], if the run asked for them.
    #[serde(default)]
    pub diagnostics: Option<DiagnosticsConfig>,
    /// Which model ran: the problem's own, layers given by the caller, or a model of the caller's
    /// own type. What `--resume` rebuilds.
    #[serde(default)]
    pub model: ModelRecord,
}

/// Reduce-on-plateau: after `patience` epochs whose validation loss is not better than the best
/// by a relative 1e-4, the rate is multiplied by `factor` ([`descent_optim::ReduceOnPlateau`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plateau {
    /// The multiplier at each reduction, in (0, 1).
    pub factor: f64,
    /// Epochs without improvement tolerated before a reduction.
    pub patience: u32,
}

impl Plateau {
    /// The controller, checked.
    pub fn controller(&self) -> Result<descent_optim::ReduceOnPlateau, Error> {
        Ok(descent_optim::ReduceOnPlateau::new(self.factor, self.patience)?)
    }
}

impl std::str::FromStr for Plateau {
    type Err = Error;
    /// `FACTOR,PATIENCE`, as `--reduce-on-plateau 0.5,2` writes it.
    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = || Error::Invalid {
            field: "reduce-on-plateau",
            message: "must be FACTOR,PATIENCE with 0 < FACTOR < 1 (e.g. 0.5,2)",
            value: text.to_string(),
        };
        let (factor, patience) = text.split_once(',').ok_or_else(invalid)?;
        let plateau = Plateau {
            factor: factor.trim().parse().map_err(|_| invalid())?,
            patience: patience.trim().parse().map_err(|_| invalid())?,
        };
        plateau.controller().map_err(|_| invalid())?;
        Ok(plateau)
    }
}

/// The validation figure early stopping watches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Watched {
    /// The problem's error (0-1 error for classifiers): what the chapter says we care about.
    #[default]
    ValError,
    /// The surrogate loss, smoother on small validation sets.
    ValLoss,
}

impl std::str::FromStr for Watched {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "val-error" => Ok(Watched::ValError),
            "val-loss" => Ok(Watched::ValLoss),
            _ => Err(Error::Invalid {
                field: "early-stop-on",
                message: "must be val-error or val-loss",
                value: text.into(),
            }),
        }
    }
}

/// The model of a run as `config.toml` records it, so that resuming rebuilds the model that ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ModelRecord {
    /// The problem's own model (from the registry, with `hidden`, `activation` and `init`).
    #[default]
    Problem,
    /// A network of these layers on the data's features read as a flat vector, trained on softmax
    /// cross-entropy ([`Trainer::with_layers`](crate::train::Trainer::with_layers)).
    Layers {
        /// The layers, first to last.
        layers: Vec<LayerSpec>,
    },
    /// A model built by the caller ([`Trainer::with_model`](crate::train::Trainer::with_model),
    /// [`Trainer::with_network`](crate::train::Trainer::with_network)): resuming needs the caller
    /// to build it again ([`Trainer::resume_with_model`](crate::train::Trainer::resume_with_model)).
    Custom {
        /// What it was, for people (its parameter count and layers, where known).
        description: String,
    },
}

impl TrainConfig {
    /// The defaults of a trainable `problem`: Adam at 1e-3, batch 128, 10 epochs, 5,000
    /// validation examples.
    pub fn for_problem(problem: &str) -> Result<Self, Error> {
        let entry = crate::problems::named(problem)?;
        if !entry.is_classifier() {
            return Err(ConfigError::Unknown {
                kind: "problem to train",
                name: problem.to_string(),
                expected: trainable().join(", "),
            }
            .into());
        }
        Ok(Self::defaults(entry))
    }

    /// The defaults of any registry problem (a 2-D function has no layers; only the optimizer
    /// part of its config is used).
    pub fn defaults(problem: &Problem) -> Self {
        let hidden = match problem.task {
            Task::Classify { hidden } => hidden.to_vec(),
            Task::Sequence { .. } => vec![128],
            Task::Adding { .. } => vec![64],
            Task::Network { .. } | Task::Minimize { .. } => Vec::new(),
        };
        // Dense classifiers start as PyTorch's nn.Linear does (the chapter's U(±1/√m)); on full
        // MNIST with Adam it reached 98% test accuracy sooner than Glorot's range over three
        // seeds. A recurrent net's `init` is its recurrent matrix's, where Glorot stays.
        let init = match problem.task {
            Task::Classify { .. } | Task::Network { .. } => Init::UniformFanIn,
            _ => Init::GlorotUniform,
        };
        let activation = match problem.task {
            Task::Network { activation, .. } => activation,
            Task::Sequence { .. } | Task::Adding { .. } => Activation::Tanh,
            Task::Classify { .. } | Task::Minimize { .. } => Activation::Relu,
        };
        TrainConfig {
            problem: problem.name.to_string(),
            data: None,
            hidden,
            activation,
            init,
            optimizer: "adam".into(),
            convention: Convention::Book,
            lr: 1e-3,
            momentum: None,
            rho: None,
            beta1: None,
            beta2: None,
            eps: None,
            eps_root: None,
            dampening: None,
            lr_decay: None,
            initial_accumulator: None,
            momentum_decay: None,
            centered: None,
            decoupled_weight_decay: None,
            maximize: false,
            weight_decay: 0.0,
            schedule: "constant".into(),
            clip: None,
            batch: problem.batch,
            drop_last: false,
            epochs: 10,
            steps: None,
            val_size: problem.val_size,
            early_stop: None,
            early_stop_on: Watched::ValError,
            length: None,
            standardize: false,
            seed: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shards: None,
            average: None,
            plateau: None,
            diagnostics: None,
            model: ModelRecord::Problem,
        }
    }

    /// The defaults for a model and data of the caller's own, under the name `name` (not a
    /// registry problem): Adam at 1e-3, batch 128, 10 epochs, 10% of the training examples held
    /// out is up to the caller (`val_size`, 0 by default here). Give the model to
    /// [`Trainer::with_model`](crate::train::Trainer::with_model) or
    /// [`with_layers`](crate::train::Trainer::with_layers).
    ///
    /// ```
    /// use descent::config::TrainConfig;
    /// use descent::optim::{Clip, OptimizerConfig, Convention, Schedule};
    ///
    /// let mut config = TrainConfig::custom("my-task")
    ///     .with_optimizer(&OptimizerConfig::named("momentum", Convention::Torch)?.with_lr(0.05))
    ///     .with_schedule(&Schedule::linear(0.05, 1_000));
    /// config.clip = Some(Clip::GlobalNorm(1.0));
    /// config.epochs = 3;
    /// assert_eq!((config.lr, config.momentum), (0.05, Some(0.9)));
    /// config.validate()?;
    /// # Ok::<(), descent::Error>(())
    /// ```
    pub fn custom(name: &str) -> Self {
        let mut config = Self::defaults(crate::problems::named("mnist-logreg").expect("mnist-logreg is registered"));
        config.problem = name.to_string();
        config.val_size = 0;
        config.batch = 128;
        config.model = ModelRecord::Custom { description: String::new() };
        config
    }

    /// The optimizer of `optimizer`: its name, convention, rate, weight decay, and every
    /// hyperparameter a config can carry.
    pub fn with_optimizer(mut self, optimizer: &OptimizerConfig) -> Self {
        self.optimizer = optimizer.name.to_string();
        self.convention = optimizer.convention;
        self.lr = optimizer.lr;
        self.weight_decay = optimizer.weight_decay;
        let value = |parameter| optimizer.get(parameter);
        let switch = |parameter| value(parameter).map(|on| on != 0.0);
        self.set_overrides(&Overrides {
            momentum: value(Hyperparameter::Momentum),
            rho: value(Hyperparameter::Rho),
            beta1: value(Hyperparameter::Beta1),
            beta2: value(Hyperparameter::Beta2),
            eps: value(Hyperparameter::Eps),
            eps_root: value(Hyperparameter::EpsRoot),
            dampening: value(Hyperparameter::Dampening),
            lr_decay: value(Hyperparameter::LrDecay),
            initial_accumulator: value(Hyperparameter::InitialAccumulator),
            momentum_decay: value(Hyperparameter::MomentumDecay),
            centered: switch(Hyperparameter::Centered),
            decoupled_weight_decay: switch(Hyperparameter::DecoupledWeightDecay),
        });
        self.maximize = optimizer.maximize;
        self
    }

    /// The schedule `schedule`, with its base rate as the run's rate.
    pub fn with_schedule(mut self, schedule: &Schedule) -> Self {
        self.lr = schedule.base_lr;
        self.schedule = schedule.to_string();
        self
    }

    /// The hyperparameter overrides this config holds.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            momentum: self.momentum,
            rho: self.rho,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            eps_root: self.eps_root,
            dampening: self.dampening,
            lr_decay: self.lr_decay,
            initial_accumulator: self.initial_accumulator,
            momentum_decay: self.momentum_decay,
            centered: self.centered,
            decoupled_weight_decay: self.decoupled_weight_decay,
        }
    }

    /// Replaces every hyperparameter override with those of `overrides`.
    pub fn set_overrides(&mut self, overrides: &Overrides) {
        self.momentum = overrides.momentum;
        self.rho = overrides.rho;
        self.beta1 = overrides.beta1;
        self.beta2 = overrides.beta2;
        self.eps = overrides.eps;
        self.eps_root = overrides.eps_root;
        self.dampening = overrides.dampening;
        self.lr_decay = overrides.lr_decay;
        self.initial_accumulator = overrides.initial_accumulator;
        self.momentum_decay = overrides.momentum_decay;
        self.centered = overrides.centered;
        self.decoupled_weight_decay = overrides.decoupled_weight_decay;
    }

    /// The optimizer this config describes, checked.
    pub fn optimizer_config(&self) -> Result<OptimizerConfig, Error> {
        let mut config = OptimizerConfig::named(&self.optimizer, self.convention)?;
        let overrides = self.overrides();
        let applied = config.apply(&overrides);
        let unused = overrides.pairs().into_iter().zip(applied).find(|((_, value), used)| value.is_some() && !used);
        if let Some(((parameter, _), _)) = unused {
            return Err(Error::Invalid {
                field: "optimizer",
                message: "has no such hyperparameter",
                value: parameter.name().into(),
            });
        }
        config.lr = self.lr;
        config.weight_decay = self.weight_decay;
        config.maximize = self.maximize;
        config.validate()?;
        Ok(config)
    }

    /// The schedule over a run of `total_steps` updates.
    pub fn schedule(&self, total_steps: u64) -> Result<Schedule, Error> {
        Ok(Schedule::parse(&self.schedule, self.lr, total_steps)?.with_convention(self.convention))
    }

    /// The dense layers of a classifier with `classes` classes (its inputs are the data's).
    pub fn layers(&self, classes: usize) -> Result<Vec<LayerSpec>, Error> {
        let (activation, init) = (self.activation, self.init);
        if let Some(zero) = self.hidden.iter().position(|&w| w == 0) {
            return Err(Error::Invalid {
                field: "hidden",
                message: "widths must be at least 1",
                value: format!("layer {}: 0", zero + 1),
            });
        }
        let last = self.hidden.len();
        Ok(self
            .hidden
            .iter()
            .copied()
            .chain([classes])
            .enumerate()
            .map(|(index, units)| {
                LayerSpec::dense(units, if index == last { Activation::Identity } else { activation }, init)
            })
            .collect())
    }

    /// The recurrent network of a sequence problem: rows of `inputs` features cut into `steps`
    /// time steps, the first hidden width as its state, `init` for its recurrent matrix.
    pub fn rnn_spec(&self, inputs: usize, classes: usize, steps: usize) -> Result<crate::rnn::RnnSpec, Error> {
        let hidden = match self.hidden[..] {
            [width] if width > 0 => width,
            _ => {
                return Err(Error::Invalid {
                    field: "hidden",
                    message: "of a recurrent network is one width of at least 1",
                    value: format!("{:?}", self.hidden),
                })
            }
        };
        if steps == 0 || !inputs.is_multiple_of(steps) {
            return Err(Error::Invalid {
                field: "data",
                message: "features must split evenly into the problem's time steps",
                value: format!("{inputs} features, {steps} steps"),
            });
        }
        let recurrent_init = self.init;
        Ok(crate::rnn::RnnSpec { inputs: inputs / steps, hidden, outputs: classes, steps, recurrent_init })
    }

    /// Checks everything that can be checked before loading data.
    pub fn validate(&self) -> Result<(), Error> {
        if self.batch == 0 {
            return Err(Error::Invalid { field: "batch", message: "must be at least 1", value: "0".into() });
        }
        if self.epochs == 0 {
            return Err(Error::Invalid { field: "epochs", message: "must be at least 1", value: "0".into() });
        }
        if self.length.is_some_and(|t| t < 2) {
            return Err(Error::Invalid {
                field: "length",
                message: "must be at least 2",
                value: format!("{}", self.length.unwrap_or(0)),
            });
        }
        if self.steps == Some(0) {
            return Err(Error::Invalid { field: "steps", message: "must be at least 1", value: "0".into() });
        }
        if self.threads == 0 {
            return Err(Error::Invalid { field: "threads", message: "must be at least 1", value: "0".into() });
        }
        if let Some(shards) = self.shards {
            if shards == 0 || !self.batch.is_multiple_of(shards) {
                return Err(Error::Invalid {
                    field: "shards",
                    message: "must divide the batch (each shard takes an equal part of it)",
                    value: format!("{shards} shards of a batch of {}", self.batch),
                });
            }
        }
        if self.early_stop == Some(0) {
            return Err(Error::Invalid {
                field: "early-stop",
                message: "patience must be at least 1",
                value: "0".into(),
            });
        }
        if let Some(diagnostics) = &self.diagnostics {
            diagnostics.validate()?;
        }
        if let Some(plateau) = &self.plateau {
            plateau.controller()?;
        }
        if let Some(average) = &self.average {
            average.validate()?;
            if self.optimizer == "schedule-free-adamw" {
                return Err(Error::Invalid {
                    field: "average",
                    message: "is not for schedule-free-adamw, which evaluates an average of its own",
                    value: average.to_string(),
                });
            }
        }
        self.optimizer_config()?;
        self.schedule(1)?;
        if let Some(clip) = &self.clip {
            clip.validate()?;
        }
        self.layers(2)?;
        Ok(())
    }
}

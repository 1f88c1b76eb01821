//! What a comparison runs: the problem, the optimizer variants with their learning-rate grids,
//! seeds and budget. Written by hand as a TOML file, or built from flags; resolved (every default
//! filled in) into an [`Experiment`] that a report folder keeps as `experiment.toml`.
//!
//! ```toml
//! problem = "mnist-mlp"
//! optimizers = ["sgd", "momentum"]      # variants named after their optimizer
//! lrs = "auto"                          # or a list: [0.1, 0.01]
//! seeds = 3
//! epochs = 5
//!
//! [[variant]]                           # more variants, under names of your choice
//! name = "adam-b2-0.99"
//! optimizer = "adam"
//! beta2 = 0.99
//! lrs = [1e-3, 3e-3]
//! clip = "global-norm:1"
//!
//! [[variant]]                           # a group tuned over a small space on validation
//! name = "momentum"
//! optimizer = "momentum"
//! momentum = [0.5, 0.9]                 # a list: tuned over; a value: fixed
//! schedule = ["constant", "cosine"]
//! clip = ["none", "global-norm:1"]
//! epochs = 10                           # this variant's own budget
//! ```
//!
//! The protocol ([`PROTOCOL`]): every setting of a variant's space (rates × momenta × schedules ×
//! clippings) runs with the tuning seeds 1, …, `tuning_seeds`; the setting with the lowest final
//! validation error, averaged over those seeds, is chosen; the reported numbers come from the
//! seeds after them (`tuning_seeds + 1`, …, `tuning_seeds + seeds`), which chose nothing.

use std::path::{Path, PathBuf};

use descent_optim::{Clip, Convention, OptimizerConfig, Overrides};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::problems::{self, Problem};
use crate::Error;

/// The most seeds a comparison runs: each is one more run of every variant.
pub const MAX_SEEDS: u32 = 1000;

/// The optimizers compared when none are named.
pub const DEFAULT_OPTIMIZERS: [&str; 7] = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adadelta"];

/// The learning rates of `auto`: the optimizer's default times these (a decade either side).
/// Where the best of them lies at an edge, the lab adds the next decade out (up to
/// [`MAX_EXTENSIONS`] times), so a default far from the problem's best rate is still found.
pub const AUTO_FACTORS: [f64; 3] = [0.1, 1.0, 10.0];

/// How many decades an `auto` grid may grow beyond [`AUTO_FACTORS`].
pub const MAX_EXTENSIONS: usize = 2;

/// The tuning protocol of this descent. 1 (report folders of older versions): the rate was chosen
/// on seed 1 and seed 1 was then counted among the reported seeds 1, …, `seeds`. 2: the choice is
/// made on the tuning seeds 1, …, `tuning_seeds` (mean final validation error) and only the seeds
/// after them are reported.
pub const PROTOCOL: u32 = 2;

/// The most settings one variant's tuning space may hold (each is a run per tuning seed).
pub const MAX_SETTINGS: usize = 256;

/// One value, or a list of them to tune over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a value, or a list of values to tune over")]
pub enum OneOrList<T> {
    /// A fixed value.
    One(T),
    /// Values tuned over on validation.
    List(Vec<T>),
}

impl<T: Clone> OneOrList<T> {
    /// The fixed value and the list tuned over (one of the two is empty).
    fn split(&self) -> (Option<T>, Vec<T>) {
        match self {
            OneOrList::One(value) => (Some(value.clone()), Vec::new()),
            OneOrList::List(values) => (None, values.clone()),
        }
    }
}

/// One point of a variant's tuning space: the rate and, where the variant tunes them, the
/// momentum, schedule and clipping (`None` where the variant's fixed value holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Learning rate ε₀.
    pub lr: f64,
    /// Momentum α, where tuned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Schedule, where tuned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Clipping (`none` for none), where tuned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<String>,
}

impl Setting {
    /// The rate alone (a variant that tunes nothing else).
    pub fn rate(lr: f64) -> Setting {
        Setting { lr, momentum: None, schedule: None, clip: None }
    }

    /// The same setting at another rate.
    pub fn at(&self, lr: f64) -> Setting {
        Setting { lr, ..self.clone() }
    }

    /// Whether the two differ at most in the rate.
    pub fn same_but_rate(&self, other: &Setting) -> bool {
        self.momentum == other.momentum && self.schedule == other.schedule && self.clip == other.clip
    }

    /// How people read it: `lr 0.1, momentum 0.9, schedule cosine` (only what is tuned).
    pub fn label(&self, rate: impl Fn(f64) -> String) -> String {
        let mut parts = vec![format!("lr {}", rate(self.lr))];
        parts.extend(self.others());
        parts.join(", ")
    }

    /// What is tuned besides the rate, as `momentum 0.9`, `schedule cosine`, `clip none`.
    pub fn others(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(momentum) = self.momentum {
            parts.push(format!("momentum {momentum}"));
        }
        if let Some(schedule) = &self.schedule {
            parts.push(format!("schedule {schedule}"));
        }
        if let Some(clip) = &self.clip {
            parts.push(format!("clip {clip}"));
        }
        parts
    }

    /// The name of its run folder with `seed`: `lr-0.1-seed-2`, with `-momentum-0.9`,
    /// `-schedule-cosine`, `-clip-global-norm_1` before the seed where tuned (characters other
    /// than letters, digits, `.` and `-` become `_`).
    pub fn folder_name(&self, seed: u64) -> String {
        let safe = |text: &str| -> String {
            text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
        };
        let mut name = format!("lr-{:?}", self.lr);
        if let Some(momentum) = self.momentum {
            name.push_str(&format!("-momentum-{momentum:?}"));
        }
        if let Some(schedule) = &self.schedule {
            name.push_str(&format!("-schedule-{}", safe(schedule)));
        }
        if let Some(clip) = &self.clip {
            name.push_str(&format!("-clip-{}", safe(clip)));
        }
        name.push_str(&format!("-seed-{seed}"));
        name
    }
}

/// A learning-rate grid as written: `"auto"` or a list of rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LrGrid {
    /// A list of positive rates.
    List(Vec<f64>),
    /// A keyword: only `"auto"` is accepted.
    Keyword(String),
}

/// One optimizer variant as written in an experiment file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Name in tables and plots (letters, digits, `.`, `_`, `-`); the optimizer's name if absent.
    pub name: Option<String>,
    /// The algorithm (`adam`, `momentum`, …).
    pub optimizer: String,
    /// This variant's own grid (the experiment's if absent).
    pub lrs: Option<LrGrid>,
    /// Momentum α, or a list of them to tune over.
    pub momentum: Option<OneOrList<f64>>,
    /// ρ of RMSProp and AdaDelta.
    pub rho: Option<f64>,
    /// ρ₁ of Adam.
    pub beta1: Option<f64>,
    /// ρ₂ of Adam.
    pub beta2: Option<f64>,
    /// δ of the adaptive methods.
    pub eps: Option<f64>,
    /// δ_root of the Adam family (inside the square root).
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
    pub weight_decay: Option<f64>,
    /// Gradient clipping (`global-norm:1`), or a list to tune over (`none` among them for none).
    pub clip: Option<OneOrList<String>>,
    /// Learning-rate schedule (the experiment's if absent), or a list to tune over.
    pub schedule: Option<OneOrList<String>>,
    /// This variant's budget in epochs (the experiment's if absent).
    pub epochs: Option<u32>,
    /// This variant's minibatch size (the experiment's if absent).
    #[serde(default)]
    pub batch: Option<usize>,
}

/// An experiment file: every field optional; what is absent takes the problem's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Problem name from the registry.
    pub problem: Option<String>,
    /// MNIST folder (the bundled subset if absent).
    pub data: Option<PathBuf>,
    /// Optimizers compared under their own names.
    pub optimizers: Option<Vec<String>>,
    /// Further variants.
    #[serde(default, rename = "variant")]
    pub variants: Vec<VariantSpec>,
    /// The learning-rate grid of every variant without its own.
    pub lrs: Option<LrGrid>,
    /// Seeds the chosen setting is reported over (after the tuning seeds).
    pub seeds: Option<u32>,
    /// Seeds every setting is tuned over (1, …, tuning_seeds; default 1).
    pub tuning_seeds: Option<u32>,
    /// Budget: epochs (updates for a 2-D function).
    pub epochs: Option<u32>,
    /// Minibatch size.
    pub batch: Option<usize>,
    /// Validation examples held out of training.
    pub val_size: Option<usize>,
    /// Test error (f − f* for a function) that counts as reaching the result.
    pub target: Option<f64>,
    /// `book` or `torch`.
    pub convention: Option<String>,
    /// Learning-rate schedule of every variant without its own (a list: tuned over).
    pub schedule: Option<OneOrList<String>>,
    /// Sequence length T of the adding problem.
    pub length: Option<usize>,
    /// Keep each finished run's last checkpoint, so that the report can later grow by epochs
    /// continuing every run (without, growing by epochs runs them again from the start).
    pub keep_checkpoints: Option<bool>,
}

/// One variant, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Name in tables, plots and folders.
    pub name: String,
    /// The algorithm.
    pub optimizer: String,
    /// Learning rates tried first.
    pub lrs: Vec<f64>,
    /// Whether the grid grows by a decade when the best rate lies at its edge (`auto` grids).
    pub extend: bool,
    /// Momentum α override.
    pub momentum: Option<f64>,
    /// ρ override.
    pub rho: Option<f64>,
    /// ρ₁ override.
    pub beta1: Option<f64>,
    /// ρ₂ override.
    pub beta2: Option<f64>,
    /// δ override.
    pub eps: Option<f64>,
    /// δ_root override.
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
    /// Weight decay override.
    pub weight_decay: Option<f64>,
    /// Clipping.
    #[serde(default, with = "crate::text::optional", skip_serializing_if = "Option::is_none")]
    pub clip: Option<Clip>,
    /// Schedule.
    pub schedule: String,
    /// Momenta α tuned over (empty: not tuned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub momenta: Vec<f64>,
    /// Schedules tuned over (empty: not tuned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<String>,
    /// Clippings tuned over, `none` for none (empty: not tuned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clips: Vec<String>,
    /// This variant's budget, where it differs from the experiment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// This variant's minibatch size, where it differs from the experiment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// A budget in updates besides the epochs (`descent sweep-batch --budget updates:N`): a run
    /// stops after this many, inside an epoch if need be (that epoch then counts as its last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<u64>,
}

impl Variant {
    /// Every setting of the tuning space at the rates `lrs`, rate by rate, in the order of the
    /// lists (momenta, then schedules, then clippings).
    pub fn settings_at(&self, lrs: &[f64]) -> Vec<Setting> {
        fn options<T: Clone>(list: &[T]) -> Vec<Option<T>> {
            if list.is_empty() {
                vec![None]
            } else {
                list.iter().cloned().map(Some).collect()
            }
        }
        let mut settings = Vec::new();
        for &lr in lrs {
            for momentum in options(&self.momenta) {
                for schedule in options(&self.schedules) {
                    for clip in options(&self.clips) {
                        settings.push(Setting { lr, momentum, schedule: schedule.clone(), clip: clip.clone() });
                    }
                }
            }
        }
        settings
    }

    /// The whole tuning space of the grid.
    pub fn settings(&self) -> Vec<Setting> {
        self.settings_at(&self.lrs)
    }

    /// Whether the variant tunes anything besides the rate.
    pub fn tunes_more_than_the_rate(&self) -> bool {
        !(self.momenta.is_empty() && self.schedules.is_empty() && self.clips.is_empty())
    }
}

/// A resolved experiment: what `experiment.toml` in a report folder holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Problem name.
    pub problem: String,
    /// MNIST folder, or none for the bundled subset.
    pub data: Option<PathBuf>,
    /// `book` or `torch`.
    #[serde(with = "crate::text")]
    pub convention: Convention,
    /// The tuning protocol ([`PROTOCOL`]); 1 in the folders of older versions.
    #[serde(default = "first_protocol")]
    pub protocol: u32,
    /// Seeds every setting is tuned over: 1, …, `tuning_seeds`.
    #[serde(default = "one")]
    pub tuning_seeds: u32,
    /// Seeds the chosen setting is reported over (see [`Experiment::reported_seeds`]).
    pub seeds: u32,
    /// Budget in epochs (updates for a 2-D function) of every variant without its own.
    pub epochs: u32,
    /// Minibatch size.
    pub batch: usize,
    /// Validation examples.
    pub val_size: usize,
    /// The target of "time to result".
    pub target: f64,
    /// Sequence length T of the adding problem (its default if absent).
    #[serde(default)]
    pub length: Option<usize>,
    /// Whether finished runs keep their last checkpoint (to continue them when the report grows
    /// by epochs): a checkpoint holds the parameters and the optimizer's state, megabytes per
    /// run, so it is opt-in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_checkpoints: bool,
    /// The variants compared.
    pub variants: Vec<Variant>,
}

impl ExperimentSpec {
    /// Reads an experiment file; errors name the file, line and key.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = crate::files::read_text(path, crate::files::TEXT_LIMIT, true)?;
        toml::from_str(&text).map_err(|e| {
            let place = e.span().map(|span| describe_place(&text, span.start)).unwrap_or_default();
            Error::data(path, format!("{place}{}", e.message()))
        })
    }

    /// The experiment with every default filled in and every value checked. `file` names the
    /// experiment file (if any) in errors.
    pub fn resolve(&self, file: Option<&Path>) -> Result<Experiment, Error> {
        let at = |key: &str| match file {
            Some(path) => format!("{}: {key}", path.display()),
            None => key.to_string(),
        };
        let problem = problems::named(self.problem.as_deref().unwrap_or("mnist-mlp"))
            .map_err(|e| Error::data(at("problem"), e.to_string()))?;
        let convention: Convention = match &self.convention {
            Some(text) => {
                text.parse().map_err(|e: descent_optim::ConfigError| Error::data(at("convention"), e.to_string()))?
            }
            None => Convention::Book,
        };
        let deterministic = problem.is_deterministic();
        let seeds = if deterministic { 1 } else { self.seeds.unwrap_or(3) };
        let tuning_seeds = if deterministic { 1 } else { self.tuning_seeds.unwrap_or(1) };
        let positive = |key: &str, value: u64| {
            if value == 0 {
                Err(Error::data(at(key), "must be at least 1, got 0"))
            } else {
                Ok(())
            }
        };
        positive("seeds", self.seeds.unwrap_or(1) as u64)?; // checked even where seeds do not matter
        positive("tuning_seeds", self.tuning_seeds.unwrap_or(1) as u64)?;
        for (key, count) in [("seeds", self.seeds), ("tuning_seeds", self.tuning_seeds)] {
            if let Some(count) = count.filter(|&count| count > MAX_SEEDS) {
                return Err(Error::data(
                    at(key),
                    format!("at most {MAX_SEEDS} (each is a run of every variant), got {count}"),
                ));
            }
        }
        let epochs = self.epochs.unwrap_or(problem.budget);
        positive("epochs", epochs as u64)?;
        let batch = self.batch.unwrap_or(problem.batch);
        positive("batch", batch as u64)?;
        let default_target = if self.data.is_some() { problem.target_full_data } else { problem.target };
        let target = self.target.unwrap_or(default_target);
        if !target.is_finite() {
            return Err(Error::data(at("target"), format!("must be a finite number, got {target}")));
        }
        let schedule = self.schedule.clone().unwrap_or_else(|| OneOrList::One("constant".into()));
        let mut specs: Vec<VariantSpec> = self
            .optimizers
            .clone()
            .unwrap_or_else(|| {
                if self.variants.is_empty() {
                    DEFAULT_OPTIMIZERS.iter().map(|s| s.to_string()).collect()
                } else {
                    Vec::new()
                }
            })
            .into_iter()
            .map(|optimizer| VariantSpec { optimizer, ..VariantSpec::default() })
            .collect();
        specs.extend(self.variants.iter().cloned());
        if specs.is_empty() {
            return Err(Error::data(at("optimizers"), "the list is empty"));
        }
        let mut experiment = Experiment {
            problem: problem.name.into(),
            data: self.data.clone(),
            convention,
            protocol: PROTOCOL,
            tuning_seeds,
            seeds,
            epochs,
            batch,
            val_size: self.val_size.unwrap_or(problem.val_size),
            target,
            length: self.length,
            keep_checkpoints: self.keep_checkpoints.unwrap_or(false),
            variants: Vec::new(),
        };
        for (index, spec) in specs.iter().enumerate() {
            let name = spec.name.clone().unwrap_or_else(|| spec.optimizer.clone());
            let key = if index < specs.len() - self.variants.len() {
                format!("optimizers: '{name}'")
            } else {
                format!("variant {} ('{name}')", index - (specs.len() - self.variants.len()) + 1)
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
                return Err(Error::data(at(&key), "names may hold only letters, digits, '.', '_' and '-'"));
            }
            if experiment.variants.iter().any(|v| v.name == name) {
                return Err(Error::data(at(&key), "is listed twice (give one of them another name)"));
            }
            let grid = spec.lrs.as_ref().or(self.lrs.as_ref());
            let lrs = resolve_grid(grid, &spec.optimizer, convention).map_err(|m| Error::data(at(&key), m))?;
            let (momentum, momenta) = spec.momentum.as_ref().map(OneOrList::split).unwrap_or_default();
            let (fixed_schedule, schedules) = spec.schedule.as_ref().unwrap_or(&schedule).split();
            let (clip, clips) = spec.clip.as_ref().map(OneOrList::split).unwrap_or_default();
            let empty = [
                ("momentum", matches!(&spec.momentum, Some(OneOrList::List(list)) if list.is_empty())),
                ("schedule", matches!(spec.schedule.as_ref().unwrap_or(&schedule), OneOrList::List(l) if l.is_empty())),
                ("clip", matches!(&spec.clip, Some(OneOrList::List(list)) if list.is_empty())),
            ];
            if let Some((what, _)) = empty.iter().find(|(_, empty)| *empty) {
                return Err(Error::data(at(&format!("{key}: {what}")), "the list to tune over is empty"));
            }
            for text in clips.iter().filter(|text| *text != "none") {
                text.parse::<Clip>().map_err(|e| Error::data(at(&format!("{key}: clip")), format!("'{text}': {e}")))?;
            }
            let clip = clip.filter(|text| text != "none").map(|text| text.parse()).transpose();
            let clip = clip.map_err(|e: descent_optim::ConfigError| Error::data(at(&key), e.to_string()))?;
            if let Some(epochs) = spec.epochs {
                positive(&format!("{key}: epochs"), epochs as u64)?;
            }
            if let Some(batch) = spec.batch {
                positive(&format!("{key}: batch"), batch as u64)?;
            }
            let variant = Variant {
                name,
                optimizer: spec.optimizer.clone(),
                lrs,
                extend: !matches!(grid, Some(LrGrid::List(_))),
                momentum,
                rho: spec.rho,
                beta1: spec.beta1,
                beta2: spec.beta2,
                eps: spec.eps,
                eps_root: spec.eps_root,
                dampening: spec.dampening,
                lr_decay: spec.lr_decay,
                initial_accumulator: spec.initial_accumulator,
                momentum_decay: spec.momentum_decay,
                centered: spec.centered,
                decoupled_weight_decay: spec.decoupled_weight_decay,
                maximize: spec.maximize,
                weight_decay: spec.weight_decay,
                clip,
                schedule: fixed_schedule.unwrap_or_else(|| "constant".into()),
                momenta,
                schedules,
                clips,
                epochs: spec.epochs.filter(|&own| own != epochs),
                batch: spec.batch.filter(|&own| own != batch),
                updates: None,
            };
            let settings = variant.settings();
            if settings.len() > MAX_SETTINGS {
                return Err(Error::data(
                    at(&key),
                    format!("tunes over {} settings, at most {MAX_SETTINGS}", settings.len()),
                ));
            }
            for setting in &settings {
                let config = experiment.train_config(&variant, setting, 1);
                let checked = config.validate().and_then(|()| config.schedule(100).map(drop));
                checked.map_err(|e| Error::data(at(&key), e.to_string()))?;
            }
            experiment.variants.push(variant);
        }
        Ok(experiment)
    }
}

fn first_protocol() -> u32 {
    1
}

fn one() -> u32 {
    1
}

/// The rates of `grid` for `optimizer`: the list checked, or `auto` around the default rate.
fn resolve_grid(grid: Option<&LrGrid>, optimizer: &str, convention: Convention) -> Result<Vec<f64>, String> {
    match grid {
        None => auto_grid(optimizer, convention),
        Some(LrGrid::Keyword(word)) if word == "auto" => auto_grid(optimizer, convention),
        Some(LrGrid::Keyword(word)) => Err(format!("lrs = \"{word}\": expected \"auto\" or a list of rates")),
        Some(LrGrid::List(list)) => {
            if list.is_empty() {
                return Err("the learning-rate list is empty".into());
            }
            if let Some(bad) = list.iter().find(|lr| !(lr.is_finite() && **lr > 0.0)) {
                return Err(format!("learning rates must be positive numbers, got {bad}"));
            }
            let mut sorted = list.clone();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            Ok(sorted)
        }
    }
}

/// The `auto` grid: the optimizer's default rate times [`AUTO_FACTORS`].
pub fn auto_grid(optimizer: &str, convention: Convention) -> Result<Vec<f64>, String> {
    let config = OptimizerConfig::named(optimizer, convention).map_err(|e| e.to_string())?;
    // Round to 12 significant digits so that 10 × 0.001 prints as 0.01 in tables and folder names.
    Ok(AUTO_FACTORS.iter().map(|f| format!("{:.11e}", f * config.lr).parse().expect("a number")).collect())
}

impl Experiment {
    /// The registry entry of the problem.
    pub fn problem(&self) -> &'static Problem {
        problems::named(&self.problem).expect("resolved experiments name a known problem")
    }

    /// The configuration of one run: `variant` at `setting` with `seed`, single-threaded.
    pub fn train_config(&self, variant: &Variant, setting: &Setting, seed: u64) -> TrainConfig {
        let problem = problems::named(&self.problem).expect("a known problem");
        let mut config = TrainConfig::defaults(problem);
        config.data = self.data.clone();
        config.optimizer = variant.optimizer.clone();
        config.convention = self.convention;
        config.lr = setting.lr;
        config.set_overrides(&Overrides {
            momentum: setting.momentum.or(variant.momentum),
            rho: variant.rho,
            beta1: variant.beta1,
            beta2: variant.beta2,
            eps: variant.eps,
            eps_root: variant.eps_root,
            dampening: variant.dampening,
            lr_decay: variant.lr_decay,
            initial_accumulator: variant.initial_accumulator,
            momentum_decay: variant.momentum_decay,
            centered: variant.centered,
            decoupled_weight_decay: variant.decoupled_weight_decay,
        });
        config.maximize = variant.maximize;
        config.weight_decay = variant.weight_decay.unwrap_or_else(|| {
            OptimizerConfig::named(&variant.optimizer, self.convention).map_or(0.0, |c| c.weight_decay)
        });
        config.schedule = setting.schedule.clone().unwrap_or_else(|| variant.schedule.clone());
        config.clip = match setting.clip.as_deref() {
            None => variant.clip,
            Some("none") => None,
            // `resolve` parsed every clipping of the space.
            Some(text) => Some(text.parse().expect("a resolved experiment's clippings parse")),
        };
        config.batch = variant.batch.unwrap_or(self.batch);
        config.epochs = self.epochs_of(variant);
        config.steps = variant.updates;
        config.val_size = self.val_size;
        config.length = self.length;
        config.seed = seed;
        config.threads = 1;
        config
    }

    /// The budget of `variant`: its own, or the experiment's.
    pub fn epochs_of(&self, variant: &Variant) -> u32 {
        variant.epochs.unwrap_or(self.epochs)
    }

    /// The seeds every setting of the tuning space runs with.
    pub fn tuning_seeds(&self) -> Vec<u64> {
        match self.protocol {
            1 => vec![1],
            _ => (1..=self.tuning_seeds as u64).collect(),
        }
    }

    /// The seeds the chosen setting is reported over: those after the tuning seeds, so that no
    /// reported seed chose anything. Older folders (protocol 1) counted seed 1 as well; a
    /// deterministic problem (a 2-D function) reports its one run, which no seed changes.
    pub fn reported_seeds(&self) -> Vec<u64> {
        if self.protocol == 1 || self.problem().is_deterministic() {
            return (1..=self.seeds as u64).collect();
        }
        let first = self.tuning_seeds as u64 + 1;
        (first..first + self.seeds as u64).collect()
    }

    /// Runs planned before any grid grows: every setting with every tuning seed, then the
    /// reported seeds of the chosen setting that are not tuning seeds.
    pub fn planned_runs(&self) -> usize {
        let tuning = self.tuning_seeds();
        let extra = self.reported_seeds().iter().filter(|seed| !tuning.contains(seed)).count();
        self.variants.iter().map(|v| v.settings().len() * tuning.len() + extra).sum()
    }

    /// What differs between two experiments, as `key: this vs that`, or `None` when they match.
    pub fn difference(&self, other: &Experiment) -> Option<String> {
        difference(self, other)
    }

    /// What differs between the experiment in a folder (`self`) and `grown`, beyond what a
    /// folder may grow by: seeds (tuning and reported), rates, the values tuned over, and the
    /// budgets (epochs, and updates where a variant has them), which may grow but not shrink.
    /// Every run of the folder stays valid then, since a run is named by its setting and seed,
    /// and a run of a smaller budget is continued (or run again, see [`run`](super::run)).
    pub fn growth_difference(&self, grown: &Experiment) -> Option<String> {
        let mut this = self.clone();
        (this.seeds, this.tuning_seeds) = (grown.seeds, grown.tuning_seeds);
        this.keep_checkpoints = grown.keep_checkpoints;
        if this.variants.len() == grown.variants.len() {
            for (mine, theirs) in this.variants.iter_mut().zip(&grown.variants) {
                let longer = grown.epochs_of(theirs) >= self.epochs_of(mine)
                    && match (mine.updates, theirs.updates) {
                        (Some(before), Some(after)) => after >= before,
                        (before, after) => before == after,
                    };
                if longer {
                    (mine.epochs, mine.updates) = (theirs.epochs, theirs.updates);
                }
                mine.lrs.clone_from(&theirs.lrs);
                mine.extend = theirs.extend;
                // A value tuned over may be added; a fixed value becomes tuned only as a list
                // that names it, since its runs carry no value for it.
                if !mine.momenta.is_empty() || theirs.momenta.is_empty() {
                    mine.momenta.clone_from(&theirs.momenta);
                }
                if !mine.schedules.is_empty() || theirs.schedules.is_empty() {
                    mine.schedules.clone_from(&theirs.schedules);
                }
                if !mine.clips.is_empty() || theirs.clips.is_empty() {
                    mine.clips.clone_from(&theirs.clips);
                }
            }
        }
        if grown.epochs >= self.epochs {
            this.epochs = grown.epochs;
        }
        difference(&this, grown)
    }
}

/// What differs between two resolved settings written as TOML: the first line that does, as
/// `'this' against 'that'`, or `None` when they match.
pub(crate) fn difference<T: Serialize>(this: &T, that: &T) -> Option<String> {
    let (a, b) = (toml::to_string(this).ok()?, toml::to_string(that).ok()?);
    if a == b {
        return None;
    }
    let line = a.lines().zip(b.lines()).find(|(x, y)| x != y);
    Some(match line {
        Some((x, y)) => format!("'{}' against '{}'", x.trim(), y.trim()),
        None => "the list of variants".into(),
    })
}

/// "line N, key `k`: " for a byte offset into `text`.
pub(crate) fn describe_place(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_number = text[..offset].matches('\n').count() + 1;
    let line = text.lines().nth(line_number - 1).unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !key.trim().starts_with('[') => format!("line {line_number}, key `{}`: ", key.trim()),
        _ => format!("line {line_number}: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ExperimentSpec, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.toml");
        std::fs::write(&path, text).unwrap();
        ExperimentSpec::read(&path)
    }

    #[test]
    fn an_empty_file_takes_the_problem_defaults() {
        let experiment = parse("").unwrap().resolve(None).unwrap();
        assert_eq!(experiment.problem, "mnist-mlp");
        assert_eq!(experiment.seeds, 3);
        assert_eq!(experiment.epochs, problems::named("mnist-mlp").unwrap().budget);
        let names: Vec<&str> = experiment.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, DEFAULT_OPTIMIZERS);
        // auto: a decade either side of the default rate.
        assert_eq!(experiment.variants[5].lrs, vec![1e-4, 1e-3, 1e-2]);
        assert_eq!(experiment.variants[0].lrs, vec![1e-3, 1e-2, 1e-1]);
    }

    #[test]
    fn options_beyond_the_rate_reach_the_optimizer() {
        // Every option the command line has can be written in an experiment file, and reaches
        // the rule: centered RMSProp, NAdam with decoupled decay, ψ and maximize, AdaGrad's options.
        let text = "convention = \"torch\"\n\n[[variant]]\noptimizer = \"rmsprop\"\ncentered = true\n\n\
                    [[variant]]\noptimizer = \"nadam\"\ndecoupled_weight_decay = true\nmomentum_decay = 0.01\n\
                    maximize = true\n\n[[variant]]\noptimizer = \"adagrad\"\nlr_decay = 0.1\n\
                    initial_accumulator = 0.5\n";
        let experiment = parse(text).unwrap().resolve(None).unwrap();
        let configs: Vec<OptimizerConfig> = experiment
            .variants
            .iter()
            .map(|variant| experiment.train_config(variant, &Setting::rate(0.01), 1).optimizer_config().unwrap())
            .collect();
        use descent_optim::Algorithm::{Adagrad, Nadam, Rmsprop};
        assert!(matches!(configs[0].algorithm, Rmsprop(c) if c.centered));
        assert!(matches!(configs[1].algorithm, Nadam(c) if c.decoupled_weight_decay && c.momentum_decay == 0.01));
        assert!(configs[1].maximize && !configs[0].maximize);
        assert!(matches!(configs[2].algorithm, Adagrad(c) if c.lr_decay == 0.1 && c.initial_accumulator == 0.5));
        // An option no chosen rule has is refused, naming it.
        let message = parse("[[variant]]\noptimizer = \"adam\"\ncentered = true\n").unwrap().resolve(None);
        let message = match message {
            Ok(experiment) => experiment
                .train_config(&experiment.variants[0], &Setting::rate(0.01), 1)
                .optimizer_config()
                .unwrap_err(),
            Err(error) => error,
        };
        assert!(message.to_string().contains("centered"), "{message}");
    }

    #[test]
    fn variants_carry_their_own_settings() {
        let text = "optimizers = [\"sgd\"]\nlrs = [0.1, 0.01, 0.1]\n\n[[variant]]\nname = \"adam-b2-0.99\"\noptimizer = \"adam\"\nbeta2 = 0.99\nlrs = \"auto\"\n";
        let experiment = parse(text).unwrap().resolve(None).unwrap();
        assert_eq!(experiment.variants.len(), 2);
        assert_eq!(experiment.variants[0].lrs, vec![0.01, 0.1]);
        assert_eq!(experiment.variants[1].name, "adam-b2-0.99");
        assert_eq!(experiment.variants[1].beta2, Some(0.99));
        let config = experiment.train_config(&experiment.variants[1], &Setting::rate(1e-3), 2);
        assert_eq!((config.beta2, config.seed, config.threads), (Some(0.99), 2, 1));
    }

    #[test]
    fn a_variant_group_lists_what_it_tunes_over() {
        let text = "seeds = 2\ntuning_seeds = 3\nepochs = 4\n\n[[variant]]\nname = \"m\"\noptimizer = \"momentum\"\n\
                    lrs = [0.1, 0.01]\nmomentum = [0.5, 0.9]\nschedule = [\"constant\", \"cosine\"]\n\
                    clip = [\"none\", \"global-norm:1\"]\nepochs = 10\nbatch = 32\n\n[[variant]]\n\
                    optimizer = \"adam\"\nclip = \"global-norm:1\"\n";
        let experiment = parse(text).unwrap().resolve(None).unwrap();
        let (group, adam) = (&experiment.variants[0], &experiment.variants[1]);
        assert_eq!((group.momenta.as_slice(), group.momentum), (&[0.5, 0.9][..], None));
        assert_eq!(group.schedules, ["constant", "cosine"]);
        assert_eq!(group.clips, ["none", "global-norm:1"]);
        // 2 rates × 2 momenta × 2 schedules × 2 clippings, each on 3 tuning seeds; the reported
        // seeds are 4 and 5.
        assert_eq!(group.settings().len(), 16);
        assert_eq!(experiment.tuning_seeds(), [1, 2, 3]);
        assert_eq!(experiment.reported_seeds(), [4, 5]);
        assert_eq!(experiment.planned_runs(), 16 * 3 + 2 + 3 * 3 + 2);
        assert_eq!((experiment.epochs_of(group), experiment.epochs_of(adam)), (10, 4));
        let clipped = Setting { clip: Some("global-norm:1".into()), ..group.settings()[0].clone() };
        let config = experiment.train_config(group, &clipped, 4);
        assert_eq!((config.epochs, config.clip.map(|c| c.to_string())), (10, Some("global-norm:1".into())));
        // The group's own batch size; the other variant keeps the experiment's (128).
        assert_eq!((config.batch, experiment.train_config(adam, &Setting::rate(0.1), 4).batch), (32, 128));
        let unclipped = Setting { clip: Some("none".into()), ..clipped };
        assert_eq!(experiment.train_config(group, &unclipped, 4).clip, None);
        assert_eq!(adam.clip.map(|c| c.to_string()), Some("global-norm:1".into()));
        // The resolved experiment reads back as written.
        let written = toml::to_string(&experiment).unwrap();
        assert_eq!(toml::from_str::<Experiment>(&written).unwrap(), experiment);
    }

    #[test]
    fn malformed_files_name_the_line_and_key() {
        let message = parse("seeds = 3\nepochs = \"five\"\n").unwrap_err().to_string();
        assert!(message.contains("experiment.toml: line 2, key `epochs`"), "{message}");
        let message = parse("problem = \"mnist-mlp\"\nspeed = 3\n").unwrap_err().to_string();
        assert!(message.contains("line 2") && message.contains("speed"), "{message}");
    }

    #[test]
    fn bad_values_are_named() {
        let resolve = |text: &str| parse(text).unwrap().resolve(Some(Path::new("e.toml"))).unwrap_err().to_string();
        assert!(resolve("optimizers = [\"adamx\"]").contains("e.toml: optimizers: 'adamx'"));
        assert!(resolve("lrs = []").contains("the learning-rate list is empty"));
        assert!(resolve("lrs = [0.1, -1.0]").contains("must be positive numbers, got -1"));
        assert!(resolve("lrs = \"fast\"").contains("expected \"auto\""));
        assert!(resolve("problem = \"imagenet\"").contains("e.toml: problem"));
        assert!(resolve("seeds = 0").contains("e.toml: seeds: must be at least 1"));
        let message = resolve("[[variant]]\noptimizer = \"adam\"\nbeta2 = 1.5\n");
        assert!(message.contains("variant 1 ('adam')") && message.contains("1.5"), "{message}");
        assert!(resolve("optimizers = [\"sgd\", \"sgd\"]").contains("listed twice"));
        let message = resolve("[[variant]]\noptimizer = \"momentum\"\nmomentum = []\n");
        assert!(message.contains("variant 1 ('momentum'): momentum: the list to tune over is empty"), "{message}");
        let message = resolve("[[variant]]\noptimizer = \"sgd\"\nclip = [\"none\", \"global-norm:x\"]\n");
        assert!(message.contains("variant 1 ('sgd')") && message.contains("global-norm:x"), "{message}");
        let message = resolve("schedule = [\"constant\", \"sideways\"]\n");
        assert!(message.contains("optimizers: 'sgd'") && message.contains("sideways"), "{message}");
        assert!(resolve("tuning_seeds = 0").contains("e.toml: tuning_seeds: must be at least 1"));
    }

    #[test]
    fn differences_are_described() {
        let a = ExperimentSpec::default().resolve(None).unwrap();
        let b = ExperimentSpec { seeds: Some(2), ..ExperimentSpec::default() }.resolve(None).unwrap();
        assert_eq!(a.difference(&a.clone()), None);
        assert_eq!(a.difference(&b).unwrap(), "'seeds = 3' against 'seeds = 2'");
    }
}

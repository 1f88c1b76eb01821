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
//! ```

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
    /// Momentum α.
    pub momentum: Option<f64>,
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
    /// Gradient clipping (`global-norm:1`).
    pub clip: Option<String>,
    /// Learning-rate schedule (the experiment's if absent).
    pub schedule: Option<String>,
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
    /// Seeds the best rate is run with (1, 2, …, seeds).
    pub seeds: Option<u32>,
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
    /// Learning-rate schedule of every variant without its own.
    pub schedule: Option<String>,
    /// Sequence length T of the adding problem.
    pub length: Option<usize>,
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
    /// Seeds of the final runs.
    pub seeds: u32,
    /// Budget in epochs (updates for a 2-D function).
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
        let seeds = if problem.is_deterministic() { 1 } else { self.seeds.unwrap_or(3) };
        let positive = |key: &str, value: u64| {
            if value == 0 {
                Err(Error::data(at(key), "must be at least 1, got 0"))
            } else {
                Ok(())
            }
        };
        positive("seeds", self.seeds.unwrap_or(1) as u64)?; // checked even where seeds do not matter
        if self.seeds.is_some_and(|seeds| seeds > MAX_SEEDS) {
            return Err(Error::data(
                at("seeds"),
                format!("at most {MAX_SEEDS} (each is a run of every variant), got {}", self.seeds.unwrap_or(0)),
            ));
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
        let schedule = self.schedule.clone().unwrap_or_else(|| "constant".into());
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
        let mut variants: Vec<Variant> = Vec::new();
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
            if variants.iter().any(|v| v.name == name) {
                return Err(Error::data(at(&key), "is listed twice (give one of them another name)"));
            }
            let grid = spec.lrs.as_ref().or(self.lrs.as_ref());
            let lrs = resolve_grid(grid, &spec.optimizer, convention).map_err(|m| Error::data(at(&key), m))?;
            let clip = spec.clip.as_deref().map(str::parse).transpose();
            let clip = clip.map_err(|e: descent_optim::ConfigError| Error::data(at(&key), e.to_string()))?;
            let variant = Variant {
                name,
                optimizer: spec.optimizer.clone(),
                lrs,
                extend: !matches!(grid, Some(LrGrid::List(_))),
                momentum: spec.momentum,
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
                schedule: spec.schedule.clone().unwrap_or_else(|| schedule.clone()),
            };
            let experiment_stub = Experiment {
                problem: problem.name.into(),
                data: self.data.clone(),
                convention,
                seeds,
                epochs,
                batch,
                val_size: 0,
                target,
                length: self.length,
                variants: Vec::new(),
            };
            experiment_stub
                .train_config(&variant, variant.lrs[0], 1)
                .validate()
                .map_err(|e| Error::data(at(&key), e.to_string()))?;
            variants.push(variant);
        }
        Ok(Experiment {
            problem: problem.name.into(),
            data: self.data.clone(),
            convention,
            seeds,
            epochs,
            batch,
            val_size: self.val_size.unwrap_or(problem.val_size),
            target,
            length: self.length,
            variants,
        })
    }
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

    /// The configuration of one run: `variant` at rate `lr` with `seed`, single-threaded.
    pub fn train_config(&self, variant: &Variant, lr: f64, seed: u64) -> TrainConfig {
        let problem = problems::named(&self.problem).expect("a known problem");
        let mut config = TrainConfig::defaults(problem);
        config.data = self.data.clone();
        config.optimizer = variant.optimizer.clone();
        config.convention = self.convention;
        config.lr = lr;
        config.set_overrides(&Overrides {
            momentum: variant.momentum,
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
        config.schedule = variant.schedule.clone();
        config.clip = variant.clip;
        config.batch = self.batch;
        config.epochs = self.epochs;
        config.val_size = self.val_size;
        config.length = self.length;
        config.seed = seed;
        config.threads = 1;
        config
    }

    /// What differs between two experiments, as `key: this vs that`, or `None` when they match.
    pub fn difference(&self, other: &Experiment) -> Option<String> {
        difference(self, other)
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
            .map(|variant| experiment.train_config(variant, 0.01, 1).optimizer_config().unwrap())
            .collect();
        use descent_optim::Algorithm::{Adagrad, Nadam, Rmsprop};
        assert!(matches!(configs[0].algorithm, Rmsprop(c) if c.centered));
        assert!(matches!(configs[1].algorithm, Nadam(c) if c.decoupled_weight_decay && c.momentum_decay == 0.01));
        assert!(configs[1].maximize && !configs[0].maximize);
        assert!(matches!(configs[2].algorithm, Adagrad(c) if c.lr_decay == 0.1 && c.initial_accumulator == 0.5));
        // An option no chosen rule has is refused, naming it.
        let message = parse("[[variant]]\noptimizer = \"adam\"\ncentered = true\n").unwrap().resolve(None);
        let message = match message {
            Ok(experiment) => experiment.train_config(&experiment.variants[0], 0.01, 1).optimizer_config().unwrap_err(),
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
        let config = experiment.train_config(&experiment.variants[1], 1e-3, 2);
        assert_eq!((config.beta2, config.seed, config.threads), (Some(0.99), 2, 1));
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
    }

    #[test]
    fn differences_are_described() {
        let a = ExperimentSpec::default().resolve(None).unwrap();
        let b = ExperimentSpec { seeds: Some(2), ..ExperimentSpec::default() }.resolve(None).unwrap();
        assert_eq!(a.difference(&a.clone()), None);
        assert_eq!(a.difference(&b).unwrap(), "'seeds = 3' against 'seeds = 2'");
    }
}

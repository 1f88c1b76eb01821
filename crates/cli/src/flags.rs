//! Flags shared by the commands that build optimizers, and how their errors name the flag.

use clap::Args;
use descent_optim::{Clip, ConfigError, Convention, OptimizerConfig, Overrides, Schedule, OVERRIDE_COUNT};

use crate::bad_input;

/// The optimizer flags: which algorithms, and the hyperparameters that override their defaults.
#[derive(Debug, Clone, Args)]
pub struct OptimizerFlags {
    /// Optimizer (train, diagnose, sweep-batch) or a comma-separated list (optimize): sgd,
    /// momentum, nesterov, adagrad, rmsprop, rmsprop-nesterov, adam, adamw, amsgrad, nadam, adadelta,
    /// adamax, radam, lion, adafactor, muon, schedule-free-adamw.
    #[arg(long = "optimizer", value_name = "LIST")]
    pub optimizers: Option<String>,
    /// Learning rate ε (ε₀ of the schedule).
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Momentum α (momentum, nesterov, rmsprop-nesterov, muon).
    #[arg(long, value_name = "A", allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Decay rate ρ (rmsprop, adadelta).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rho: Option<f64>,
    /// First-moment decay ρ₁ (adam family, nadam, adamax, radam, lion, schedule-free-adamw; muon's
    /// AdamW for vectors).
    #[arg(long, value_name = "B1", allow_negative_numbers = true)]
    pub beta1: Option<f64>,
    /// Second-moment decay ρ₂ (adam family, nadam, adamax, radam; lion's momentum decay; muon's
    /// AdamW for vectors).
    #[arg(long, value_name = "B2", allow_negative_numbers = true)]
    pub beta2: Option<f64>,
    /// Small constant δ of the adaptive methods, added to the root's result (0 is allowed, as in
    /// PyTorch); adafactor's ε₁ (floor of √V̂).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// δ_root of the adam family, nadam and radam, added inside the square root (Optax's eps_root);
    /// Algorithm 8.7 as printed is --eps 0 --eps-root 1e-8.
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub eps_root: Option<f64>,
    /// τ of PyTorch's SGD momentum: the share of the new gradient not added (torch convention).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub dampening: Option<f64>,
    /// AdaGrad's rate decay: ε/(1 + (t − 1)·D) at update t (PyTorch's lr_decay).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub lr_decay: Option<f64>,
    /// AdaGrad's starting value of the accumulator r (PyTorch's initial_accumulator_value).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub initial_accumulator: Option<f64>,
    /// ψ of PyTorch NAdam's momentum schedule μₜ = ρ₁(1 − ½·0.96^(tψ)) (torch convention).
    #[arg(long, value_name = "PSI", allow_negative_numbers = true)]
    pub momentum_decay: Option<f64>,
    /// RMSProp divided by the gradient's variance rather than its second moment (rmsprop,
    /// rmsprop-nesterov).
    #[arg(long)]
    pub centered: bool,
    /// Weight decay as θ ← θ(1 − ελ) instead of as an L2 gradient (adam, amsgrad, nadam, radam;
    /// adamw has it already).
    #[arg(long)]
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend (every optimizer; PyTorch's maximize).
    #[arg(long)]
    pub maximize: bool,
    /// Weight decay λ (L2; decoupled for adamw, lion, adafactor and muon).
    #[arg(long, value_name = "W", allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Whose formulas and defaults: book (Deep Learning, ch. 8) or torch (torch.optim).
    #[arg(long, value_name = "NAME", default_value = "book")]
    pub convention: String,
    /// Learning-rate schedule, e.g. linear (Algorithm 8.1: to 1% of ε₀ at the end),
    /// linear:tau=500, cosine (holds its floor after the period), cosine-annealing (PyTorch's
    /// CosineAnnealingLR: rises again after it), step:every=100,gamma=0.5, exponential:gamma=0.99,
    /// inverse-time:gamma=0.01, multi-step:at=100/300,gamma=0.1, polynomial:power=2,
    /// one-cycle:pct=0.3,div=25,final-div=1e4, cosine-restarts:period=50,mult=2,min=0,
    /// constant-factor:factor=0.5,steps=100, warmup:100+cosine.
    #[arg(long, value_name = "SPEC", default_value = "constant")]
    pub schedule: String,
    /// Gradient clipping: value:C, norm:C (per tensor) or global-norm:C.
    #[arg(long, value_name = "SPEC")]
    pub clip: Option<String>,
}

impl OptimizerFlags {
    /// The convention named by `--convention`.
    pub fn convention(&self) -> anyhow::Result<Convention> {
        self.convention
            .parse()
            .map_err(|error: ConfigError| bad_input(format!("--convention {}: {}", self.convention, reason(&error))))
    }

    /// The hyperparameters given as flags.
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
            centered: self.centered.then_some(true),
            decoupled_weight_decay: self.decoupled_weight_decay.then_some(true),
        }
    }

    /// The optimizers named by `--optimizer` (or `default`), with the flags applied and checked.
    /// `default_lr` gives the rate when `--lr` is absent.
    pub fn configs(
        &self,
        default: &str,
        default_lr: impl Fn(&OptimizerConfig) -> f64,
    ) -> anyhow::Result<Vec<OptimizerConfig>> {
        let convention = self.convention()?;
        let list = self.optimizers.as_deref().unwrap_or(default);
        let names: Vec<&str> = list.split(',').map(str::trim).collect();
        if names.iter().any(|name| name.is_empty()) {
            return Err(bad_input(format!("--optimizer '{list}': empty name in the list")));
        }
        let overrides = self.overrides();
        let mut used = [false; OVERRIDE_COUNT];
        let mut configs = Vec::new();
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                return Err(bad_input(format!("--optimizer {list}: '{name}' is listed twice")));
            }
            let mut config = OptimizerConfig::named(name, convention)
                .map_err(|error| bad_input(format!("--optimizer {name}: {}", reason(&error))))?;
            for (slot, applied) in used.iter_mut().zip(config.apply(&overrides)) {
                *slot |= applied;
            }
            config.lr = self.lr.unwrap_or_else(|| default_lr(&config));
            if let Some(weight_decay) = self.weight_decay {
                config.weight_decay = weight_decay;
            }
            config.maximize = self.maximize;
            config.validate().map_err(|error| self.flag_error(&error))?;
            configs.push(config);
        }
        for ((parameter, value), used) in overrides.pairs().iter().zip(used) {
            if let (Some(value), false) = (value, used) {
                let flag = match parameter.is_switch() {
                    true => format!("--{}", parameter.name()),
                    false => format!("--{} {value}", parameter.name()),
                };
                return Err(bad_input(format!("{flag}: none of the optimizers ({list}) has this hyperparameter")));
            }
        }
        Ok(configs)
    }

    /// The schedule for base rate `lr` over `total_steps` (which fills in τ and T).
    pub fn schedule(&self, lr: f64, total_steps: u64) -> anyhow::Result<Schedule> {
        let convention = self.convention()?;
        Schedule::parse(&self.schedule, lr, total_steps)
            .map(|schedule| schedule.with_convention(convention))
            .map_err(|error| bad_input(format!("--schedule {}: {}", self.schedule, reason(&error))))
    }

    /// The clipping rule, if any.
    pub fn clip(&self) -> anyhow::Result<Option<Clip>> {
        self.clip
            .as_deref()
            .map(|text| {
                text.parse().map_err(|error: ConfigError| bad_input(format!("--clip {text}: {}", reason(&error))))
            })
            .transpose()
    }

    /// Turns a validation error into a message that names the flag and the value given.
    fn flag_error(&self, error: &ConfigError) -> anyhow::Error {
        match error {
            ConfigError::OutOfRange { field, expected, value } => {
                bad_input(format!("--{} {value}: must be {expected}", field.replace('_', "-")))
            }
            other => bad_input(other.to_string()),
        }
    }
}

/// The part of a library error after the culprit, for messages that lead with the flag.
pub fn reason(error: &ConfigError) -> String {
    match error {
        ConfigError::OutOfRange { field, expected, value } => format!("{field} must be {expected}, got {value}"),
        ConfigError::Unknown { kind, expected, .. } => format!("unknown {kind} (expected one of: {expected})"),
        ConfigError::Syntax { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// `value` if it is at least 1, else bad input naming `flag`.
pub fn positive(flag: &str, value: i64) -> anyhow::Result<i64> {
    if value < 1 {
        return Err(bad_input(format!("{flag} {value}: must be at least 1")));
    }
    Ok(value)
}

/// Threads or workers per core at most: more only divides the same cores finer, while each
/// thread costs its stack and, in the products, its own packing memory.
pub const THREADS_PER_CORE: usize = 4;

/// A `--threads` or `--jobs` value: at least 1 and at most [`THREADS_PER_CORE`] per core.
pub fn threads(flag: &str, value: i64) -> anyhow::Result<usize> {
    let value = positive(flag, value)? as u64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = THREADS_PER_CORE * cores;
    if value > most as u64 {
        return Err(bad_input(format!(
            "{flag} {value}: at most {most} here ({THREADS_PER_CORE} per core, {cores} cores)"
        )));
    }
    Ok(value as usize)
}

/// The default training config of the registry problem named by `--problem`, or bad input
/// listing the problems that train.
pub fn problem_config(problem: &str) -> anyhow::Result<descent::config::TrainConfig> {
    descent::config::TrainConfig::for_problem(problem).map_err(|_| {
        bad_input(format!(
            "--problem {problem}: unknown problem (expected one of: {})",
            descent::config::trainable().join(", ")
        ))
    })
}

/// `--problem`'s help, from the registry: every problem by name (the trainable ones first).
pub fn problem_help(default: &str) -> String {
    let names = descent::problems::names().join(", ");
    format!("Problem from the registry: {names} (default: {default})")
}

/// `--problem`'s help where only trainable problems (those with data and a model) fit.
pub fn trainable_problem_help() -> String {
    format!("Problem: {}", descent::config::trainable().join(", "))
}

/// Refuses `--out DIR` unless it is new, empty, or holds only an earlier result of the same
/// command (exactly the `files` it writes, the CSV among them starting with `csv_header`):
/// nothing of the user's is replaced. `what` names the command's result in the message.
pub fn check_output_folder(
    out: &std::path::Path,
    files: [&str; 2],
    csv_header: &str,
    what: &str,
) -> anyhow::Result<()> {
    let earlier = std::fs::read_dir(out).is_ok_and(|entries| {
        entries
            .flatten()
            .all(|e| e.file_type().is_ok_and(|t| t.is_file()) && files.contains(&&*e.file_name().to_string_lossy()))
    }) && descent::files::read_text(&out.join(files[0]), descent::files::TEXT_LIMIT, true)
        .is_ok_and(|text| text.starts_with(csv_header));
    if !descent::files::is_free_folder(out) && !earlier {
        return Err(bad_input(format!(
            "--out {}: holds files that are not {what} of descent's; choose a new or empty folder",
            out.display()
        )));
    }
    Ok(())
}

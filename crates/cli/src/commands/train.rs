//! `descent train`: train a model on MNIST (bundled subset or `--data DIR`) with any optimizer,
//! showing progress, writing the run folder, and resuming from it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use descent::config::{TrainConfig, Watched};
use descent::diagnostics::DiagnosticsConfig;
use descent::train::{self, EpochMetrics, Event, Splits, Summary, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use crate::flags::{positive, OptimizerFlags};
use crate::plot::{self, Figure, PALETTE};
use crate::{bad_input, table, Stopped};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[arg(long, default_value = "mnist-mlp", help = crate::flags::trainable_problem_help())]
    pub problem: String,
    /// Folder with the four IDX files of the problem's data set, MNIST or Fashion-MNIST (default:
    /// the bundled 10,000/2,000 subset), or a CSV
    /// file of features with the class label last (a seeded 20% of its rows becomes the test set).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Hidden layer widths, comma-separated (default: the problem's).
    #[arg(long, value_name = "WIDTHS")]
    pub hidden: Option<String>,
    /// Hidden nonlinearity of a dense classifier: relu (default), tanh, sigmoid, identity. Other
    /// problems fix their own (the RNN's tanh, the autoencoder's logistic units).
    #[arg(long)]
    pub activation: Option<String>,
    /// Weight initializer: glorot-uniform, glorot-normal, uniform-fan-in, he-uniform, he-normal,
    /// lecun-normal, orthogonal or orthogonal:GAIN (default: uniform-fan-in for the dense and
    /// convolutional networks, as PyTorch's nn.Linear and nn.Conv2d; glorot-uniform for a
    /// recurrent net's W).
    #[arg(long)]
    pub init: Option<String>,
    #[command(flatten)]
    pub optimizer: OptimizerFlags,
    /// Minibatch size m (default: the problem's, 128).
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<i64>,
    /// Drop each epoch's last batch when it holds fewer than m examples (PyTorch's drop_last),
    /// so that every update averages m examples.
    #[arg(long)]
    pub drop_last: bool,
    /// Total epochs (a resumed run continues to this number).
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<i64>,
    /// Training examples held out for validation (default: the problem's, 5000 on the image sets).
    #[arg(long, allow_negative_numbers = true)]
    pub val_size: Option<i64>,
    /// Stop after this many epochs without a better validation error; keep the best parameters.
    #[arg(long, value_name = "PATIENCE", allow_negative_numbers = true)]
    pub early_stop: Option<i64>,
    /// Multiply the rate by FACTOR after PATIENCE epochs without a better validation loss
    /// (PyTorch's ReduceLROnPlateau), e.g. 0.5,2.
    #[arg(long, value_name = "FACTOR,PATIENCE")]
    pub reduce_on_plateau: Option<String>,
    /// What early stopping watches on the validation set: val-error or val-loss.
    #[arg(long, value_name = "WHAT")]
    pub early_stop_on: Option<String>,
    /// Keep an average of the iterates, evaluated beside them every epoch: polyak (their mean)
    /// or ema:DECAY (an exponential moving average, e.g. ema:0.999). The average is the run's
    /// result: early stopping watches it and the run ends with it.
    #[arg(long, value_name = "polyak|ema:DECAY")]
    pub average: Option<String>,
    /// Sequence length T of the adding problem (default 50).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub length: Option<i64>,
    /// Standardize features to zero mean and unit variance (from the training part).
    #[arg(long)]
    pub standardize: bool,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Cut each batch into N equal shards whose gradients are added in shard order: one process
    /// then computes the bits of `mpirun -n N descent train … --shards N` (default: one piece;
    /// under mpirun, MPI's faster sum in its own order).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shards: Option<i64>,
    /// Run folder (default: runs/train-PROBLEM, or runs/diagnose-PROBLEM for diagnose).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run saved in DIR, in DIR (only --epochs is taken from the command line).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub diagnostics: DiagnoseFlags,
}

/// The monitors of the chapter's challenges (shared by `train` and `diagnose`).
#[derive(Debug, Args)]
pub struct DiagnoseFlags {
    /// A budget in updates instead of epochs.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub steps: Option<i64>,
    /// Measure curvature (gᵀg, gᵀHg, the first- and second-order terms, λ_max) before every
    /// K-th update; writes diagnostics.csv and diagnostics.svg.
    #[arg(long = "diagnose-every", visible_alias = "every", value_name = "K", allow_negative_numbers = true)]
    pub every: Option<i64>,
    /// Record per-layer gradient norms, parameter norms and update-to-parameter ratios at the
    /// diagnosed updates (every 50 without --diagnose-every); writes layer_stats.csv and .svg.
    #[arg(long)]
    pub layer_stats: bool,
    /// Most Hessian-vector products for λ_max (0: skip λ_max); the rows say where this cap was
    /// hit before the tolerance was reached.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub power_iterations: usize,
    /// The power iteration stops once its residual ‖Hv − ρv‖ is at most T·|ρ| (an eigenvalue then
    /// lies within T·|ρ| of the estimate ρ).
    #[arg(long, value_name = "T", default_value_t = 1e-2, allow_negative_numbers = true)]
    pub power_tolerance: f64,
    /// Rademacher probes of Hutchinson's estimate of the Hessian's trace (0: skip it).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub trace_probes: usize,
    /// Training examples in the diagnostic batch.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub diagnose_examples: usize,
}

impl DiagnoseFlags {
    /// The monitors asked for, checked; `default_every` applies when only --layer-stats (or
    /// `descent diagnose`) asks.
    pub fn config(&self, default_every: Option<u64>) -> Result<Option<DiagnosticsConfig>> {
        let every = match self.every {
            Some(every) => Some(positive("--diagnose-every", every)? as u64),
            None if self.layer_stats => Some(default_every.unwrap_or(50)),
            None => default_every,
        };
        let Some(every) = every else { return Ok(None) };
        if !(self.power_tolerance.is_finite() && self.power_tolerance > 0.0) {
            return Err(bad_input(format!("--power-tolerance {}: must be a positive number", self.power_tolerance)));
        }
        if self.diagnose_examples == 0 {
            return Err(bad_input("--diagnose-examples 0: must be at least 1"));
        }
        Ok(Some(DiagnosticsConfig {
            every,
            power_iterations: self.power_iterations,
            tolerance: self.power_tolerance,
            examples: self.diagnose_examples,
            layer_stats: self.layer_stats,
            trace_probes: self.trace_probes,
        }))
    }

    /// The --steps budget, checked.
    pub fn steps(&self) -> Result<Option<u64>> {
        self.steps.map(|s| positive("--steps", s).map(|s| s as u64)).transpose()
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let epochs = args.epochs.map(|e| positive("--epochs", e)).transpose()?.map(|e| e as u32);
    let (trainer, out) = match &args.resume {
        Some(dir) => {
            refuse_flags_beside_resume(std::env::args().skip(2))?;
            let trainer = Trainer::resume(dir, epochs).map_err(crate::core_error)?;
            (trainer.with_collective(crate::ranks::collective()).map_err(crate::core_error)?, dir.clone())
        }
        None => {
            let mut config = build_config(&args, epochs)?;
            config.diagnostics = args.diagnostics.config(None)?;
            config.steps = args.diagnostics.steps()?;
            let out = args.out.clone().unwrap_or_else(|| train::default_out(&config.problem));
            if train::holds_a_run(&out) {
                return Err(bad_input(format!(
                    "--out {}: already holds a run; continue it with --resume {0} or choose another folder",
                    out.display()
                )));
            }
            if !descent::files::is_free_folder(&out) && !train::holds_an_unstarted_run(&out) {
                return Err(bad_input(format!(
                    "--out {}: holds files that are not a descent run; choose a new or empty folder",
                    out.display()
                )));
            }
            let splits = Splits::load(&config).map_err(crate::core_error)?;
            let trainer = Trainer::new(config, splits).map_err(crate::core_error)?;
            (trainer.with_collective(crate::ranks::collective()).map_err(crate::core_error)?, out)
        }
    };
    // The first Ctrl-C stops after the current update and checkpoints it, partial epoch
    // included; --resume continues from there exactly.
    let stop = crate::stop_on_ctrl_c("stopping after this update");
    match train_into(trainer.stop_when(stop), &out) {
        Err(error) if matches!(error.downcast_ref::<descent::Error>(), Some(descent::Error::Interrupted { .. })) => {
            return Err(Stopped(format!("{error:#}. Continue with: descent train --resume {}", out.display())).into());
        }
        result => result?,
    };
    println!(
        "run folder: {} (config.toml, metrics.csv, summary.json, checkpoint.safetensors, curves.svg{})",
        out.display(),
        if args.diagnostics.every.is_some() || args.diagnostics.layer_stats { ", diagnostics" } else { "" }
    );
    Ok(())
}

/// Trains with progress on the terminal, then writes the plots of the run folder `out`.
pub fn train_into(mut trainer: Trainer, out: &std::path::Path) -> Result<Trainer> {
    let config = trainer.config().clone();
    println!(
        "{} on {}: {} ({} convention), lr {}, batch {}, {} epoch{}, seed {}, {} threads",
        config.problem,
        match (&config.data, descent::problems::named(&config.problem)) {
            (Some(data), _) => data.display().to_string(),
            (None, Ok(problem)) => crate::report::built_in_data(problem.data).to_string(),
            (None, Err(_)) => "the caller's data".to_string(),
        },
        config.optimizer,
        config.convention,
        config.lr,
        config.batch,
        config.epochs,
        if config.epochs == 1 { "" } else { "s" },
        config.seed,
        config.threads
    );
    let metric = Metric::of(&config.problem);
    let mut progress = Progress::new(config.epochs, metric, config.early_stop_on);
    let summary = trainer.run(Some(out), &mut |event| progress.show(event)).map_err(|error| match error {
        descent::Error::NonFinite { .. } => {
            // Say what the folder holds: the checkpoint of the last finished epoch, or nothing yet.
            let kept = if out.join("checkpoint.safetensors").is_file() {
                format!("{} keeps the checkpoint of the last finished epoch", out.display())
            } else {
                format!("no epoch had finished, so {} holds no checkpoint", out.display())
            };
            anyhow::anyhow!("{error}; {kept}")
        }
        other => crate::core_error(other),
    })?;
    if !crate::ranks::collective().is_root() {
        return Ok(trainer);
    }
    plot::save_svg(&curves(trainer.metrics(), metric), &out.join("curves.svg"))?;
    if !trainer.curvature_rows().is_empty() {
        plot::save_svg(
            &crate::report::diagnose::curvature_svg(trainer.curvature_rows()),
            &out.join("diagnostics.svg"),
        )?;
    }
    if !trainer.time_rows().is_empty() {
        plot::save_svg(&crate::report::diagnose::time_svg(trainer.time_rows()), &out.join("time_grads.svg"))?;
    }
    if !trainer.layer_rows().is_empty() {
        plot::save_svg(&crate::report::diagnose::layers_svg(trainer.layer_rows()), &out.join("layer_stats.svg"))?;
    }
    print_summary(&summary, metric);
    Ok(trainer)
}

/// What a problem's error is, and how it prints: the 0-1 error in percent, any other metric
/// (a reconstruction error, a loss) as a number.
#[derive(Clone, Copy)]
struct Metric {
    name: &'static str,
    percent: bool,
}

impl Metric {
    fn of(problem: &str) -> Self {
        let name = descent::problems::named(problem).map_or("0-1 error", |p| p.metric);
        Metric { name, percent: name.starts_with("0-1 error") }
    }

    fn show(&self, value: f64) -> String {
        if self.percent {
            format!("{:5.2}%", 100.0 * value)
        } else {
            format!("{value:.4}")
        }
    }
}

/// With `--resume`, the run's `config.toml` fixes everything but the number of epochs: any other
/// flag on the command line is refused rather than silently ignored.
fn refuse_flags_beside_resume(args: impl Iterator<Item = String>) -> Result<()> {
    let given: Vec<String> = args
        .filter(|arg| arg.starts_with("--"))
        .map(|arg| arg.split('=').next().unwrap_or_default().to_string())
        .filter(|flag| flag != "--resume" && flag != "--epochs")
        .collect();
    match given.first() {
        None => Ok(()),
        Some(flag) => Err(bad_input(format!(
            "{flag}: cannot be changed when resuming (the run's config.toml fixes it); only --epochs can"
        ))),
    }
}

/// The resolved configuration from the flags, each checked with the flag named.
pub fn build_config(args: &TrainArgs, epochs: Option<u32>) -> Result<TrainConfig> {
    let mut config = crate::flags::problem_config(&args.problem)?;
    config.data = args.data.clone();
    if let Some(dir) = &config.data {
        let is_csv = dir.extension().is_some_and(|e| e == "csv");
        if !(dir.is_dir() || is_csv && dir.is_file()) {
            return Err(bad_input(format!(
                "--data {}: no such folder (of MNIST IDX files) or CSV file",
                dir.display()
            )));
        }
    }
    if let Some(hidden) = &args.hidden {
        config.hidden = hidden
            .split(',')
            .filter(|w| !w.trim().is_empty())
            .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad_input(format!("--hidden {hidden}: expected widths >= 1, comma-separated (e.g. 1000,500,100)"))
            })?;
    }
    if let Some(activation) = &args.activation {
        let parsed = activation
            .parse::<descent::network::Activation>()
            .map_err(|e| bad_input(format!("--activation {activation}: {e}")))?;
        let dense = descent::problems::named(&config.problem)
            .is_ok_and(|p| matches!(p.task, descent::problems::Task::Classify { .. }));
        if !dense {
            return Err(bad_input(format!(
                "--activation {activation}: {} fixes its own nonlinearity ({})",
                config.problem, config.activation
            )));
        }
        config.activation = parsed;
    }
    if let Some(init) = &args.init {
        config.init = init
            .parse::<descent_optim::Init>()
            .map_err(|e| bad_input(format!("--init {init}: {}", crate::flags::reason(&e))))?;
    }
    let optimizers = args.optimizer.configs("adam", |c| c.lr)?;
    let [optimizer] = &optimizers[..] else {
        return Err(bad_input(format!(
            "--optimizer {}: train takes one optimizer (compare several with the lab)",
            args.optimizer.optimizers.as_deref().unwrap_or("")
        )));
    };
    args.optimizer.schedule(optimizer.lr, 1)?;
    config.optimizer = optimizer.name.to_string();
    config.convention = optimizer.convention;
    config.lr = optimizer.lr;
    config.weight_decay = optimizer.weight_decay;
    config.set_overrides(&args.optimizer.overrides());
    config.schedule = args.optimizer.schedule.clone();
    config.clip = args.optimizer.clip()?;
    if let Some(batch) = args.batch {
        config.batch = positive("--batch", batch)? as usize;
    }
    config.drop_last = args.drop_last;
    if let Some(epochs) = epochs {
        config.epochs = epochs;
    }
    if let Some(val_size) = args.val_size {
        if val_size < 0 {
            return Err(bad_input(format!("--val-size {val_size}: must be at least 0")));
        }
        config.val_size = val_size as usize;
    }
    config.early_stop = args.early_stop.map(|p| positive("--early-stop", p)).transpose()?.map(|p| p as u32);
    if let Some(plateau) = &args.reduce_on_plateau {
        config.plateau = Some(plateau.parse().map_err(|e| bad_input(format!("--reduce-on-plateau {plateau}: {e}")))?);
    }
    if let Some(watched) = &args.early_stop_on {
        config.early_stop_on = watched.parse().map_err(|e| bad_input(format!("--early-stop-on {watched}: {e}")))?;
    }
    if let Some(average) = &args.average {
        config.average = Some(average.parse().map_err(|e| bad_input(format!("--average {average}: {e}")))?);
    }
    config.standardize = args.standardize;
    if let Some(length) = args.length {
        if length < 2 {
            return Err(bad_input(format!("--length {length}: must be at least 2")));
        }
        config.length = Some(length as usize);
    }
    config.seed = args.seed;
    if let Some(threads) = args.threads {
        config.threads = crate::flags::threads("--threads", threads as i64)?;
    }
    config.shards = args.shards.map(|n| positive("--shards", n)).transpose()?.map(|n| n as usize);
    Ok(config)
}

/// A progress bar per epoch on stderr (hidden when stderr is not a terminal) and a line per epoch.
struct Progress {
    epochs: u32,
    metric: Metric,
    /// "error" or "loss": what early stopping watches.
    watched: &'static str,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(epochs: u32, metric: Metric, watched: Watched) -> Self {
        let watched = if watched == Watched::ValLoss { "loss" } else { "error" };
        Progress { epochs, metric, watched, bar: None }
    }

    fn show(&mut self, event: Event<'_>) {
        match event {
            Event::EpochStart { epoch, examples, .. } => {
                let bar = ProgressBar::new(examples as u64);
                bar.set_style(
                    ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} examples, {msg} ({eta} left)")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(format!("{epoch}/{}", self.epochs));
                self.bar = Some(bar);
            }
            Event::Batch { done, examples, running_loss, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(examples as u64);
                    if done % 10 == 0 {
                        let rate = examples as f64 / bar.elapsed().as_secs_f64().max(1e-9);
                        bar.set_message(format!("{rate:.0} examples/s, loss {running_loss:.4}"));
                    }
                }
            }
            Event::EpochEnd(m) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let error = |value| self.metric.show(value);
                println!(
                    "epoch {:>3}/{}  train loss {:.4} err {}  val loss {:.4} err {}  test err {}  lr {}  {:.1}s",
                    m.epoch,
                    self.epochs,
                    m.train_loss,
                    error(m.train_error),
                    m.val_loss,
                    error(m.val_error),
                    error(m.test_error),
                    table::number(m.lr, 3),
                    m.seconds
                );
                if let Some(a) = m.averaged {
                    println!(
                        "           average of the iterates:  val loss {:.4} err {}  test err {}",
                        a.val_loss,
                        error(a.val_error),
                        error(a.test_error)
                    );
                }
            }
            Event::EarlyStop { best_epoch } => {
                println!(
                    "early stop: validation {} has not improved since epoch {best_epoch}; its parameters are kept",
                    self.watched
                );
            }
            _ => {}
        }
    }
}

fn print_summary(summary: &Summary, metric: Metric) {
    let Some(m) = &summary.final_metrics else { return };
    println!();
    let rows = vec![
        vec!["train (running)".into(), format!("{:.4}", m.train_loss), metric.show(m.train_error).trim().to_string()],
        vec!["validation".into(), format!("{:.4}", m.val_loss), metric.show(m.val_error).trim().to_string()],
        vec!["test".into(), format!("{:.4}", m.test_loss), metric.show(m.test_error).trim().to_string()],
    ];
    let averaged = m.averaged.iter().flat_map(|a| {
        [
            vec![
                "validation (average)".into(),
                format!("{:.4}", a.val_loss),
                metric.show(a.val_error).trim().to_string(),
            ],
            vec!["test (average)".into(), format!("{:.4}", a.test_loss), metric.show(a.test_error).trim().to_string()],
        ]
    });
    let rows: Vec<Vec<String>> = rows.into_iter().chain(averaged).collect();
    print!("{}", table::render(&[&format!("epoch {}", summary.final_epoch), "loss", metric.name], &rows));
    let gap = m.test_error - m.train_error;
    let gap = if metric.percent { format!("{:+.2} points", 100.0 * gap) } else { format!("{gap:+.4}") };
    println!(
        "generalization gap (test − train error): {gap}; {} updates in {:.1}s of training ({:.0} examples/s)",
        summary.steps, summary.seconds, summary.examples_per_second
    );
}

/// Loss and error against epoch, train/validation/test, as two stacked panels.
fn curves(metrics: &[EpochMetrics], metric: Metric) -> String {
    let epochs = metrics.last().map_or(1, |m| m.epoch).max(2) as f64;
    let series = |pick: &dyn Fn(&EpochMetrics) -> [f64; 3]| -> [Vec<(f64, f64)>; 3] {
        let mut out: [Vec<(f64, f64)>; 3] = Default::default();
        for m in metrics {
            for (line, value) in out.iter_mut().zip(pick(m)) {
                line.push((m.epoch as f64, value));
            }
        }
        out
    };
    let panel = |title: &str, y_label: &str, lines: [Vec<(f64, f64)>; 3], percent: bool| {
        let figure = Figure::new(720.0, 320.0, (1.0, epochs), (0.0, 0.0)).labels(title, "epoch", y_label);
        let mut figure = if percent { figure.percent_y() } else { figure };
        for ((line, name), colour) in lines.iter().zip(["train", "validation", "test"]).zip(PALETTE) {
            figure.line(line, colour, Some(name));
            for &point in line {
                figure.marker(point, "circle", colour, 2.5);
            }
        }
        figure
    };
    plot::stack(&[
        panel("surrogate loss", "loss", series(&|m| [m.train_loss, m.val_loss, m.test_loss]), false),
        panel(metric.name, "error (%)", series(&|m| [m.train_error, m.val_error, m.test_error]), true),
    ])
}

//! `descent compare`: the lab. Runs optimizers side by side on one problem, tunes each one's
//! learning rate on validation error, reruns the chosen rate over seeds, and writes the report.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use descent::lab::{self, ExperimentSpec, LabEvent, LrGrid};
use descent::problems;
use indicatif::{ProgressBar, ProgressStyle};

use crate::flags::{positive, reason};
use crate::{bad_input, report, table, Stopped};

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[arg(long, help = crate::flags::problem_help("mnist-mlp, or the experiment file's"))]
    problem: Option<String>,
    /// Optimizers, comma-separated (default: sgd,momentum,nesterov,adagrad,rmsprop,adam,adadelta;
    /// also rmsprop-nesterov, adamw, amsgrad, nadam, adamax, radam, lion, adafactor, muon,
    /// schedule-free-adamw).
    #[arg(long, value_name = "LIST")]
    optimizers: Option<String>,
    /// Learning-rate grid: auto (a decade either side of each optimizer's default), find (a
    /// decade either side of the rate `descent lr-find` suggests for it) or a list, e.g.
    /// 0.3,0.1,0.03.
    #[arg(long, value_name = "auto|find|LIST", allow_hyphen_values = true)]
    lrs: Option<String>,
    /// Seeds the chosen setting is reported over, after the tuning seeds (default 3; 1 for a 2-D
    /// function). Raising it on a finished report runs only the new seeds.
    #[arg(long, allow_negative_numbers = true)]
    seeds: Option<i64>,
    /// Seeds every setting is tuned over, 1 to N; the choice is on their mean validation error
    /// and none of them is reported (default 1).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    tuning_seeds: Option<i64>,
    /// Epochs per run (updates for a 2-D function; default: the problem's budget). Raising it on a
    /// finished report continues every run from its checkpoint.
    #[arg(long, allow_negative_numbers = true)]
    epochs: Option<i64>,
    /// Minibatch size (default 128).
    #[arg(long, allow_negative_numbers = true)]
    batch: Option<i64>,
    /// Training examples held out for validation (default 5000).
    #[arg(long, allow_negative_numbers = true)]
    val_size: Option<i64>,
    /// Test error that counts as reaching the result (default: the problem's).
    #[arg(long, allow_negative_numbers = true)]
    target: Option<f64>,
    /// Folder with the four MNIST IDX files (default: the bundled subset).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Sequence length T of the adding problem (default 50).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    length: Option<i64>,
    /// Runs at a time, one thread each (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<i64>,
    /// Keep each finished run's last checkpoint (megabytes per run), so that running again with
    /// more epochs continues every run instead of starting it again.
    #[arg(long)]
    keep_checkpoints: bool,
    /// Experiment file (TOML); flags given as well take precedence.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Report folder (default: reports/compare-PROBLEM). Running again with the same folder
    /// continues an interrupted comparison.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let spec = experiment_spec(&args)?;
    let mut experiment = spec.resolve(args.config.as_deref()).map_err(crate::core_error)?;
    if args.lrs.as_deref().map(str::trim) == Some("find") {
        centre_grids_on_range_tests(&mut experiment)?;
    }
    let jobs = match args.jobs {
        Some(jobs) => crate::flags::threads("--jobs", jobs)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let out =
        args.out.clone().unwrap_or_else(|| PathBuf::from("reports").join(format!("compare-{}", experiment.problem)));
    let job = crate::ranks::collective();
    if job.size() == 1 {
        lab::prepare(&experiment, &out).map_err(crate::core_error)?;
    }

    let problem = experiment.problem();
    let runs = experiment.planned_runs();
    let tuning = experiment.tuning_seeds();
    let reported = experiment.reported_seeds();
    println!(
        "{}: {} optimizers, {} runs of {} {} planned (more where a grid's best rate lies at its edge) on {} worker{}; \
         tuned on seed{} {}, reported on seed{} {}; report in {}",
        problem.name,
        experiment.variants.len(),
        runs,
        experiment.epochs,
        if problem.is_classifier() { "epochs" } else { "updates" },
        jobs,
        if jobs == 1 { "" } else { "s" },
        if tuning.len() == 1 { "" } else { "s" },
        seed_range(&tuning),
        if reported.len() == 1 { "" } else { "s" },
        seed_range(&reported),
        out.display()
    );
    // The first Ctrl-C stops cleanly (finished runs and each run's last epoch are kept).
    let stop = crate::stop_on_ctrl_c("stopping: finishing nothing new");
    let progress = LabProgress::new(problem);
    let outcome = lab::run_shared(&experiment, &out, jobs, &stop, &|event| progress.show(event), job.as_ref());
    progress.bar.finish_and_clear();
    let results = lab_outcome(outcome, &out)?;
    if !job.is_root() {
        return Ok(());
    }
    println!();
    let added = results.runs.len().saturating_sub(runs);
    if added > 0 {
        println!("{} runs in all: {added} added where a grid's best rate lay at its edge.", results.runs.len());
    }
    print!("{}", report::text_summary(&results));
    let page = report::write(&results, &out)?;
    println!();
    println!("report: {}", page.display());
    println!("also: {0}/summary.csv, {0}/results.json, {0}/plots/, {0}/runs/", out.display());
    Ok(())
}

/// `1`, `2-4`: a run of consecutive seeds.
fn seed_range(seeds: &[u64]) -> String {
    match seeds {
        [] => "none".into(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first}-{last}"),
    }
}

/// What the lab returned, as the user should see it: a stop asked for (Ctrl-C) says where the
/// finished runs are and how to continue.
pub(crate) fn lab_outcome<T>(outcome: Result<T, descent::Error>, out: &std::path::Path) -> Result<T> {
    match outcome {
        Err(descent::Error::Interrupted { .. }) => Err(Stopped(format!(
            "stopped; finished runs are kept in {0}. Run the same command again to continue.",
            out.display()
        ))
        .into()),
        other => other.map_err(crate::core_error),
    }
}

/// The experiment file (if any) with the flags laid over it, each flag checked and named.
fn experiment_spec(args: &CompareArgs) -> Result<ExperimentSpec> {
    let mut spec = match &args.config {
        Some(path) => ExperimentSpec::read(path).map_err(crate::core_error)?,
        None => ExperimentSpec::default(),
    };
    if let Some(problem) = &args.problem {
        problems::named(problem).map_err(|e| match e {
            descent::Error::Config(config) => bad_input(format!("--problem {problem}: {}", reason(&config))),
            other => bad_input(other.to_string()),
        })?;
        spec.problem = Some(problem.clone());
    }
    if let Some(list) = &args.optimizers {
        spec.optimizers = Some(parse_optimizers(list)?);
        spec.variants.clear();
    }
    if let Some(text) = &args.lrs {
        spec.lrs = Some(parse_lrs(text)?);
        for variant in &mut spec.variants {
            variant.lrs = None;
        }
    }
    if args.keep_checkpoints {
        spec.keep_checkpoints = Some(true);
    }
    if let Some(seeds) = args.seeds {
        spec.seeds = Some(positive("--seeds", seeds)? as u32);
    }
    if let Some(seeds) = args.tuning_seeds {
        spec.tuning_seeds = Some(positive("--tuning-seeds", seeds)? as u32);
    }
    if let Some(epochs) = args.epochs {
        spec.epochs = Some(positive("--epochs", epochs)? as u32);
    }
    if let Some(batch) = args.batch {
        spec.batch = Some(positive("--batch", batch)? as usize);
    }
    if let Some(val_size) = args.val_size {
        spec.val_size = Some(positive("--val-size", val_size)? as usize);
    }
    if let Some(target) = args.target {
        if !target.is_finite() {
            return Err(bad_input(format!("--target {target}: must be a finite number")));
        }
        spec.target = Some(target);
    }
    if let Some(length) = args.length {
        if length < 2 {
            return Err(bad_input(format!("--length {length}: must be at least 2")));
        }
        spec.length = Some(length as usize);
    }
    if let Some(dir) = &args.data {
        if !dir.is_dir() {
            return Err(bad_input(format!("--data {}: no such folder (of MNIST IDX files)", dir.display())));
        }
        spec.data = Some(dir.clone());
    }
    Ok(spec)
}

/// `--optimizers`: a comma-separated list of known optimizers.
pub(crate) fn parse_optimizers(list: &str) -> Result<Vec<String>> {
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    for name in &names {
        if name.is_empty() {
            return Err(bad_input(format!("--optimizers '{list}': empty name in the list")));
        }
        descent_optim::OptimizerConfig::named(name, descent_optim::Convention::Book)
            .map_err(|e| bad_input(format!("--optimizers {name}: {}", reason(&e))))?;
    }
    Ok(names)
}

/// `auto` or a comma-separated list of positive rates.
pub(crate) fn parse_lrs(text: &str) -> Result<LrGrid> {
    // `find` resolves as `auto`; the grids are then replaced by the range tests' (see
    // centre_grids_on_range_tests).
    if text.trim() == "auto" || text.trim() == "find" {
        return Ok(LrGrid::Keyword("auto".into()));
    }
    let rates: Vec<Option<f64>> = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| part.trim().parse::<f64>().ok().filter(|lr| lr.is_finite() && *lr > 0.0))
        .collect();
    if rates.is_empty() {
        return Err(bad_input(format!("--lrs '{text}': the list is empty (give rates, e.g. 0.1,0.01, or auto)")));
    }
    let rates: Option<Vec<f64>> = rates.into_iter().collect();
    rates
        .map(LrGrid::List)
        .ok_or_else(|| bad_input(format!("--lrs {text}: expected positive numbers, comma-separated, or auto, or find")))
}

/// `--lrs find`: each variant's grid becomes a decade either side of the rate `descent lr-find`
/// suggests for it (on its own settings, seed 1), rounded to three digits and grown at an edge
/// as `auto` grids are. The range test is deterministic, so a rerun finds the same grids.
fn centre_grids_on_range_tests(experiment: &mut descent::lab::Experiment) -> Result<()> {
    use descent::lab::lr_find::RangeTest;
    if !experiment.problem().is_classifier() {
        return Err(bad_input(format!(
            "--lrs find: the range test trains a model; {} is not one (give a list or auto)",
            experiment.problem
        )));
    }
    for index in 0..experiment.variants.len() {
        let variant = &experiment.variants[index];
        let config = experiment.train_config(variant, &descent::lab::experiment::Setting::rate(1.0), 1);
        let splits = descent::train::Splits::load(&config).map_err(crate::core_error)?;
        let result = RangeTest::default().run(config, splits).map_err(crate::core_error)?;
        let Some(suggestion) = result.suggestion else {
            return Err(bad_input(format!("--lrs find: the range test of {} recorded no finite loss", variant.name)));
        };
        let round = |lr: f64| format!("{lr:.2e}").parse::<f64>().expect("a number");
        let grid = vec![round(suggestion / 10.0), round(suggestion), round(suggestion * 10.0)];
        println!("lr-find: {} suggests {}; grid {grid:?}", variant.name, round(suggestion));
        let variant = &mut experiment.variants[index];
        (variant.lrs, variant.extend) = (grid, true);
    }
    Ok(())
}

/// One progress bar over every epoch of every run, and a line per finished run.
pub(crate) struct LabProgress {
    pub(crate) bar: ProgressBar,
    classifier: bool,
    /// Whether the problem's error is the 0-1 error, shown in percent.
    percent: bool,
    /// What a setting is chosen on: "validation error", "validation loss", "final f − f*".
    chosen_on: String,
    /// The runs first planned, to tell a grid's growth when more are planned later.
    first_planned: std::sync::atomic::AtomicUsize,
}

impl LabProgress {
    pub(crate) fn new(problem: &descent::problems::Problem) -> Self {
        let (classifier, percent) = (problem.is_classifier(), problem.metric.starts_with("0-1 error"));
        let chosen_on = match (classifier, percent) {
            (true, true) => "validation error".to_string(),
            (true, false) => format!("validation {}", problem.metric),
            (false, _) => format!("final {}", problem.metric),
        };
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} epochs, {msg} ({elapsed} elapsed, {eta} left)")
                .expect("valid template")
                .progress_chars("=> "),
        );
        LabProgress { bar, classifier, percent, chosen_on, first_planned: Default::default() }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            println!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    pub(crate) fn show(&self, event: LabEvent<'_>) {
        match event {
            LabEvent::Planned { runs, epochs } => {
                use std::sync::atomic::Ordering::Relaxed;
                self.bar.set_length(epochs);
                let first = match self.first_planned.compare_exchange(0, runs, Relaxed, Relaxed) {
                    Ok(_) => runs,
                    Err(first) => first,
                };
                self.bar.set_message(match runs - first {
                    0 => format!("{runs} runs"),
                    added => format!("{runs} runs: {added} added where a grid's best rate lay at its edge"),
                });
            }
            LabEvent::Epoch { .. } => self.bar.inc(1),
            LabEvent::Finished { result, from_disk, epochs_skipped } => {
                self.bar.inc(epochs_skipped);
                let outcome = match (&result.diverged, result.last()) {
                    (Some(why), _) => format!("diverged: {why}"),
                    (None, Some(m)) if self.classifier && self.percent => format!(
                        "val err {:.2}%, test err {:.2}%, {:.1}s",
                        100.0 * m.val_error,
                        100.0 * m.test_error,
                        m.seconds
                    ),
                    (None, Some(m)) if self.classifier => format!(
                        "val {}, test {}, {:.1}s",
                        table::number(m.val_error, 4),
                        table::number(m.test_error, 4),
                        m.seconds
                    ),
                    (None, Some(m)) => format!("final {}", table::number(m.val_error, 3)),
                    (None, None) => "no epoch finished".into(),
                };
                let origin = if from_disk { " (from an earlier invocation)" } else { "" };
                self.line(format!(
                    "{:<12} {:<8} seed {}: {outcome}{origin}",
                    result.variant,
                    result.setting.label(|lr| table::number(lr, 3)),
                    result.seed
                ));
            }
            LabEvent::Rerun { variant, setting, seed, reason } => {
                let setting = setting.label(|lr| table::number(lr, 3));
                self.line(format!("{variant:<12} {setting:<8} seed {seed}: runs again from the start: {reason}"));
            }
            LabEvent::Chosen { variant, setting } => {
                let chosen = setting.label(|lr| table::number(lr, 3)).replacen("lr ", "rate ", 1);
                self.line(format!("{variant}: {chosen} chosen on {}", self.chosen_on));
            }
        }
    }
}

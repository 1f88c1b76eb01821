//! `descent suite`: the lab over many problems. Runs `compare`'s protocol for a list of optimizers
//! on each problem of a list (the quick suite by default), one comparison folder per problem, and
//! writes the answer across problems: time to target, performance profiles, scores, robustness.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use descent::lab::suite::{self, SuiteSpec, QUICK_SUITE};
use descent::problems;

use super::compare::{parse_lrs, parse_optimizers, LabProgress};
use crate::flags::{positive, reason};
use crate::{bad_input, report};

#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Problems, comma-separated (default: the quick suite, mnist-logreg, mnist-mlp, mnist-2c2d,
    /// fmnist-2c2d, mnist-autoencoder, quadratic-deep, mnist-rnn, each with its own small budget).
    #[arg(long, value_name = "LIST")]
    problems: Option<String>,
    /// Optimizers, comma-separated (default: sgd,momentum,rmsprop,adam).
    #[arg(long, value_name = "LIST")]
    optimizers: Option<String>,
    /// Learning-rate grid of every optimizer: auto (a decade either side of its default) or a
    /// list, e.g. 0.3,0.1,0.03.
    #[arg(long, value_name = "auto|LIST", allow_hyphen_values = true)]
    lrs: Option<String>,
    /// Seeds the chosen rate runs with (default 2).
    #[arg(long, allow_negative_numbers = true)]
    seeds: Option<i64>,
    /// Epochs per run on every problem (default: each problem's budget in the suite).
    #[arg(long, allow_negative_numbers = true)]
    epochs: Option<i64>,
    /// Folder with the full data sets: DIR/mnist and DIR/fashion-mnist, four IDX files each
    /// (default: the bundled subsets).
    #[arg(long, value_name = "DIR")]
    data_root: Option<PathBuf>,
    /// Runs at a time, one thread each (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<i64>,
    /// Suite file (TOML); flags given as well take precedence.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Suite folder (default: reports/suite). Running again with the same folder continues an
    /// interrupted suite.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: SuiteArgs) -> Result<()> {
    let spec = suite_spec(&args)?;
    let suite = spec.resolve(args.config.as_deref()).map_err(crate::core_error)?;
    let jobs = match args.jobs {
        Some(jobs) => crate::flags::threads("--jobs", jobs)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("reports").join("suite"));
    let job = crate::ranks::collective();
    if job.size() == 1 {
        suite::prepare(&suite, &out).map_err(crate::core_error)?;
    }
    let optimizers = &suite.problems[0].variants;
    println!(
        "suite: {} problems × {} optimizers ({}), {} seed{} at each chosen rate, on {jobs} worker{}; folder {}",
        suite.problems.len(),
        optimizers.len(),
        optimizers.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", "),
        suite.problems[0].seeds,
        if suite.problems[0].seeds == 1 { "" } else { "s" },
        if jobs == 1 { "" } else { "s" },
        out.display()
    );
    let stop = crate::stop_on_ctrl_c("stopping: finishing nothing new");
    let progress: Vec<LabProgress> = (suite.problems.iter()).map(|e| LabProgress::new(e.problem())).collect();
    let announced = std::sync::Mutex::new(None::<String>);
    let outcome = suite::run_shared(
        &suite,
        &out,
        jobs,
        &stop,
        &|name, event| {
            let index = suite.problems.iter().position(|e| e.problem == name).expect("a problem of the suite");
            let mut last = announced.lock().expect("no panic holding it");
            if last.as_deref() != Some(name) {
                if let Some(previous) = last.as_deref().and_then(|p| suite.problems.iter().position(|e| e.problem == p))
                {
                    progress[previous].bar.finish_and_clear();
                }
                let experiment = &suite.problems[index];
                println!(
                    "\n{name}: {} {} per run, target {} on validation ≤ {}",
                    experiment.epochs,
                    if experiment.problem().is_classifier() { "epochs" } else { "updates" },
                    experiment.problem().metric,
                    report::metric_text(experiment.problem().metric, experiment.target)
                );
                *last = Some(name.to_string());
            }
            drop(last);
            progress[index].show(event);
        },
        job.as_ref(),
    );
    progress.iter().for_each(|p| p.bar.finish_and_clear());
    let (all, results) = super::compare::lab_outcome(outcome, &out)?;
    if !job.is_root() {
        return Ok(());
    }
    for results in &all {
        report::write(results, &suite::problem_folder(&out, &results.experiment.problem))?;
    }
    println!();
    print!("{}", report::suite::text_summary(&results));
    let page = report::suite::write(&results, &out)?;
    println!();
    println!("report: {}", page.display());
    println!("also: {0}/suite.csv, {0}/results.json, and each problem's report in {0}/PROBLEM/", out.display());
    Ok(())
}

/// The suite file (if any) with the flags laid over it, each flag checked and named.
fn suite_spec(args: &SuiteArgs) -> Result<SuiteSpec> {
    let mut spec = match &args.config {
        Some(path) => SuiteSpec::read(path).map_err(crate::core_error)?,
        None => SuiteSpec::default(),
    };
    if let Some(list) = &args.problems {
        let names: Vec<String> =
            list.split(',').map(|s| s.trim().to_string()).filter(|name| !name.is_empty()).collect();
        if names.is_empty() {
            return Err(bad_input(format!("--problems '{list}': the list is empty")));
        }
        for name in &names {
            problems::named(name).map_err(|e| match e {
                descent::Error::Config(config) => bad_input(format!("--problems {name}: {}", reason(&config))),
                other => bad_input(other.to_string()),
            })?;
        }
        spec.problems = Some(names);
    }
    if let Some(list) = &args.optimizers {
        spec.optimizers = Some(parse_optimizers(list)?);
    }
    if let Some(text) = &args.lrs {
        spec.lrs = Some(parse_lrs(text)?);
    }
    if let Some(seeds) = args.seeds {
        spec.seeds = Some(positive("--seeds", seeds)? as u32);
    }
    if let Some(epochs) = args.epochs {
        spec.epochs = Some(positive("--epochs", epochs)? as u32);
    }
    if let Some(root) = &args.data_root {
        if !root.is_dir() {
            return Err(bad_input(format!("--data-root {}: no such folder", root.display())));
        }
        // Each problem's data, named with the flag before the suite is resolved.
        let names: Vec<String> = match &spec.problems {
            Some(names) => names.clone(),
            None => QUICK_SUITE.iter().map(|(name, ..)| name.to_string()).collect(),
        };
        for name in &names {
            let Ok(problem) = problems::named(name) else { continue };
            if let Some(folder) = suite::data_folder(root, problem.data) {
                descent::data::mnist::check_folder(&folder)
                    .map_err(|e| bad_input(format!("--data-root {}: {e} (the data of {name})", root.display())))?;
            }
        }
        spec.data_root = Some(root.clone());
    }
    Ok(spec)
}

//! `descent diagnose`: trains a problem for a budget with every monitor on and writes a small
//! report that explains each plot in a sentence.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use descent::diagnostics::{self, CurvatureRow, DiagnosticsConfig, DIAGNOSTICS_HEADER};
use descent::functions::Function2d;
use descent::problems::{self, Problem};
use descent::train::{self, Splits, Trainer, DIAGNOSTICS_FILE};
use descent::trajectory::RunSettings;

use super::optimize::contour_figure;
use super::train::{build_config, train_into, TrainArgs};
use crate::bad_input;
use crate::flags::{positive, reason};
use crate::plot;
use crate::report::diagnose::{self as pictures, findings};

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    train: TrainArgs,
}

/// The monitors' default interval: every update of a 2-D function, every 50th of a network.
fn default_every(problem: &Problem) -> u64 {
    if problem.is_classifier() {
        50
    } else {
        1
    }
}

pub fn run(args: DiagnoseArgs) -> Result<()> {
    let args = args.train;
    let problem = problems::named(&args.problem).map_err(|e| match e {
        descent::Error::Config(config) => bad_input(format!("--problem {}: {}", args.problem, reason(&config))),
        other => bad_input(other.to_string()),
    })?;
    if args.resume.is_some() {
        return Err(bad_input("--resume: diagnose starts fresh runs (resume one with descent train --resume DIR)"));
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("diagnose-{}", problem.name)));
    if train::holds_a_run(&out) || out.join(DIAGNOSTICS_FILE).exists() {
        return Err(bad_input(format!("--out {}: already holds a run; choose another folder", out.display())));
    }
    if !descent::files::is_free_folder(&out) && !train::holds_an_unstarted_run(&out) {
        return Err(bad_input(format!(
            "--out {}: holds files that are not a descent run; choose a new or empty folder",
            out.display()
        )));
    }
    let mut monitors = args.diagnostics.config(Some(default_every(problem)))?.expect("a default interval");
    let page = if problem.is_classifier() {
        monitors.layer_stats = true;
        diagnose_network(&args, monitors, &out)?
    } else {
        for (given, flag, what) in
            [(args.diagnostics.layer_stats, "--layer-stats", "layers"), (args.drop_last, "--drop-last", "batches")]
        {
            if given {
                return Err(bad_input(format!(
                    "{flag}: {} is a 2-D function and has no {what} (use a network problem such as mnist-mlp)",
                    problem.name
                )));
            }
        }
        diagnose_function(&args, problem, &monitors, &out)?
    };
    println!("report: {}", page.display());
    Ok(())
}

/// The terminal's account of a diagnosis: the first and last diagnosed updates (λ_max, the
/// stable rate, the rate's share of it, and the other instruments), then the findings.
fn print_summary(rows: &[CurvatureRow], facts: &[String]) {
    print!("{}", pictures::terminal_table(rows));
    for fact in facts {
        println!("- {fact}");
    }
}

/// A network problem: a training run with the monitors on, in the run folder `out`.
fn diagnose_network(args: &TrainArgs, monitors: DiagnosticsConfig, out: &std::path::Path) -> Result<PathBuf> {
    let epochs = args.epochs.map(|e| positive("--epochs", e)).transpose()?.map(|e| e as u32);
    let mut config = build_config(args, epochs)?;
    config.diagnostics = Some(monitors);
    config.steps = args.diagnostics.steps()?;
    let splits = Splits::load(&config).map_err(crate::core_error)?;
    if let (Some(steps), None) = (config.steps, epochs) {
        // A budget in updates alone: enough epochs to hold it.
        let batches = splits.train.len().div_ceil(config.batch) as u64;
        config.epochs = steps.div_ceil(batches).max(1) as u32;
    }
    let trainer = train_into(Trainer::new(config, splits).map_err(crate::core_error)?, out)?;
    let rows = trainer.curvature_rows();
    let mut sections = curvature_sections(rows);
    sections.push((
        "Gradients and updates layer by layer",
        "Per layer: the minibatch gradient's norm, the parameters' norm and the relative size of each update; \
         gradients that shrink or grow from layer to layer are the vanishing and exploding gradients of §8.2.5."
            .into(),
        pictures::layers_svg(trainer.layer_rows()),
    ));
    plot::save_stack(&pictures::curvature_figures(rows), &out.join("diagnostics.png"))?;
    plot::save_stack(&pictures::layer_figures(trainer.layer_rows()), &out.join("layer_stats.png"))?;
    if !trainer.time_rows().is_empty() {
        let svg = pictures::time_svg(trainer.time_rows());
        plot::save_stack(&pictures::time_figures(trainer.time_rows()), &out.join("time_grads.png"))?;
        sections.push((
            "Gradients across time",
            "Top: how much of the minibatch loss's gradient reaches each time step h_t, at diagnosed updates; a \
             line falling towards t = 1 is the vanishing gradient of §8.2.5. Bottom: the spectral radius of W, \
             which sets that rate (Wᵗ = V diag(λ)ᵗ V⁻¹)."
                .into(),
            svg,
        ));
    }
    let config = trainer.config();
    let monitors = config.diagnostics.as_ref().expect("a diagnosed run");
    let mut facts = vec![format!(
        "{} trained with {} at rate {} for {} updates in batches of {}{}; diagnosed every {} updates on {} training \
         examples (the same batch each time). {}",
        config.problem,
        config.optimizer,
        config.lr,
        trainer.metrics().last().map_or(0, |m| m.step),
        config.batch,
        if config.drop_last { " (each epoch's short last batch dropped)" } else { "" },
        monitors.every,
        trainer.diagnostic_examples(),
        method(monitors),
    )];
    let optimizer = config.optimizer_config().map_err(crate::core_error)?;
    facts.extend(findings(rows, &optimizer));
    print_summary(rows, &facts[1..]);
    write_page(out, &format!("Diagnostics of {}", config.problem), &facts, &sections)
}

/// A 2-D function: one optimizer's path with the curvature monitor at its updates.
fn diagnose_function(
    args: &TrainArgs,
    problem: &Problem,
    monitors: &DiagnosticsConfig,
    out: &std::path::Path,
) -> Result<PathBuf> {
    let function: Function2d = problem.function().expect("a 2-D problem");
    let optimizers = args.optimizer.configs("sgd", |_| function.suggested_lr())?;
    let [optimizer] = &optimizers[..] else {
        return Err(bad_input("--optimizer: diagnose takes one optimizer (compare several with descent compare)"));
    };
    let steps = match (args.diagnostics.steps()?, args.epochs) {
        (Some(steps), _) => steps,
        (None, Some(epochs)) => positive("--epochs", epochs)? as u64,
        (None, None) => problem.budget as u64,
    };
    let settings = RunSettings {
        start: function.default_start(),
        steps,
        schedule: args.optimizer.schedule(optimizer.lr, steps)?,
        clip: args.optimizer.clip()?,
    };
    let (path, rows) = diagnostics::minimize(&function, optimizer, &settings, monitors).map_err(crate::core_error)?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create folder", out.display()))?;
    let csv = diagnostics::to_csv(DIAGNOSTICS_HEADER, rows.iter().map(CurvatureRow::csv_row));
    crate::plot::write_file(&out.join(DIAGNOSTICS_FILE), csv.as_bytes())?;
    let mut sections = curvature_sections(&rows);
    let contour = contour_figure(&function, std::slice::from_ref(&path), &args.optimizer.schedule).to_svg();
    plot::save_svg(&contour, &out.join("path.svg"))?;
    sections.push((
        "The path",
        format!("The path of {} on the contour lines of {function}, from the circle to the square.", optimizer.name),
        contour,
    ));
    plot::save_svg(&sections[0].2, &out.join("diagnostics.svg"))?;
    plot::save_stack(&pictures::curvature_figures(&rows), &out.join("diagnostics.png"))?;
    let mut facts = vec![format!(
        "{} on {function} from ({}, {}) at rate {} for {steps} updates{}; the Hessian-vector products are \
         central differences of the exact gradient. {}",
        optimizer.name,
        settings.start[0],
        settings.start[1],
        optimizer.lr,
        path.diverged_at.map_or(String::new(), |s| format!(" (it diverged at update {s})")),
        method(monitors),
    )];
    facts.extend(findings(&rows, optimizer));
    print_summary(&rows, &facts[1..]);
    write_page(out, &format!("Diagnostics of {} on {function}", optimizer.name), &facts, &sections)
}

/// How λ_max and tr(H) were estimated, in a sentence.
fn method(monitors: &DiagnosticsConfig) -> String {
    let power = if monitors.power_iterations == 0 {
        "λ_max was not estimated".to_string()
    } else {
        format!(
            "λ_max by power iteration until its residual ‖Hv − ρv‖ is at most {}·|ρ|, capped at {} products",
            monitors.tolerance, monitors.power_iterations
        )
    };
    let trace = if monitors.trace_probes == 0 {
        "tr(H) was not estimated".to_string()
    } else {
        format!("tr(H) by Hutchinson's estimator with {} Rademacher probes", monitors.trace_probes)
    };
    format!("{power}; {trace}.")
}

/// The curvature plot as a report section, written beside the CSV.
fn curvature_sections(rows: &[CurvatureRow]) -> Vec<(&'static str, String, String)> {
    vec![(
        "Curvature, the update taken, its noise and the distance travelled",
        "Top to bottom. The loss on the diagnostic batch, starred where an update raised it. The update the optimizer \
         actually took (its minibatch, momentum or adaptive scaling): its first-order gain −gᵀΔθ against the \
         second-order term ½ΔθᵀHΔθ that curvature takes back, with the decrease it produced; then the same two terms \
         for a plain step −εg, for comparison. Curvature: the sharpest, λ_max, and the curvature along the gradient \
         and along the update. The rate against the largest rate at which the optimizer in use is stable on the \
         local quadratic (2/λ_max for SGD, 2(1 + α)/λ_max for heavy-ball momentum; none is known for adaptive \
         methods), with plain gradient descent's 2/λ_max. α, where the update landed on the parabola fitted to the \
         loss and slope at its two ends (Cockpit's definition: −1 no move, 0 the minimum, 1 the far side). The \
         Hessian's trace by Hutchinson's estimator (the sum of all curvatures, against the largest). The gradient's \
         signal-to-noise ratio ‖ḡ‖²/tr Σ from the per-example gradients of the diagnostic batch (a minibatch of m has \
         m times it). The distance from the initial parameters and the size of each update. Values a log scale cannot \
         show (zero, negative) are crosses on the bottom edge."
            .into(),
        pictures::curvature_svg(rows),
    )]
}

fn write_page(
    out: &std::path::Path,
    title: &str,
    facts: &[String],
    sections: &[(&str, String, String)],
) -> Result<PathBuf> {
    let page = out.join("report.html");
    crate::plot::write_file(&page, pictures::page(title, facts, sections).as_bytes())?;
    Ok(page)
}

//! The suite report: `report.html` (self-contained: styles and the profile plot inline) with the
//! verdict across problems, the performance profiles, the scores, a problems × optimizers table
//! linking to each problem's own report; and the same numbers as a table for the terminal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use descent::lab::profile;
use descent::lab::suite::{ProblemStanding, Standing};
use descent::lab::SuiteResults;

use super::html::STYLE;
use super::verdict::metric_text;
use super::REPORT_FILE;
use crate::plot::{escape, Figure, PALETTE};
use crate::table;

/// Writes `plots/profile.svg|png` and the page into the suite folder `dir`; returns the page.
pub fn write(results: &SuiteResults, dir: &Path) -> Result<PathBuf> {
    let figure = profile_figure(results);
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).with_context(|| format!("{}: cannot create folder", plot_dir.display()))?;
    let svg = figure.to_svg();
    crate::plot::write_file(&plot_dir.join("profile.svg"), svg.as_bytes())?;
    crate::plot::save(&figure, &plot_dir.join("profile.png"))?;
    let path = dir.join(REPORT_FILE);
    crate::plot::write_file(&path, page(results, &svg).as_bytes())?;
    Ok(path)
}

/// The standings as a table, then the scores and the verdict, for the terminal.
pub fn text_summary(results: &SuiteResults) -> String {
    let columns =
        ["problem", "optimizer", "best lr", "updates to target", "epochs", "seconds", "final test", "rates reaching"];
    let rows: Vec<Vec<String>> = results
        .problems
        .iter()
        .flat_map(|problem| {
            problem.standings.iter().map(move |s| {
                vec![
                    problem.problem.clone(),
                    s.optimizer.clone(),
                    table::number(s.best_lr, 3),
                    time(s.updates_to_target, 0),
                    time(s.epochs_to_target, 1),
                    time(s.seconds_to_target, 1),
                    test_metric(problem, s),
                    format!("{}/{}", s.rates_reaching, s.rates_tried),
                ]
            })
        })
        .collect();
    let mut text = table::render(&columns, &rows);
    text.push('\n');
    for sentence in verdict(results) {
        text.push_str(&sentence);
        text.push('\n');
    }
    text
}

/// A time to target, or "not reached".
fn time(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "not reached".into(), |v| format!("{v:.decimals$}"))
}

/// The final test metric, mean ± std over seeds.
fn test_metric(problem: &ProblemStanding, standing: &Standing) -> String {
    let std = standing.test_std.map_or(String::new(), |s| format!(" ± {}", metric_text(&problem.metric, s)));
    format!("{}{std}", metric_text(&problem.metric, standing.test_mean))
}

/// A list in prose: "a", "a and b", "a, b and c".
fn prose(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Sentences: who ranks first overall, where each is fastest, where each fails, whether the
/// leads exceed the spread over seeds, and who needs the least tuning.
pub fn verdict(results: &SuiteResults) -> Vec<String> {
    let ratios = results.ratio_table();
    let names = &results.optimizers;
    let count = results.problems.len();
    let ranking = results.ranking();
    let mut sentences = Vec::new();
    let first = ranking[0];
    let tied = ranking.iter().filter(|&&s| results.scores[s] == results.scores[first]).count();
    let others: Vec<String> =
        ranking[tied..].iter().map(|&s| format!("{} {:.2}", names[s], results.scores[s])).collect();
    sentences.push(format!(
        "Across {count} problem{}, {} rank{} first overall with a score of {:.2} (the performance profile \
         integrated up to τ = {}: 1 means fastest to the target on every problem){}.",
        if count == 1 { "" } else { "s" },
        prose(&ranking[..tied].iter().map(|&s| names[s].clone()).collect::<Vec<_>>()),
        if tied == 1 { "s" } else { "" },
        results.scores[first],
        results.tau_max,
        if others.is_empty() { String::new() } else { format!("; then {}", others.join(", ")) }
    ));
    let mut wins = Vec::new();
    let mut failures = Vec::new();
    for (s, name) in names.iter().enumerate() {
        let won: Vec<String> = (0..count).filter(|&p| ratios[p][s] == 1.0).map(|p| problem(results, p)).collect();
        if !won.is_empty() {
            wins.push(format!("{name} on {}", prose(&won)));
        }
        let failed: Vec<String> =
            (0..count).filter(|&p| !ratios[p][s].is_finite()).map(|p| problem(results, p)).collect();
        if !failed.is_empty() && failed.len() < count {
            failures.push(format!("{name} on {}", prose(&failed)));
        } else if !failed.is_empty() {
            failures.push(format!("{name} on every problem"));
        }
    }
    if !wins.is_empty() {
        sentences.push(format!("Fastest to the target (median over seeds, in updates): {}.", wins.join("; ")));
    }
    let nobody: Vec<String> =
        (0..count).filter(|&p| ratios[p].iter().all(|r| !r.is_finite())).map(|p| problem(results, p)).collect();
    if !nobody.is_empty() {
        sentences.push(format!(
            "Nobody reached the target within the budget on {}: these problems lower every score alike.",
            prose(&nobody)
        ));
    }
    sentences.push(match failures.is_empty() {
        true => "Every optimizer reached every problem's target.".into(),
        false => format!("Not reached (the median seed missed the target): {}.", failures.join("; ")),
    });
    sentences.extend(spread_sentence(results));
    let reaching = |s: usize| -> (usize, usize) {
        results
            .problems
            .iter()
            .fold((0, 0), |(r, n), p| (r + p.standings[s].rates_reaching, n + p.standings[s].rates_tried))
    };
    if names.len() > 1 {
        let fraction = |s: usize| {
            let (r, n) = reaching(s);
            r as f64 / n.max(1) as f64
        };
        let mut by_robustness: Vec<usize> = (0..names.len()).collect();
        by_robustness.sort_by(|&a, &b| fraction(b).total_cmp(&fraction(a)));
        let (most, least) = (by_robustness[0], by_robustness[names.len() - 1]);
        if reaching(most).0 == 0 {
            sentences.push("Tuning: no rate of any optimizer's grid reached a target.".into());
            return sentences;
        }
        if fraction(most) == fraction(least) {
            sentences.push(format!(
                "Tuning: every optimizer reached the targets with the same share of the rates it tried ({:.0}%).",
                100.0 * fraction(most)
            ));
            return sentences;
        }
        sentences.push(format!(
            "Tuning: {} reached the targets with {} of the {} rates it tried across the suite (the most forgiving \
             of the rate); {} with {} of {}.",
            names[most],
            reaching(most).0,
            reaching(most).1,
            names[least],
            reaching(least).0,
            reaching(least).1
        ));
    }
    sentences
}

/// A problem's name.
fn problem(results: &SuiteResults, p: usize) -> String {
    results.problems[p].problem.clone()
}

/// Whether the fastest optimizer's lead on each problem exceeds the spread over seeds: its
/// slowest seed reached the target before the runner-up's fastest seed.
fn spread_sentence(results: &SuiteResults) -> Option<String> {
    if results.problems.iter().all(|p| p.standings.iter().all(|s| s.seeds < 2)) {
        return Some("With one seed per optimizer, how much of any lead is chance cannot be told.".into());
    }
    let mut clear = Vec::new();
    let mut unclear = Vec::new();
    for problem in &results.problems {
        let mut reached: Vec<&Standing> = problem.standings.iter().filter(|s| s.updates_to_target.is_some()).collect();
        reached.sort_by(|a, b| a.updates_to_target.partial_cmp(&b.updates_to_target).expect("finite times"));
        let (Some(winner), Some(second)) = (reached.first(), reached.get(1)) else { continue };
        match (winner.updates_spread.1, second.updates_spread.0) {
            (Some(slowest), Some(fastest)) if slowest < fastest => {
                clear.push(format!("{} on {}", winner.optimizer, problem.problem));
            }
            _ => unclear.push(problem.problem.clone()),
        }
    }
    if clear.is_empty() && unclear.is_empty() {
        return None;
    }
    let mut sentence = String::from("Against the spread over seeds: ");
    if !clear.is_empty() {
        let _ = write!(sentence, "a clear lead (its slowest seed beat the runner-up's fastest) for {}", prose(&clear));
    }
    if !unclear.is_empty() {
        let _ = write!(
            sentence,
            "{}within the spread, so not a clear win, on {}",
            if clear.is_empty() { "" } else { "; " },
            prose(&unclear)
        );
    }
    sentence.push('.');
    Some(sentence)
}

/// ρ_s(τ) against τ on a log axis from 1 to τ_max, one step line per optimizer.
fn profile_figure(results: &SuiteResults) -> Figure {
    let ratios = results.ratio_table();
    let tau_max = results.tau_max;
    let x = |tau: f64| tau.log2();
    let ticks: Vec<(f64, String)> = [1.0, 1.5, 2.0, 3.0, 4.0]
        .into_iter()
        .filter(|tau| *tau <= tau_max)
        .map(|tau| (x(tau), table::number(tau, 2)))
        .collect();
    let mut figure = Figure::new(760.0, 380.0, (0.0, x(tau_max)), (-0.02, 1.05))
        .labels(
            "performance profiles: problems solved within τ × the best time",
            "τ (log scale): time to target ÷ the fastest optimizer's, in updates",
            "fraction of problems ρ(τ)",
        )
        .x_ticks(ticks);
    for (s, name) in results.optimizers.iter().enumerate() {
        let steps = profile::profile_steps(&ratios, s, tau_max);
        let mut line = Vec::new();
        for (index, &(tau, rho)) in steps.iter().enumerate() {
            if index > 0 {
                line.push((x(tau), steps[index - 1].1));
            }
            line.push((x(tau), rho));
        }
        // Lines that coincide stay visible: each optimizer a little apart vertically.
        let offset = 0.006 * s as f64;
        let line: Vec<(f64, f64)> = line.into_iter().map(|(x, y)| (x, y + offset)).collect();
        let label = format!("{name} (score {:.2})", results.scores[s]);
        figure.line(&line, PALETTE[s % PALETTE.len()], Some(&label));
    }
    figure
}

/// The page.
fn page(results: &SuiteResults, profile_svg: &str) -> String {
    let mut html = String::new();
    let count = results.problems.len();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>descent suite: {count} problems</title>\n<style>{STYLE}td.miss{{color:#a33}}</style>\n</head>\n<body>\n\
         <h1>Optimizers across {count} problems</h1>\n"
    );
    html.push_str("<section id=\"verdict\" class=\"verdict\">\n");
    for sentence in verdict(results) {
        let _ = writeln!(html, "<p>{}</p>", escape(&sentence));
    }
    let first = &results.suite.problems[0];
    let data = match &results.suite.data_root {
        Some(root) => format!("the full data sets under <code>{}</code>", escape(&root.display().to_string())),
        None => "the bundled subsets (MNIST, Fashion-MNIST) and generated data".into(),
    };
    let _ = write!(
        html,
        "</section>\n<h2>Setup</h2>\n<ul id=\"setup\">\n\
         <li>Data: {data}.</li>\n\
         <li>Protocol, on every problem as <code>descent compare</code> runs it: every rate of each grid runs with \
         the tuning seeds 1 to {tuning}; the rate with the lowest final validation error (their mean) is chosen \
         (the test set never influences a choice), then rerun with seeds {first_reported} to {last_reported}, \
         the only ones reported. Each problem's own report is linked from its name below.</li>\n\
         <li>Time to target, AlgoPerf's way: the first epoch at whose end the <em>validation</em> metric is at or \
         below the problem's target, counted in updates, epochs and training seconds (seconds depend on the machine \
         and on what else ran on it; evaluation excluded); per optimizer, the median over its seeds, a seed that \
         never reaches the target counting as not reached.</li>\n\
         <li>Performance profile (Dolan &amp; Moré 2002): with t<sub>p,s</sub> the updates optimizer s needs on \
         problem p, r<sub>p,s</sub> = t<sub>p,s</sub> / min<sub>s′</sub> t<sub>p,s′</sub> and \
         ρ<sub>s</sub>(τ) = |{{p : r<sub>p,s</sub> ≤ τ}}| / |P|. Score (AlgoPerf, Dahl et al. 2023): \
         B<sub>s</sub> = 1/(τ<sub>max</sub> − 1) ∫<sub>1</sub><sup>τ<sub>max</sub></sup> ρ<sub>s</sub>(τ) dτ \
         with τ<sub>max</sub> = {tau_max}.</li>\n\
         <li>Optimizers: {optimizers}, with the {convention} convention's defaults; rate grids: {grid}.</li>\n</ul>\n",
        tuning = first.tuning_seeds().len(),
        first_reported = first.reported_seeds().first().copied().unwrap_or(1),
        last_reported = first.reported_seeds().last().copied().unwrap_or(1),
        tau_max = results.tau_max,
        optimizers = escape(&results.optimizers.join(", ")),
        convention = first.convention.name(),
        grid = first
            .variants
            .iter()
            .map(|v| format!(
                "{} {}",
                escape(&v.name),
                v.lrs.iter().map(|lr| table::number(*lr, 3)).collect::<Vec<_>>().join("/")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let _ = write!(
        html,
        "<h2>Performance profiles</h2>\n<figure id=\"plot-profile\">\n{svg}<figcaption>For each optimizer, the \
         fraction of problems on which it reached the target within τ times the fastest optimizer's updates. At \
         τ = 1: the share of problems where it was fastest (ties count for each); the height at the right: the share \
         it solved within {tau_max}× the best. Lines that coincide are drawn a hair apart. \
         (<a href=\"plots/profile.svg\">SVG</a>, <a href=\"plots/profile.png\">PNG</a>)</figcaption>\n</figure>\n",
        svg = profile_svg.replace("plot-area", "plot-area-profile"),
        tau_max = results.tau_max
    );
    html.push_str(
        "<h2>Scores</h2>\n<table id=\"scores\">\n<thead><tr><th>optimizer</th><th>score</th><th>problems reached</th>\
         <th>fastest on</th><th>rates reaching the target</th></tr></thead>\n<tbody>\n",
    );
    let ratios = results.ratio_table();
    for s in results.ranking() {
        let reached = ratios.iter().filter(|row| row[s].is_finite()).count();
        let fastest = ratios.iter().filter(|row| row[s] == 1.0).count();
        let (rates, tried) = results
            .problems
            .iter()
            .fold((0, 0), |(r, n), p| (r + p.standings[s].rates_reaching, n + p.standings[s].rates_tried));
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{:.3}</td><td>{reached} of {count}</td><td>{fastest}</td><td>{rates} of {tried}</td></tr>",
            escape(&results.optimizers[s]),
            results.scores[s]
        );
    }
    html.push_str(
        "</tbody>\n</table>\n<h2>Problems × optimizers</h2>\n<p>Each cell: time to target (median over seeds: \
         updates, epochs, seconds on this machine), the slowest and fastest seed in updates, the final test metric \
         (mean ± std over seeds) at the chosen rate, and how many of the grid's rates reached the target.</p>\n\
         <table id=\"summary\">\n<thead><tr><th>problem (target on validation)</th>",
    );
    for name in &results.optimizers {
        let _ = write!(html, "<th>{}</th>", escape(name));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for problem in &results.problems {
        let _ = write!(
            html,
            "<tr><td><a href=\"{name}/report.html\">{name}</a><br><small>{metric} ≤ {target}, {epochs} epoch{plural}</small></td>",
            name = escape(&problem.problem),
            metric = escape(&problem.metric),
            target = escape(&metric_text(&problem.metric, problem.target)),
            epochs = problem.epochs,
            plural = if problem.epochs == 1 { "" } else { "s" }
        );
        for standing in &problem.standings {
            let class = if standing.updates_to_target.is_none() { " class=\"miss\"" } else { "" };
            let timing = match (standing.updates_to_target, standing.epochs_to_target, standing.seconds_to_target) {
                (Some(updates), Some(epochs), Some(seconds)) => {
                    format!("{updates:.0} updates ({epochs:.1} epochs, {seconds:.1} s)")
                }
                _ => format!("not reached ({} of {} seeds did)", standing.seeds_reached, standing.seeds),
            };
            let spread = match standing.updates_spread {
                (Some(fastest), Some(slowest)) if standing.seeds > 1 => format!("<br>seeds: {fastest}–{slowest}"),
                _ => String::new(),
            };
            let _ = write!(
                html,
                "<td{class}>{timing}{spread}<br>test {}<br>lr {}; rates {}/{}</td>",
                escape(&test_metric(problem, standing)),
                table::number(standing.best_lr, 3),
                standing.rates_reaching,
                standing.rates_tried
            );
        }
        html.push_str("</tr>\n");
    }
    html.push_str(
        "</tbody>\n</table>\n<p>Every number is in <code>suite.csv</code> and <code>results.json</code>; every run \
         in each problem's folder.</p>\n<p><small>Made by descent suite.</small></p>\n</body>\n</html>\n",
    );
    html
}

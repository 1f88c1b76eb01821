//! `descent report DIR`: redraws a comparison's plots and page from its `results.json`, without
//! training again. `descent report A B … --out DIR`: several reports side by side on one page
//! (each optimizer's chosen setting and final errors per report, and each report's verdict).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use descent::lab::Results;

use crate::{bad_input, report};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report folders written by `descent compare` (several: shown side by side).
    #[arg(value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// With several reports: the folder of the side-by-side page.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let mut all = Vec::new();
    for dir in &args.dirs {
        if !dir.join(descent::lab::RESULTS_FILE).is_file() {
            return Err(bad_input(format!(
                "{}: not a finished descent report (it has no {}); run descent compare --out {0} first",
                dir.display(),
                descent::lab::RESULTS_FILE
            )));
        }
        all.push(Results::load(dir).map_err(crate::core_error)?);
    }
    if let [results] = &all[..] {
        if let Some(out) = &args.out {
            return Err(bad_input(format!(
                "--out {}: only several reports make a side-by-side page; one is redrawn in its own folder",
                out.display()
            )));
        }
        print!("{}", report::text_summary(results));
        let page = report::write(results, &args.dirs[0])?;
        println!("report: {}", page.display());
        return Ok(());
    }
    let Some(out) = &args.out else {
        return Err(bad_input("several reports: name the folder of the side-by-side page with --out DIR"));
    };
    let names: Vec<String> = args.dirs.iter().map(|d| d.display().to_string()).collect();
    print!("{}", report::side_by_side::text(&names, &all));
    let page = report::side_by_side::write(&names, &all, out)?;
    println!("side by side: {}", page.display());
    Ok(())
}

//! `descent report DIR`: redraws a comparison's plots and page from its `results.json`, without
//! training again.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use descent::lab::Results;

use crate::{bad_input, report};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report folder written by `descent compare`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(args: ReportArgs) -> Result<()> {
    if !args.dir.join(descent::lab::RESULTS_FILE).is_file() {
        return Err(bad_input(format!(
            "{}: not a finished descent report (it has no {}); run descent compare --out {0} first",
            args.dir.display(),
            descent::lab::RESULTS_FILE
        )));
    }
    let results = Results::load(&args.dir).map_err(crate::core_error)?;
    print!("{}", report::text_summary(&results));
    let page = report::write(&results, &args.dir)?;
    println!("report: {}", page.display());
    Ok(())
}

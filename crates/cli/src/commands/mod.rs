//! One module per subcommand.

pub mod bench;
pub mod compare;
pub mod diagnose;
pub mod lr_find;
pub mod optimize;
pub mod report;
pub mod suite;
pub mod sweep;
pub mod train;

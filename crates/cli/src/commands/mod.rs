//! One module per subcommand.

pub mod bench;
pub mod compare;
pub mod optimize;
pub mod report;
pub mod train;

//! One module per subcommand.

pub mod bench;
pub mod optimize;
pub mod train;

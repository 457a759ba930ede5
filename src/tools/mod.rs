//! The `gwx` command line and what only operators and developers run: the
//! ready demo (`gwx init`), backup and restore, and the benchmark.

pub mod backup;
pub mod bench;
pub mod cli;
pub mod demo;

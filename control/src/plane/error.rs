//! Why a configuration change was refused. On any of these the running configuration, the ids
//! and the published generation stay as they were, except [`CommitError::Unconfirmed`]: the new
//! snapshot is published then, but a worker did not show it took it.

use std::path::PathBuf;
use std::time::Duration;

use crate::topology::{IdsExhausted, TimeoutsError};

/// Why [`super::Control::commit`] refused a configuration.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Settings only a restart can change (ports, lcores, pool sizes) differ.
    #[error("boot-only settings changed (they need a restart): {}", .0.join("; "))]
    BootOnly(Vec<String>),
    /// More services or real servers than the workers' counter arrays hold.
    #[error(transparent)]
    Ids(#[from] IdsExhausted),
    /// A session timeout the dataplane cannot represent.
    #[error(transparent)]
    Timeouts(#[from] TimeoutsError),
    /// A scheduler flag of another scheduler than its service's.
    #[error(transparent)]
    SchedFlags(#[from] dataplane::sched::SchedFlagsError),
    /// Published, but not every worker took the new generation in time.
    #[error("workers {behind:?} did not take generation {generation} within {within:?}")]
    Unconfirmed {
        /// The workers still on an older generation.
        behind: Vec<usize>,
        /// The generation published.
        generation: u64,
        /// How long control waited.
        within: Duration,
    },
}

/// Why [`super::Control::reload_file`] refused the file.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read, parsed or validated: every error with its file, line, key
    /// and reason, one per line.
    #[error("{}", .errors.to_string().trim_end())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        errors: config::Errors,
    },
    /// The file is valid but could not be put in service.
    #[error(transparent)]
    Commit(#[from] CommitError),
}

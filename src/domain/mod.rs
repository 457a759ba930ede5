//! Domain types that are valid by construction, and the rules as pure functions.
//!
//! Everything that crosses the network or comes out of the database is parsed
//! into one of these types at the edge; the rest of the hub trusts them.

pub mod allowlist;
pub mod application;
pub mod calendar;
pub mod delivery;
pub mod document;
pub mod group;
pub mod log;
pub mod participant;
pub mod period;
pub mod role;
pub mod routing;
pub mod ubn;

pub use allowlist::IpRange;
pub use participant::{Capabilities, ParticipantCode, ParticipantKind, ParticipantStatus};
pub use role::{Role, Roles};
pub use ubn::UnifiedBusinessNumber;

/// A value that failed to parse into a domain type, with the reason in words
/// a clerk can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct Invalid {
    pub what: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(what: &'static str, reason: impl Into<String>) -> Self {
        Invalid { what, reason: reason.into() }
    }
}

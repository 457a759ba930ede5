//! The services: every rule of the source specification that is not a pure
//! domain function, as the actions participants take. Each action checks
//! who asks (a [`caller::Caller`] and its roles), applies the rule, writes
//! through the store and the exchange log, and refuses with a
//! [`error::ServiceError`]. The HTTP API, the console and the command line
//! call these; none of them decides anything itself.

pub mod admin;
pub mod app;
pub mod applications;
pub mod audit;
pub mod caller;
pub mod check;
pub mod credentials;
pub mod deadlines;
pub mod documents;
pub mod error;
pub mod events;
pub mod groups;
pub mod guard;
pub mod jobs;
pub mod log;
pub mod notify;
pub mod participants;
pub mod roster;
pub mod sanctions;
pub mod trust;

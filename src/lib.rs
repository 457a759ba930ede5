//! gwx — 公文電子交換中心: an electronic official-document exchange hub.
//!
//! See DESIGN.md for the domain. Layout: `domain` (valid-by-construction
//! types and pure rules), `store` (the one storage interface over SQLite and
//! PostgreSQL), `tls`/`pki` (HTTPS termination, certificates), `auth` (who is
//! calling), `http` (thin routes), `server` (start/stop), `client` (the agency
//! client), `demo` (`gwx init`).

pub mod app;
pub mod applications;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod blobs;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod deadlines;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod formats;
pub mod groups;
pub mod http;
pub mod jobs;
pub mod notify;
pub mod pki;
pub mod sanctions;
pub mod server;
pub mod store;
pub mod tls;

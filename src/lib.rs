//! gwx — 公文電子交換中心: an electronic official-document exchange hub.
//!
//! The folders are the layers, and each depends only on those listed
//! before it (see `../shared/DESIGN.md` for the domain):

/// The agency-side client the `gwx` commands use.
pub mod client;
/// Types valid by construction and the rules as pure functions (routing,
/// calendar, deadlines, the delivery lifecycle), tested without a server.
pub mod domain;
/// The national DI/SW formats, the exchange envelope and attachment
/// sniffing: bytes in, domain types out.
pub mod formats;
/// The HTTPS API, the web console and the server that runs them: thin
/// callers of the services.
pub mod http;
/// Certificates, CMS signatures, the trust store and the demo PKI.
pub mod pki;
/// What the running process is given: configuration, clock, TLS termination.
pub mod runtime;
/// The rules of the source specification that need storage or time: every
/// action a participant can take, checked and logged.
pub mod service;
/// The one storage interface over SQLite and PostgreSQL, and the blobs;
/// all SQL lives here.
pub mod store;
/// The `gwx` command line, the demo, backup and restore, and the benchmark.
pub mod tools;

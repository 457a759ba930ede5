//! What the running hub is given from outside: its configuration
//! (`gwx.toml`), the clock it reads time from, and TLS termination with the
//! client-certificate checks of the handshake. Nothing here knows the rules
//! of the exchange; the services use these.

pub mod clock;
pub mod config;
pub mod tls;

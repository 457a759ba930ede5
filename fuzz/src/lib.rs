//! The hub's domain types and format parsers, compiled from the hub's own
//! sources (`src/domain`, `src/formats`) without the rest of the crate: the
//! fuzz targets reach nothing else, and the server's dependency tree
//! (database, HTTP, object store) would triple the instrumented build.
//! Named `gwx` so that a target reads `gwx::formats::fuzz::…` as in the hub.

#[path = "../../src/domain/mod.rs"]
pub mod domain;
#[path = "../../src/formats/mod.rs"]
pub mod formats;

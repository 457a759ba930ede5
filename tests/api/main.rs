//! The hub's specification as tests: one module per area, each test one
//! rule, named for it. Every test starts the real hub (mTLS on loopback, a
//! fresh database) through `helpers`, on SQLite and on PostgreSQL.

mod helpers;

mod admin;
mod applications;
mod auth;
mod deliveries;
mod documents;
mod groups;
mod packages;
mod sanctions;

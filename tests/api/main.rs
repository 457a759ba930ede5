//! The hub's specification as tests: one module per area, each test one
//! rule, named for it. Every test starts the real hub (mTLS on loopback, a
//! fresh database) through `helpers`, on SQLite and on PostgreSQL.

mod garage;
mod helpers;

mod architecture;

mod admin;
mod applications;
mod audit;
mod auth;
mod bench;
mod cli;
mod cluster;
mod connections;
mod console;
mod corpus;
mod crash;
mod deadlines;
mod deliveries;
mod disk;
mod documents;
mod failures;
mod formats;
mod fuzzing;
mod groups;
mod intake;
mod kinds;
mod nodes;
mod openapi;
mod packages;
mod plans;
mod policy;
mod retention;
mod revocation;
mod sanctions;
mod store;

//! When the hub itself fails, the client still gets a problem and the
//! exchange log an entry: nothing fails silently.

use axum::routing::get;
use gwx::tools::demo::SECRETARIAT;

use crate::helpers::{Backend, TestHub};

async fn a_panicking_handler_is_a_500_problem_and_a_log_entry(backend: Backend) {
    async fn fails() -> &'static str {
        panic!("the seeded failure")
    }
    let failing = axum::Router::new().route("/api/v1/fails", get(fails));
    let hub = TestHub::start_with_routes(backend, |_| {}, failing).await;
    let c = hub.as_(SECRETARIAT);
    let v = c.get("/api/v1/fails").await.refused(500, "internal");
    assert!(!v.to_string().contains("seeded failure"), "the client is not told the hub's internals: {v}");
    let e = hub.logged("error", "GET /api/v1/fails: handler panicked: the seeded failure").await;
    assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:internal"));
    // The connection and the hub go on serving.
    c.get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

crate::both_databases!(a_panicking_handler_is_a_500_problem_and_a_log_entry);

//! `/api/v1/openapi.json` describes the API as it is (schemathesis checks
//! it against the running hub in CI; these are the facts it relies on).

use serde_json::Value;

use crate::helpers::{Backend, TestHub};

async fn document() -> (TestHub, Value) {
    let hub = TestHub::start(Backend::Sqlite).await;
    let doc = hub.anonymously().get("/api/v1/openapi.json").await.ok();
    (hub, doc)
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_parameter_is_declared() {
    let (hub, doc) = document().await;
    for (path, method, op) in operations(&doc) {
        for name in path.split('{').skip(1).map(|s| s.split('}').next().unwrap()) {
            let declared =
                op["parameters"].as_array().into_iter().flatten().any(|p| p["in"] == "path" && p["name"] == name);
            assert!(declared, "{method} {path} does not declare its path parameter {name}");
        }
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_documented_as_problem_json_with_its_types() {
    let (hub, doc) = document().await;
    for (path, method, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        for status in ["403", "429", "500"] {
            assert!(responses.contains_key(status), "{method} {path} lacks {status}");
        }
        for (status, r) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
            let schema = &r["content"]["application/problem+json"]["schema"];
            let types = schema["allOf"][1]["properties"]["type"]["enum"].as_array();
            assert!(
                types.is_some_and(
                    |t| !t.is_empty() && t.iter().all(|t| t.as_str().unwrap().starts_with("urn:gwx:error:"))
                ),
                "{method} {path} {status}: {r}"
            );
        }
    }
    let submit = &doc["paths"]["/api/v1/documents"]["post"]["responses"]["422"];
    let types =
        submit["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]["type"]["enum"].to_string();
    assert!(types.contains("urn:gwx:error:confidential-not-allowed") && types.contains("urn:gwx:error:unsafe-xml"));
    let stalled = doc["paths"]["/api/v1/documents"]["post"]["responses"]["408"].to_string();
    assert!(stalled.contains("urn:gwx:error:request-timeout"), "a stalled upload's 408 is documented");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enums_list_the_values_the_api_sends() {
    let (hub, doc) = document().await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ParticipantStatus"]["enum"],
        serde_json::json!(["pending", "active", "suspended", "terminated"])
    );
    assert_eq!(schemas["GroupScope"]["enum"], serde_json::json!(["shared", "private"]));
    assert_eq!(schemas["DeliveryState"]["enum"], serde_json::json!(["delivered", "fetched", "confirmed", "returned"]));
    assert!(schemas["LogAction"]["enum"].as_array().unwrap().contains(&"tls.refused".into()));
    assert_eq!(schemas["Speed"]["enum"], serde_json::json!(["最速件", "速件", "普通件"]));
    // What the API answers for a participant is what the schema says it is.
    let p = hub.as_(gwx::tools::demo::IT_BUREAU).get("/api/v1/participants/379130000C").await.ok();
    assert!(schemas["ParticipantStatus"]["enum"].as_array().unwrap().contains(&p["status"]));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_maxima_are_the_enforced_ones() {
    let (hub, doc) = document().await;
    assert_eq!(doc["components"]["schemas"]["Limit"]["maximum"], 1000);
    assert_eq!(doc["components"]["schemas"]["Wait"]["maximum"], 60);
    let admin = hub.as_(gwx::tools::demo::IT_BUREAU);
    admin.get("/api/v1/participants?limit=1000").await.ok();
    admin.get("/api/v1/participants?limit=1001").await.refused(400, "invalid-request");
    hub.stop().await;
}

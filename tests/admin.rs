//! The it_bureau admin API end to end: a new participant gets a credential
//! and an allowlist and can then work; bad input is refused clearly.

mod common;

use chrono::{Duration, Utc};
use common::{Backend, TestHub, json, problem, wait_for_log};
use gwx::tools::demo::{EDUCATION, IT_BUREAU, SECRETARIAT};
use serde_json::json;

async fn new_connected_user_is_registered_and_works(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.client(IT_BUREAU);
    let code = "CU10450010";

    // A connected user must name its 統一編號 and supervising agency.
    let mut body = json!({"code": code, "kind": "connected_user", "name": "社團法人臺北市新申請協會",
        "capabilities": {"receive": true, "send": false}, "supervisor": EDUCATION});
    let v =
        problem(admin.post(hub.url("/api/v1/participants")).json(&body).send().await.unwrap(), 422, "invalid-field")
            .await;
    assert!(v["detail"].as_str().unwrap().contains("統一編號"), "{v}");
    body["unified_business_number"] = json!("10450011");
    let v =
        problem(admin.post(hub.url("/api/v1/participants")).json(&body).send().await.unwrap(), 422, "invalid-request")
            .await;
    assert!(v["detail"].as_str().unwrap().contains("check-digit"), "{v}");
    body["unified_business_number"] = json!("10450010");
    body["supervisor"] = json!("CU10450009");
    let v =
        problem(admin.post(hub.url("/api/v1/participants")).json(&body).send().await.unwrap(), 422, "invalid-field")
            .await;
    assert!(v["detail"].as_str().unwrap().contains("not an agency"), "{v}");
    body["supervisor"] = json!(EDUCATION);
    let p = json(admin.post(hub.url("/api/v1/participants")).json(&body).send().await.unwrap(), 201).await;
    assert_eq!(p["status"], "active");
    assert_eq!(p["capabilities"], json!({"receive": true, "send": false}));
    problem(admin.post(hub.url("/api/v1/participants")).json(&body).send().await.unwrap(), 409, "conflict").await;

    // Its card: the hub reads fingerprint, subject, serial, validity and the 統一編號.
    let pem = hub.issue_client("xca", code, "社團法人臺北市新申請協會", Some("10450010"));
    let reg = json!({"participant": code, "certificate": pem, "roles": ["receiver"], "holder": "何申請", "card_number": "XCA0000123"});
    let c = json(admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(), 201).await;
    assert_eq!(c["unified_business_number"], "10450010");
    assert_eq!(c["holder"], "何申請");
    assert!(c["subject"].as_str().unwrap().contains("社團法人臺北市新申請協會"));
    assert_eq!(c["fingerprint"].as_str().unwrap().len(), 64);
    problem(admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(), 409, "conflict").await;

    // No allowlist yet: refused; then its fixed IP is added.
    let url = hub.url("/api/v1/whoami");
    problem(hub.client(code).get(&url).send().await.unwrap(), 403, "ip-not-allowed").await;
    problem(
        admin
            .post(hub.url(&format!("/api/v1/participants/{code}/allowlist")))
            .json(&json!({"ip": "localhost"}))
            .send()
            .await
            .unwrap(),
        422,
        "invalid-field",
    )
    .await;
    let e = json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{code}/allowlist")))
            .json(&json!({"ip": "127.0.0.0/30", "note": "協會辦公室"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(e["ip_range"], "127.0.0.0/30");
    let v = json(hub.client_from(code, "127.0.0.3").get(&url).send().await.unwrap(), 200).await;
    assert_eq!(v["roles"], json!(["receiver"]));
    assert_eq!(v["participant"]["supervisor"], EDUCATION);

    // The listing shows it; each change is in the exchange log.
    let creds =
        json(admin.get(hub.url(&format!("/api/v1/credentials?participant={code}"))).send().await.unwrap(), 200).await;
    assert_eq!(creds["items"].as_array().unwrap().len(), 1);
    assert!(creds["items"][0]["last_used_at"].is_string());
    wait_for_log(hub.store(), "participant.created", code).await;
    wait_for_log(hub.store(), "credential.registered", code).await;
    wait_for_log(hub.store(), "allowlist.added", "127.0.0.0/30").await;
    hub.stop().await;
}

async fn certificates_that_cannot_authenticate_are_not_registered(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.client(IT_BUREAU);
    let untrusted = hub.issue_client("untrusted-ca", "stranger", "Stranger", None);
    let reg = json!({"participant": SECRETARIAT, "certificate": untrusted, "roles": ["sender"], "holder": "某人"});
    let v = problem(
        admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(),
        422,
        "untrusted-certificate",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("unable to get local issuer"), "{v}");

    let revoked = std::fs::read_to_string(hub.path("clients/revoked.pem")).unwrap();
    let reg = json!({"participant": SECRETARIAT, "certificate": revoked, "roles": ["sender"], "holder": "某人"});
    let v = problem(
        admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(),
        422,
        "untrusted-certificate",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("revoked"), "{v}");

    let reg = json!({"participant": SECRETARIAT, "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "roles": ["sender"], "holder": "某人"});
    problem(admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(), 422, "invalid-field").await;
    let good = hub.issue_client("gca", "newclerk", "臺北市政府秘書處", None);
    let reg = json!({"participant": SECRETARIAT, "certificate": good, "roles": [], "holder": "某人"});
    problem(admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(), 422, "invalid-field").await;
    let reg = json!({"participant": SECRETARIAT, "certificate": good, "roles": ["boss"], "holder": "某人"});
    problem(admin.post(hub.url("/api/v1/credentials")).json(&reg).send().await.unwrap(), 422, "invalid-request").await;
    // Every refusal is logged against the it_bureau caller.
    let e = wait_for_log(hub.store(), "request.refused", "does not verify against the trust store").await;
    assert_eq!(e.participant.as_deref(), Some(IT_BUREAU));
    hub.stop().await;
}

async fn operations_endpoints(backend: Backend) {
    let hub = TestHub::start(backend).await;
    // /metrics from loopback, no certificate needed.
    hub.client(SECRETARIAT).get(hub.url("/api/v1/whoami")).send().await.unwrap();
    let text = hub.anonymous().get(hub.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("gwx_http_requests_total"), "{text}");

    let api = json(hub.anonymous().get(hub.url("/api/v1/openapi.json")).send().await.unwrap(), 200).await;
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/api/v1/whoami", "/api/v1/participants/{code}/suspend", "/api/v1/credentials", "/healthz"] {
        assert!(api["paths"][path].is_object(), "{path} missing from OpenAPI");
    }

    // Unknown paths and methods are problems too.
    problem(hub.anonymous().get(hub.url("/api/v1/nothing")).send().await.unwrap(), 404, "not-found").await;
    problem(hub.client(IT_BUREAU).delete(hub.url("/api/v1/whoami")).send().await.unwrap(), 405, "method-not-allowed")
        .await;
    problem(
        hub.client(IT_BUREAU)
            .post(hub.url("/api/v1/participants"))
            .body("{")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
        400,
        "invalid-request",
    )
    .await;
    hub.stop().await;
}

async fn each_participant_sees_only_its_own_log(backend: Backend) {
    let hub = TestHub::start(backend).await;
    // Refusals of two different participants.
    hub.client(SECRETARIAT).get(hub.url("/api/v1/participants")).send().await.unwrap();
    hub.client(EDUCATION).get(hub.url("/api/v1/participants")).send().await.unwrap();
    wait_for_log(hub.store(), "auth.refused", "needs the 'it_bureau' role").await;

    let mine = json(hub.client(SECRETARIAT).get(hub.url("/api/v1/log?limit=1000")).send().await.unwrap(), 200).await;
    let items = mine["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["participant"] == SECRETARIAT || e["counterpart"] == SECRETARIAT), "{mine}");
    // Asking for someone else's entries still gives only one's own.
    let other = json(
        hub.client(SECRETARIAT).get(hub.url(&format!("/api/v1/log?participant={EDUCATION}"))).send().await.unwrap(),
        200,
    )
    .await;
    assert!(
        other["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["participant"] == SECRETARIAT || e["counterpart"] == SECRETARIAT)
    );

    let all = json(
        hub.client(gwx::tools::demo::ETHICS).get(hub.url("/api/v1/log?action=auth.refused")).send().await.unwrap(),
        200,
    )
    .await;
    let who: std::collections::HashSet<_> =
        all["items"].as_array().unwrap().iter().map(|e| e["participant"].as_str().unwrap_or("").to_owned()).collect();
    assert!(who.contains(SECRETARIAT) && who.contains(EDUCATION), "{who:?}");
    hub.stop().await;
}

async fn expiring_certificates_are_announced(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let url = hub.url("/api/v1/whoami");
    let me = json(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 200).await;
    assert!(me["warnings"].as_array().unwrap().is_empty());
    let not_after: chrono::DateTime<Utc> = me["credential"]["not_after"].as_str().unwrap().parse().unwrap();

    // Twenty days before the card expires: the holder is warned, the IT bureau lists it.
    hub.clock.set(not_after - Duration::days(20));
    let me = json(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 200).await;
    assert!(me["warnings"][0].as_str().unwrap().contains("expires in 20 days"), "{me}");
    let list = json(
        hub.client(IT_BUREAU).get(hub.url("/api/v1/credentials?expiring_within_days=30")).send().await.unwrap(),
        200,
    )
    .await;
    let holders: Vec<_> =
        list["items"].as_array().unwrap().iter().map(|c| c["participant"].as_str().unwrap()).collect();
    assert!(holders.contains(&SECRETARIAT), "{holders:?}");
    // Within 5 days: only the demo card that has already expired.
    let soon = json(
        hub.client(IT_BUREAU).get(hub.url("/api/v1/credentials?expiring_within_days=5")).send().await.unwrap(),
        200,
    )
    .await;
    let subjects: Vec<_> = soon["items"].as_array().unwrap().iter().map(|c| c["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(subjects[0].contains("expired demo"));

    // After expiry, a request on an open connection is refused by the hub's own check.
    hub.clock.set(not_after + Duration::days(1));
    problem(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 401, "certificate-expired").await;
    hub.stop().await;
}

both_databases!(
    expiring_certificates_are_announced,
    new_connected_user_is_registered_and_works,
    certificates_that_cannot_authenticate_are_not_registered,
    operations_endpoints,
    each_participant_sees_only_its_own_log,
);

//! The it_bureau admin API end to end: a new participant gets a credential
//! and an allowlist and can then work; bad input is refused clearly;
//! operations endpoints; who reads which part of the log; expiring cards.

use chrono::{Duration, Utc};
use gwx::tools::demo::{EDUCATION, ETHICS, IT_BUREAU, SECRETARIAT};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestHub, detail};

const NEW_CODE: &str = "CU10450010";

/// A connected user to register, supervised by 教育局.
fn connected_user() -> Value {
    json!({"code": NEW_CODE, "kind": "connected_user", "name": "社團法人臺北市新申請協會",
        "capabilities": {"receive": true, "send": false}, "supervisor": EDUCATION,
        "unified_business_number": "10450010"})
}

/// Registers the connected user and its card (receiver), without an allowlist.
async fn register_connected_user(hub: &TestHub) -> Value {
    let admin = hub.as_(IT_BUREAU);
    admin.post("/api/v1/participants", connected_user()).await.created();
    let pem = hub.issue_client("xca", NEW_CODE, "社團法人臺北市新申請協會", Some("10450010"));
    let reg = json!({"participant": NEW_CODE, "certificate": pem, "roles": ["receiver"], "holder": "何申請",
        "card_number": "XCA0000123"});
    admin.post("/api/v1/credentials", reg).await.created()
}

async fn a_connected_user_needs_its_ubn_and_an_agency_as_supervisor(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    let mut body = connected_user();
    body.as_object_mut().unwrap().remove("unified_business_number");
    let v = admin.post("/api/v1/participants", body.clone()).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("統一編號"), "{v}");
    body["unified_business_number"] = json!("10450011");
    let v = admin.post("/api/v1/participants", body.clone()).await.refused(422, "invalid-request");
    assert!(detail(&v).contains("check-digit"), "{v}");
    body["unified_business_number"] = json!("10450010");
    body["supervisor"] = json!("CU10450009");
    let v = admin.post("/api/v1/participants", body).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("not an agency"), "{v}");
    hub.stop().await;
}

async fn a_participant_is_registered_once(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    let p = admin.post("/api/v1/participants", connected_user()).await.created();
    assert_eq!(p["status"], "active");
    assert_eq!(p["capabilities"], json!({"receive": true, "send": false}));
    admin.post("/api/v1/participants", connected_user()).await.refused(409, "conflict");
    hub.logged("participant.created", NEW_CODE).await;
    hub.stop().await;
}

async fn a_registered_card_records_what_its_certificate_says_once(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let c = register_connected_user(&hub).await;
    assert_eq!(c["unified_business_number"], "10450010");
    assert_eq!(c["holder"], "何申請");
    assert!(c["subject"].as_str().unwrap().contains("社團法人臺北市新申請協會"));
    assert_eq!(c["fingerprint"].as_str().unwrap().len(), 64);
    let pem = std::fs::read_to_string(hub.path(&format!("clients/{NEW_CODE}.pem"))).unwrap();
    let again = json!({"participant": NEW_CODE, "certificate": pem, "roles": ["receiver"], "holder": "何申請"});
    hub.as_(IT_BUREAU).post("/api/v1/credentials", again).await.refused(409, "conflict");
    hub.logged("credential.registered", NEW_CODE).await;
    hub.stop().await;
}

async fn a_new_participant_works_once_its_fixed_ip_is_allowed(backend: Backend) {
    let hub = TestHub::start(backend).await;
    register_connected_user(&hub).await;
    let admin = hub.as_(IT_BUREAU);
    // No allowlist yet: refused; then its fixed IP is added.
    hub.as_(NEW_CODE).get("/api/v1/whoami").await.refused(403, "ip-not-allowed");
    let allowlist = format!("/api/v1/participants/{NEW_CODE}/allowlist");
    admin.post(&allowlist, json!({"ip": "localhost"})).await.refused(422, "invalid-field");
    let e = admin.post(&allowlist, json!({"ip": "127.0.0.0/30", "note": "協會辦公室"})).await.created();
    assert_eq!(e["ip_range"], "127.0.0.0/30");
    let v = hub.as_from(NEW_CODE, "127.0.0.3").get("/api/v1/whoami").await.ok();
    assert_eq!(v["roles"], json!(["receiver"]));
    assert_eq!(v["participant"]["supervisor"], EDUCATION);

    // The listing shows the card, used now.
    let creds = admin.get(&format!("/api/v1/credentials?participant={NEW_CODE}")).await.ok();
    assert_eq!(creds["items"].as_array().unwrap().len(), 1);
    assert!(creds["items"][0]["last_used_at"].is_string());
    hub.logged("allowlist.added", "127.0.0.0/30").await;
    hub.stop().await;
}

async fn a_certificate_of_an_untrusted_ca_is_not_registered(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let untrusted = hub.issue_client("untrusted-ca", "stranger", "Stranger", None);
    let reg = json!({"participant": SECRETARIAT, "certificate": untrusted, "roles": ["sender"], "holder": "某人"});
    let v = hub.as_(IT_BUREAU).post("/api/v1/credentials", reg).await.refused(422, "untrusted-certificate");
    assert!(detail(&v).contains("unable to get local issuer"), "{v}");
    // Every refusal is logged against the it_bureau caller.
    let e = hub.logged("request.refused", "does not verify against the trust store").await;
    assert_eq!(e.participant.as_deref(), Some(IT_BUREAU));
    hub.stop().await;
}

async fn a_revoked_certificate_is_not_registered(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let revoked = std::fs::read_to_string(hub.path("clients/revoked.pem")).unwrap();
    let reg = json!({"participant": SECRETARIAT, "certificate": revoked, "roles": ["sender"], "holder": "某人"});
    let v = hub.as_(IT_BUREAU).post("/api/v1/credentials", reg).await.refused(422, "untrusted-certificate");
    assert!(detail(&v).contains("revoked"), "{v}");
    hub.stop().await;
}

async fn a_credential_needs_a_certificate_and_known_roles(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    let reg = json!({"participant": SECRETARIAT, "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "roles": ["sender"], "holder": "某人"});
    admin.post("/api/v1/credentials", reg).await.refused(422, "invalid-field");
    let good = hub.issue_client("gca", "newclerk", "臺北市政府秘書處", None);
    let reg = json!({"participant": SECRETARIAT, "certificate": good, "roles": [], "holder": "某人"});
    admin.post("/api/v1/credentials", reg).await.refused(422, "invalid-field");
    let reg = json!({"participant": SECRETARIAT, "certificate": good, "roles": ["boss"], "holder": "某人"});
    admin.post("/api/v1/credentials", reg).await.refused(422, "invalid-request");
    hub.stop().await;
}

async fn metrics_from_loopback_need_no_certificate(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    let text = hub.anonymously().get("/metrics").await.text().to_owned();
    assert!(text.contains("gwx_http_requests_total"), "{text}");
    hub.stop().await;
}

async fn the_openapi_document_is_served(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let api = hub.anonymously().get("/api/v1/openapi.json").await.ok();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/api/v1/whoami", "/api/v1/participants/{code}/suspend", "/api/v1/credentials", "/healthz"] {
        assert!(api["paths"][path].is_object(), "{path} missing from OpenAPI");
    }
    hub.stop().await;
}

async fn unknown_paths_methods_and_malformed_bodies_are_problems(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.anonymously().get("/api/v1/nothing").await.refused(404, "not-found");
    hub.as_(IT_BUREAU).delete("/api/v1/whoami").await.refused(405, "method-not-allowed");
    let admin = hub.as_(IT_BUREAU);
    let broken = admin
        .request(reqwest::Method::POST, "/api/v1/participants")
        .body("{")
        .header("content-type", "application/json");
    admin.send(broken).await.refused(400, "invalid-request");
    hub.stop().await;
}

async fn each_participant_sees_only_its_own_log(backend: Backend) {
    let hub = TestHub::start(backend).await;
    // Refusals of two different participants.
    hub.as_(SECRETARIAT).get("/api/v1/participants").await;
    hub.as_(EDUCATION).get("/api/v1/participants").await;
    hub.logged("auth.refused", "needs the 'it_bureau' role").await;

    let mine = hub.as_(SECRETARIAT).get("/api/v1/log?limit=1000").await.ok();
    let items = mine["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["participant"] == SECRETARIAT || e["counterpart"] == SECRETARIAT), "{mine}");
    // Asking for someone else's entries still gives only one's own.
    let other = hub.as_(SECRETARIAT).get(&format!("/api/v1/log?participant={EDUCATION}")).await.ok();
    assert!(
        other["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["participant"] == SECRETARIAT || e["counterpart"] == SECRETARIAT)
    );
    hub.stop().await;
}

async fn auditors_see_every_participants_log(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.as_(SECRETARIAT).get("/api/v1/participants").await;
    hub.as_(EDUCATION).get("/api/v1/participants").await;
    hub.logged("auth.refused", "needs the 'it_bureau' role").await;
    let all = hub.as_(ETHICS).get("/api/v1/log?action=auth.refused").await.ok();
    let who: std::collections::HashSet<_> =
        all["items"].as_array().unwrap().iter().map(|e| e["participant"].as_str().unwrap_or("").to_owned()).collect();
    assert!(who.contains(SECRETARIAT) && who.contains(EDUCATION), "{who:?}");
    hub.stop().await;
}

/// When SECRETARIAT's card expires.
async fn card_expiry(hub: &TestHub) -> chrono::DateTime<Utc> {
    let me = hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    assert!(me["warnings"].as_array().unwrap().is_empty());
    me["credential"]["not_after"].as_str().unwrap().parse().unwrap()
}

async fn the_holder_is_warned_before_the_card_expires(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let not_after = card_expiry(&hub).await;
    hub.clock.set(not_after - Duration::days(20));
    let me = hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    assert!(me["warnings"][0].as_str().unwrap().contains("expires in 20 days"), "{me}");
    hub.stop().await;
}

async fn the_it_bureau_lists_the_cards_about_to_expire(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let not_after = card_expiry(&hub).await;
    hub.clock.set(not_after - Duration::days(20));
    let list = hub.as_(IT_BUREAU).get("/api/v1/credentials?expiring_within_days=30").await.ok();
    let holders: Vec<_> =
        list["items"].as_array().unwrap().iter().map(|c| c["participant"].as_str().unwrap()).collect();
    assert!(holders.contains(&SECRETARIAT), "{holders:?}");
    // Within 5 days: only the demo card that has already expired.
    let soon = hub.as_(IT_BUREAU).get("/api/v1/credentials?expiring_within_days=5").await.ok();
    let subjects: Vec<_> = soon["items"].as_array().unwrap().iter().map(|c| c["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(subjects[0].contains("expired demo"));
    hub.stop().await;
}

async fn an_expired_card_is_refused_by_the_hubs_own_clock(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let not_after = card_expiry(&hub).await;
    hub.clock.set(not_after + Duration::days(1));
    hub.as_(SECRETARIAT).get("/api/v1/whoami").await.refused(401, "certificate-expired");
    hub.stop().await;
}

crate::both_databases!(
    a_connected_user_needs_its_ubn_and_an_agency_as_supervisor,
    a_participant_is_registered_once,
    a_registered_card_records_what_its_certificate_says_once,
    a_new_participant_works_once_its_fixed_ip_is_allowed,
    a_certificate_of_an_untrusted_ca_is_not_registered,
    a_revoked_certificate_is_not_registered,
    a_credential_needs_a_certificate_and_known_roles,
    metrics_from_loopback_need_no_certificate,
    the_openapi_document_is_served,
    unknown_paths_methods_and_malformed_bodies_are_problems,
    each_participant_sees_only_its_own_log,
    auditors_see_every_participants_log,
    the_holder_is_warned_before_the_card_expires,
    the_it_bureau_lists_the_cards_about_to_expire,
    an_expired_card_is_refused_by_the_hubs_own_clock,
);

mod the_operator_cannot_lock_itself_out {
    use gwx::tools::demo::{CIVIL_AFFAIRS, IT_BUREAU};
    use serde_json::json;

    use crate::helpers::{Backend, TestHub, detail};

    async fn its_own_participant_is_not_suspended_or_terminated(backend: Backend) {
        let hub = TestHub::start(backend).await;
        let admin = hub.as_(IT_BUREAU);
        for action in ["suspend", "terminate"] {
            let url = format!("/api/v1/participants/{IT_BUREAU}/{action}");
            let v = admin.post(&url, json!({"reason": "誤按"})).await.refused(422, "invalid-field");
            assert!(detail(&v).contains("your own participant"), "{v}");
        }
        admin.get("/api/v1/whoami").await.ok();
        // Another participant it suspends as before.
        admin.post(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend"), json!({"reason": "調查"})).await.ok();
        hub.stop().await;
    }

    async fn the_credential_in_use_is_not_disabled(backend: Backend) {
        let hub = TestHub::start(backend).await;
        let admin = hub.as_(IT_BUREAU);
        let me = admin.get("/api/v1/whoami").await.ok()["credential"]["id"].as_i64().unwrap();
        let url = format!("/api/v1/credentials/{me}/disable");
        let v = admin.post(&url, json!({"reason": "誤按"})).await.refused(422, "invalid-field");
        assert!(detail(&v).contains("the one you are using"), "{v}");
        admin.get("/api/v1/whoami").await.ok();
        hub.stop().await;
    }

    async fn two_operators_disabling_each_other_at_once_leave_one(backend: Backend) {
        let hub = TestHub::start(backend).await;
        hub.register_clerk(IT_BUREAU, "operator-2", &["it_bureau"]).await;
        let ops = [hub.as_(IT_BUREAU), hub.as_("operator-2")];
        let mut ids = Vec::new();
        for op in &ops {
            ids.push(op.get("/api/v1/whoami").await.ok()["credential"]["id"].as_i64().unwrap());
        }
        for round in 0..6 {
            let urls: Vec<String> = (0..2).map(|who| format!("/api/v1/credentials/{}/disable", ids[1 - who])).collect();
            let (a, b) = tokio::join!(
                ops[0].post(&urls[0], json!({"reason": "輪值交接"})),
                ops[1].post(&urls[1], json!({"reason": "輪值交接"}))
            );
            let statuses = [a.status, b.status];
            assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
            let survivor = if a.status == 200 { 0 } else { 1 };
            let refused = if survivor == 0 { b } else { a };
            // Refused as the last operator (422), or already disabled when it came (403).
            assert!(matches!(refused.status, 422 | 403), "round {round}: {}", refused.text());
            if refused.status == 422 {
                assert!(refused.text().contains("last enabled it_bureau credential"), "{}", refused.text());
            }
            ops[survivor].get("/api/v1/whoami").await.ok();
            let back = format!("/api/v1/credentials/{}/enable", ids[1 - survivor]);
            ops[survivor].post_empty(&back).await.ok();
        }
        hub.stop().await;
    }

    async fn the_last_entry_allowing_its_own_address_stays(backend: Backend) {
        let hub = TestHub::start(backend).await;
        let admin = hub.as_(IT_BUREAU);
        let list = admin.get(&format!("/api/v1/participants/{IT_BUREAU}/allowlist")).await.ok();
        let v4 =
            list.as_array().unwrap().iter().find(|e| e["ip_range"] == "127.0.0.1").unwrap()["id"].as_i64().unwrap();
        let url = format!("/api/v1/participants/{IT_BUREAU}/allowlist/{v4}");
        let v = admin.delete(&url).await.refused(422, "invalid-field");
        assert!(detail(&v).contains("your own address 127.0.0.1"), "{v}");
        // With a second entry covering it, the first may go.
        admin
            .post(&format!("/api/v1/participants/{IT_BUREAU}/allowlist"), json!({"ip": "127.0.0.0/30"}))
            .await
            .created();
        admin.delete(&url).await.no_content();
        admin.get("/api/v1/whoami").await.ok();
        hub.stop().await;
    }

    crate::both_databases!(
        its_own_participant_is_not_suspended_or_terminated,
        the_credential_in_use_is_not_disabled,
        two_operators_disabling_each_other_at_once_leave_one,
        the_last_entry_allowing_its_own_address_stays,
    );
}

async fn a_page_holds_1_to_1000_items_and_an_empty_cursor_is_the_first(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    for limit in ["0", "1001", "-1", "many"] {
        admin.get(&format!("/api/v1/participants?limit={limit}")).await.refused(400, "invalid-request");
        admin.get(&format!("/api/v1/log?limit={limit}")).await.refused(400, "invalid-request");
    }
    let all = admin.get("/api/v1/participants?limit=1000").await.ok();
    assert_eq!(all["items"].as_array().unwrap().len(), gwx::tools::demo::PARTICIPANTS.len());
    let first = admin.get("/api/v1/credentials?limit=2").await.ok();
    assert_eq!(admin.get("/api/v1/credentials?limit=2&cursor=").await.ok(), first);
    hub.stop().await;
}

async fn the_renewal_list_looks_at_most_ten_years_ahead(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    admin.get("/api/v1/credentials?expiring_within_days=3660").await.ok();
    // Further ahead is refused, however far (it once overflowed the date and dropped the connection).
    for days in ["3661", "4294967295"] {
        let v = admin.get(&format!("/api/v1/credentials?expiring_within_days={days}")).await;
        assert!(detail(&v.refused(422, "invalid-field")).contains("3660 days"));
    }
    hub.stop().await;
}

crate::both_databases!(
    a_page_holds_1_to_1000_items_and_an_empty_cursor_is_the_first,
    the_renewal_list_looks_at_most_ten_years_ahead
);

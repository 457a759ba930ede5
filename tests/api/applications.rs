//! The connected-user application workflow end to end (§5, DESIGN §7):
//! apply → correction requested → amend → approve → activate → the new
//! organisation sends and receives with its own certificate from its own
//! address; a change of fixed IP; a rejection; a cancellation; every step
//! notified over the API and by e-mail to a local SMTP sink.

use std::io::BufRead;

use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, FOUNDATION, IT_BUREAU, SOCIAL_WELFARE, UNREGISTERED_UBN};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestHub, detail};

const APPLICANT: &str = "unregistered";
const NEW_CODE: &str = "CU10450010";
const APPS: &str = "/api/v1/applications";

struct Sink {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sink {
    fn start() -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("python3")
            .args(["tests/smtp_sink.py", &port.to_string(), dir.path().to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Sink { child, dir, port }
    }

    /// Waits (bounded) until `n` messages have arrived; returns them all.
    async fn messages(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let mut all: Vec<_> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect();
            if all.len() >= n {
                all.sort();
                return all.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} e-mails arrived");
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn form(kind: &str, ips: &[&str]) -> Value {
    json!({
        "kind": kind,
        "capabilities": {"receive": true, "send": true},
        "organisation_name": "社團法人臺北市新申請協會",
        "unified_business_number": UNREGISTERED_UBN,
        "card_number": "XCA0000009876",
        "card_activation_date": "2026-11-01",
        "fixed_ips": ips,
        "contact_name": "何申請",
        "contact_phone": "02-2720-8889",
        "contact_email": "apply@example.org.tw",
        "supervisor": EDUCATION,
        "terms_accepted": true,
    })
}

fn app(id: &str, what: &str) -> String {
    format!("{APPS}/{id}{what}")
}

/// The applicant applies to be a new connected user from 127.0.0.3 (the
/// form's fax left out on purpose); the application's id.
async fn apply(hub: &TestHub) -> String {
    let a = hub.as_(APPLICANT).post(APPS, form("new", &["127.0.0.3"])).await.created();
    assert_eq!(a["state"], "submitted");
    a["id"].as_str().unwrap().to_owned()
}

/// The supervisor asks for the fax; the applicant amends.
async fn correct_and_amend(hub: &TestHub, id: &str) -> Value {
    let c = hub.as_(EDUCATION).post(&app(id, "/request-correction"), json!({"reason": "請補填傳真電話"})).await.ok();
    assert_eq!(c["state"], "correction_requested");
    let mut amended = form("new", &["127.0.0.3"]);
    amended["contact_fax"] = json!("02-2720-0000");
    hub.as_(APPLICANT).put(&app(id, ""), amended).await.ok()
}

/// The supervisor approves and the IT bureau activates.
async fn approve_and_activate(hub: &TestHub, id: &str) -> Value {
    hub.as_(EDUCATION).post(&app(id, "/approve"), json!({})).await.ok();
    hub.as_(IT_BUREAU).post(&app(id, "/activate"), json!({})).await.ok()
}

/// A new connected user through the whole workflow; the application's id.
async fn activated(hub: &TestHub) -> String {
    let id = apply(hub).await;
    correct_and_amend(hub, &id).await;
    approve_and_activate(hub, &id).await;
    id
}

/// The new organisation, connecting from `from`, applies for `kind` with
/// `ips`; approved and activated.
async fn applied_and_activated(hub: &TestHub, from: &str, kind: &str, ips: &[&str]) -> String {
    let a = hub.as_from(APPLICANT, from).post(APPS, form(kind, ips)).await.created();
    let id = a["id"].as_str().unwrap().to_owned();
    approve_and_activate(hub, &id).await;
    id
}

async fn an_application_needs_the_terms_accepted(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut f = form("new", &["127.0.0.3"]);
    f["terms_accepted"] = json!(false);
    hub.as_(APPLICANT).post(APPS, f).await.refused(422, "terms-not-accepted");
    hub.stop().await;
}

async fn an_application_carries_the_certificates_valid_ubn(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut f = form("new", &["127.0.0.3"]);
    f["unified_business_number"] = json!("10450011");
    let v = hub.as_(APPLICANT).post(APPS, f).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("check-digit"), "{v}");
    let mut f = form("new", &["127.0.0.3"]);
    f["unified_business_number"] = json!("12345675");
    let v = hub.as_(APPLICANT).post(APPS, f).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("certificate carries"), "{v}");
    hub.stop().await;
}

async fn an_application_names_an_agency_that_reviews_applications(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut f = form("new", &["127.0.0.3"]);
    f["supervisor"] = json!(CIVIL_AFFAIRS);
    hub.as_(APPLICANT).post(APPS, f).await.refused(422, "invalid-field");
    hub.stop().await;
}

async fn a_certificate_has_one_open_application(backend: Backend) {
    let hub = TestHub::start(backend).await;
    apply(&hub).await;
    hub.as_(APPLICANT).post(APPS, form("new", &["127.0.0.3"])).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn only_the_named_supervising_agency_reviews_an_application(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = apply(&hub).await;
    hub.as_(SOCIAL_WELFARE).post(&app(&id, "/approve"), json!({})).await.refused(403, "forbidden");
    hub.as_(CIVIL_AFFAIRS).post(&app(&id, "/approve"), json!({})).await.refused(403, "forbidden");
    hub.as_(APPLICANT).post(&app(&id, "/approve"), json!({})).await.refused(403, "unknown-certificate");
    hub.as_(SOCIAL_WELFARE).get(&app(&id, "")).await.refused(404, "not-found");
    let queue = hub.as_(EDUCATION).get(&format!("{APPS}?state=submitted")).await.ok();
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert!(hub.as_(SOCIAL_WELFARE).get(APPS).await.ok().as_array().unwrap().is_empty());
    hub.stop().await;
}

async fn a_correction_request_gives_its_reason_and_the_applicant_amends_once(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = apply(&hub).await;
    hub.as_(EDUCATION).post(&app(&id, "/request-correction"), json!({})).await.refused(422, "invalid-field");
    let c = hub.as_(EDUCATION).post(&app(&id, "/request-correction"), json!({"reason": "請補填傳真電話"})).await.ok();
    assert_eq!(c["state"], "correction_requested");
    assert_eq!(hub.as_(APPLICANT).get(&app(&id, "")).await.ok()["reason"], "請補填傳真電話");
    hub.as_(EDUCATION).post(&app(&id, "/approve"), json!({})).await.refused(409, "invalid-state");
    let mut amended = form("new", &["127.0.0.3"]);
    amended["contact_fax"] = json!("02-2720-0000");
    let a2 = hub.as_(APPLICANT).put(&app(&id, ""), amended.clone()).await.ok();
    assert_eq!((a2["state"].as_str(), a2["contact_fax"].as_str()), (Some("submitted"), Some("02-2720-0000")));
    hub.as_(APPLICANT).put(&app(&id, ""), amended).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn only_the_it_bureau_activates_an_approved_application(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = apply(&hub).await;
    hub.as_(EDUCATION).post(&app(&id, "/approve"), json!({})).await.ok();
    let approved = hub.as_(IT_BUREAU).get(&format!("{APPS}?state=approved")).await.ok();
    assert_eq!(approved[0]["id"], id.as_str());
    hub.as_(EDUCATION).post(&app(&id, "/activate"), json!({})).await.refused(403, "forbidden");
    let done = hub.as_(IT_BUREAU).post(&app(&id, "/activate"), json!({})).await.ok();
    assert_eq!((done["state"].as_str(), done["participant"].as_str()), (Some("activated"), Some(NEW_CODE)));
    hub.logged("application.activated", &id).await;
    hub.stop().await;
}

async fn an_applications_history_lists_every_step(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = activated(&hub).await;
    // Registered now, the applicant is held to its fixed IP like everyone else.
    hub.as_(APPLICANT).get(&app(&id, "")).await.refused(403, "ip-not-allowed");
    let history = hub.as_from(APPLICANT, "127.0.0.3").get(&app(&id, "")).await.ok();
    let steps: Vec<&str> =
        history["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["submitted", "correction_requested", "amended", "approved", "activated"]);
    hub.stop().await;
}

async fn an_activated_organisation_works_with_its_card_from_its_address_only(backend: Backend) {
    let hub = TestHub::start(backend).await;
    activated(&hub).await;
    let me = hub.as_from(APPLICANT, "127.0.0.3");
    let who = me.get("/api/v1/whoami").await.ok();
    assert_eq!(who["participant"]["code"], NEW_CODE);
    assert_eq!(who["participant"]["supervisor"], EDUCATION);
    assert_eq!(who["roles"], json!(["sender", "receiver"]));
    hub.as_(APPLICANT).get("/api/v1/whoami").await.refused(403, "ip-not-allowed");
    let opts = |to: &str| gwx::client::package::SendOptions { to: vec![to.into()], ..Default::default() };
    hub.send_doc(&me, APPLICANT, NEW_CODE, "9000001", &opts(EDUCATION), None).await.created();
    hub.send_doc(&hub.as_(EDUCATION), EDUCATION, EDUCATION, "9000002", &opts(NEW_CODE), None).await.created();
    let inbox = me.get("/api/v1/inbox").await.ok();
    assert_eq!(inbox["items"][0]["sender"], EDUCATION);
    let roster = hub.anonymously().get("/api/v1/roster").await.ok();
    assert!(roster.as_array().unwrap().iter().any(|e| e["code"] == NEW_CODE));
    hub.stop().await;
}

async fn a_change_of_fixed_ip_takes_effect_at_activation(backend: Backend) {
    let hub = TestHub::start(backend).await;
    activated(&hub).await;
    applied_and_activated(&hub, "127.0.0.3", "change", &["127.0.0.4"]).await;
    hub.as_from(APPLICANT, "127.0.0.3").get("/api/v1/whoami").await.refused(403, "ip-not-allowed");
    hub.as_from(APPLICANT, "127.0.0.4").get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

async fn both_sides_are_told_of_every_step_over_the_api_and_by_email(backend: Backend) {
    let sink = Sink::start();
    let port = sink.port;
    let hub = TestHub::start_with(backend, |c| {
        c.smtp = Some(gwx::runtime::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            from: "gwx@example.gov.tw".into(),
            starttls: false,
            username: None,
            password: None,
        });
    })
    .await;
    let id = activated(&hub).await;
    applied_and_activated(&hub, "127.0.0.3", "change", &["127.0.0.4"]).await;
    let mine = hub.as_from(APPLICANT, "127.0.0.4").get("/api/v1/notifications").await.ok();
    let subjects: Vec<&str> =
        mine["items"].as_array().unwrap().iter().map(|n| n["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 8, "{subjects:?}");
    assert!(
        subjects[1].contains("請補正") && subjects[4].contains(&format!("已開通：交換代碼 {NEW_CODE}")),
        "{subjects:?}"
    );
    // The text says the step in words, with its time in Taipei.
    let body = mine["items"][1]["body"].as_str().unwrap();
    assert!(
        body.contains("申請項目 申請使用") && body.contains("狀態 退回補正") && body.contains("（臺北時間）"),
        "{body}"
    );
    assert!(!body.contains("correction_requested") && !body.contains("申請項目 new"), "{body}");
    let theirs = hub.as_(EDUCATION).get("/api/v1/notifications").await.ok();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 8);
    let mails = sink.messages(16).await;
    let to = |addr: &str| mails.iter().filter(|m| m.contains(&format!("X-Envelope-To: {addr}"))).count();
    assert_eq!(to("apply@example.org.tw"), 8);
    assert_eq!(to(&format!("gwx-demo+{}@example.gov.tw", EDUCATION.to_lowercase())), 8);
    assert!(mails.iter().any(|m| m.contains(&id)));
    hub.stop().await;
}

async fn a_cancellation_terminates_the_participant_and_its_card(backend: Backend) {
    let hub = TestHub::start(backend).await;
    activated(&hub).await;
    applied_and_activated(&hub, "127.0.0.3", "cancel", &[]).await;
    let p = hub.as_(IT_BUREAU).get(&format!("/api/v1/participants/{NEW_CODE}")).await.ok();
    assert_eq!(p["status"], "terminated");
    assert_eq!(hub.as_from(APPLICANT, "127.0.0.3").get("/api/v1/whoami").await.status, 403);
    hub.stop().await;
}

/// FOUNDATION applies for a change; the application's id.
async fn foundation_change(hub: &TestHub) -> String {
    let mut f = form("change", &["127.0.0.1"]);
    f["unified_business_number"] = json!("10450009");
    f["organisation_name"] = json!("財團法人臺北市青少年文教基金會");
    hub.as_(FOUNDATION).post(APPS, f).await.created()["id"].as_str().unwrap().to_owned()
}

async fn a_rejection_gives_its_reason_to_the_applicant(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = foundation_change(&hub).await;
    hub.as_(EDUCATION).post(&app(&id, "/reject"), json!({"reason": "  "})).await.refused(422, "invalid-field");
    let r = hub.as_(EDUCATION).post(&app(&id, "/reject"), json!({"reason": "非本局主管之團體"})).await.ok();
    assert_eq!((r["state"].as_str(), r["reason"].as_str()), (Some("rejected"), Some("非本局主管之團體")));
    assert_eq!(hub.as_(FOUNDATION).get(&app(&id, "")).await.ok()["reason"], "非本局主管之團體");
    let n = hub.as_(FOUNDATION).get("/api/v1/notifications").await.ok();
    assert!(n["items"].as_array().unwrap().iter().any(|x| x["subject"].as_str().unwrap().contains("未通過")));
    hub.stop().await;
}

async fn a_rejected_application_is_not_activated(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = foundation_change(&hub).await;
    hub.as_(EDUCATION).post(&app(&id, "/reject"), json!({"reason": "非本局主管之團體"})).await.ok();
    hub.as_(IT_BUREAU).post(&app(&id, "/activate"), json!({})).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn an_agency_does_not_apply_through_the_form(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.as_(CIVIL_AFFAIRS).post(APPS, form("change", &["127.0.0.1"])).await.refused(403, "forbidden");
    hub.stop().await;
}

async fn a_registered_certificate_does_not_apply_as_new(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.as_(FOUNDATION).post(APPS, form("new", &["127.0.0.1"])).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn applications_need_a_certificate(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.anonymously().get(APPS).await.refused(401, "certificate-required");
    hub.stop().await;
}

crate::both_databases!(
    an_application_needs_the_terms_accepted,
    an_application_carries_the_certificates_valid_ubn,
    an_application_names_an_agency_that_reviews_applications,
    a_certificate_has_one_open_application,
    only_the_named_supervising_agency_reviews_an_application,
    a_correction_request_gives_its_reason_and_the_applicant_amends_once,
    only_the_it_bureau_activates_an_approved_application,
    an_applications_history_lists_every_step,
    an_activated_organisation_works_with_its_card_from_its_address_only,
    a_change_of_fixed_ip_takes_effect_at_activation,
    both_sides_are_told_of_every_step_over_the_api_and_by_email,
    a_cancellation_terminates_the_participant_and_its_card,
    a_rejection_gives_its_reason_to_the_applicant,
    a_rejected_application_is_not_activated,
    an_agency_does_not_apply_through_the_form,
    a_registered_certificate_does_not_apply_as_new,
    applications_need_a_certificate,
);

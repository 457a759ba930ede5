//! Authentication end to end, over real mTLS on loopback (DESIGN §2):
//! certificates, fixed-IP allowlists, participant and credential status,
//! roles, proxies, and the exchange log of every refusal.

use chrono::Duration;
use gwx::tools::demo::{ASSOCIATION, CIVIL_AFFAIRS, FOUNDATION, IT_BUREAU, SECRETARIAT};
use serde_json::json;

use crate::helpers::{Backend, TestHub, detail};

async fn a_registered_certificate_is_the_caller(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let resp = hub.as_(SECRETARIAT).get("/api/v1/whoami").await;
    let hsts = resp.header("strict-transport-security").map(str::to_owned);
    let v = resp.ok();
    assert_eq!(v["participant"]["code"], SECRETARIAT);
    assert_eq!(v["participant"]["name"], "臺北市政府秘書處");
    assert_eq!(v["roles"], json!(["sender", "receiver", "agency_admin", "secretariat"]));
    assert_eq!(v["source_ip"], "127.0.0.1");
    assert_eq!(v["credential"]["holder"], "陳秘書");
    assert_eq!(hsts.as_deref(), Some("max-age=31536000; includeSubDomains"));
    hub.stop().await;
}

async fn no_certificate_is_refused_and_logged(backend: Backend) {
    let hub = TestHub::start(backend).await;
    // The handshake succeeds (public pages need no card); the API refuses.
    let resp = hub.anonymously().get("/api/v1/whoami").await;
    assert!(resp.header("strict-transport-security").is_some());
    resp.refused(401, "certificate-required");
    let e = hub.logged("auth.refused", "no client certificate").await;
    assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:certificate-required"));
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"));
    hub.stop().await;
}

async fn untrusted_expired_and_revoked_certificates_fail_the_handshake_and_are_logged(backend: Backend) {
    let hub = TestHub::start(backend).await;
    for (name, reason) in [
        ("untrusted", "unable to get local issuer certificate"),
        ("expired", "certificate has expired"),
        ("revoked", "certificate revoked"),
    ] {
        let err = hub.as_(name).try_get("/api/v1/whoami").await.expect_err(name);
        assert!(err.is_connect() || err.is_request(), "{name}: {err:?}");
        let fingerprint =
            gwx::pki::CertInfo::from_pem(&std::fs::read(hub.path(&format!("clients/{name}.pem"))).unwrap())
                .unwrap()
                .fingerprint;
        let e = hub.logged("tls.refused", reason).await;
        assert_eq!(e.credential.as_deref(), Some(fingerprint.as_str()), "{name}");
        assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"));
    }
    hub.stop().await;
}

async fn a_trusted_but_unregistered_certificate_is_unknown(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let v = hub.as_("unregistered").get("/api/v1/whoami").await.refused(403, "unknown-certificate");
    assert!(detail(&v).contains("not registered"), "{v}");
    assert_eq!(v["title"], "憑證未註冊");
    hub.logged("auth.refused", "is not registered").await;
    hub.stop().await;
}

async fn a_source_outside_the_allowlist_is_refused_and_logged(backend: Backend) {
    let hub = TestHub::start(backend).await;
    // ASSOCIATION may connect only from 127.0.0.2.
    let v = hub.as_(ASSOCIATION).get("/api/v1/whoami").await.refused(403, "ip-not-allowed");
    assert!(detail(&v).contains("127.0.0.1"), "{v}");
    let e = hub.logged("auth.refused", "not in the fixed-IP allowlist").await;
    assert_eq!(e.participant.as_deref(), Some(ASSOCIATION));
    hub.stop().await;
}

async fn each_participant_is_served_from_its_own_addresses_only(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let v = hub.as_from(ASSOCIATION, "127.0.0.2").get("/api/v1/whoami").await.ok();
    assert_eq!(v["participant"]["code"], ASSOCIATION);
    assert_eq!(v["source_ip"], "127.0.0.2");
    // Another participant from an address outside its own list is refused.
    hub.as_from(FOUNDATION, "127.0.0.2").get("/api/v1/whoami").await.refused(403, "ip-not-allowed");
    hub.stop().await;
}

async fn an_ipv6_allowlist_entry_works(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| {
        c.server.https = vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
    })
    .await;
    let admin = hub.as_(IT_BUREAU);
    // Leave FOUNDATION with ::1 only.
    let list = admin.get(&format!("/api/v1/participants/{FOUNDATION}/allowlist")).await.ok();
    let v4 = list.as_array().unwrap().iter().find(|e| e["ip_range"] == "127.0.0.1").unwrap()["id"].as_i64().unwrap();
    admin.delete(&format!("/api/v1/participants/{FOUNDATION}/allowlist/{v4}")).await.no_content();

    hub.as_(FOUNDATION).get("/api/v1/whoami").await.refused(403, "ip-not-allowed");
    let over_v6 = hub.client_builder(FOUNDATION).resolve("localhost", hub.hub.https[1]).build().unwrap();
    let url6 = format!("https://localhost:{}/api/v1/whoami", hub.hub.https[1].port());
    let v = hub.with(over_v6.clone()).send(over_v6.get(&url6)).await.ok();
    assert_eq!(v["source_ip"], "::1");
    assert_eq!(v["participant"]["code"], FOUNDATION);
    hub.stop().await;
}

async fn a_suspension_needs_a_reason(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let suspend = format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend");
    hub.as_(IT_BUREAU).post(&suspend, json!({})).await.refused(422, "invalid-field");
    hub.as_(CIVIL_AFFAIRS).get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

async fn a_suspension_takes_effect_on_open_connections_until_reinstated(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (admin, who) = (hub.as_(IT_BUREAU), hub.as_(CIVIL_AFFAIRS));
    who.get("/api/v1/whoami").await.ok();
    let suspend = format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend");
    let p = admin.post(&suspend, json!({"reason": "資安事件調查"})).await.ok();
    assert_eq!(p["status"], "suspended");
    // On the already open keep-alive connection.
    let v = who.get("/api/v1/whoami").await.refused(403, "participant-suspended");
    assert!(detail(&v).contains("資安事件調查"), "{v}");
    let p = admin.post(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/reinstate"), json!({})).await.ok();
    assert_eq!(p["status"], "active");
    who.get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

async fn a_disabled_credential_is_refused_until_enabled(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (admin, who) = (hub.as_(IT_BUREAU), hub.as_(CIVIL_AFFAIRS));
    let me = who.get("/api/v1/whoami").await.ok();
    let id = me["credential"]["id"].as_i64().unwrap();
    let c = admin.post(&format!("/api/v1/credentials/{id}/disable"), json!({"reason": "IC 卡遺失"})).await.ok();
    assert!(c["disabled_at"].is_string());
    let v = who.get("/api/v1/whoami").await.refused(403, "credential-disabled");
    assert!(detail(&v).contains("IC 卡遺失"), "{v}");
    admin.post_empty(&format!("/api/v1/credentials/{id}/enable")).await.ok();
    who.get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

async fn a_terminated_participant_stays_out(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (admin, who) = (hub.as_(IT_BUREAU), hub.as_(CIVIL_AFFAIRS));
    admin.post(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/terminate"), json!({"reason": "機關裁撤"})).await.ok();
    who.get("/api/v1/whoami").await.refused(403, "participant-suspended");
    admin.post(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/reinstate"), json!({})).await.refused(409, "conflict");
    hub.stop().await;
}

async fn credentials_unused_for_90_days_are_disabled(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.ok();

    // Day 89: nothing is old enough yet. FOUNDATION uses its card again.
    hub.clock.advance(Duration::days(89));
    assert!(hub.hub.run_daily_jobs().await.unwrap().disabled_credentials.is_empty());
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.ok();

    // Day 91: every credential unused since day 0 goes; FOUNDATION's (used on day 89) stays.
    hub.clock.advance(Duration::days(2));
    let report = hub.hub.run_daily_jobs().await.unwrap();
    assert!(!report.disabled_credentials.is_empty());
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.ok();
    let v = hub.as_(CIVIL_AFFAIRS).get("/api/v1/whoami").await.refused(403, "credential-disabled");
    assert!(detail(&v).contains("unused"), "{v}");
    hub.logged("credential.disabled", "unused for the inactivity period").await;

    // Day 182: FOUNDATION's turn, 91 days after its last use on day 91.
    hub.clock.advance(Duration::days(91));
    let report = hub.hub.run_daily_jobs().await.unwrap();
    assert_eq!(report.disabled_credentials.len(), 1);
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.refused(403, "credential-disabled");
    // The last IT bureau credential, unused all along, is kept: someone must enable the rest.
    hub.as_(IT_BUREAU).get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

async fn the_admin_api_refuses_other_roles_and_changes_nothing(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let clerk = hub.as_(SECRETARIAT);
    for (method, path) in [
        ("GET", "/api/v1/participants".to_owned()),
        ("POST", "/api/v1/participants".to_owned()),
        ("POST", format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend")),
        ("GET", "/api/v1/credentials".to_owned()),
        ("POST", "/api/v1/credentials".to_owned()),
        ("POST", "/api/v1/trust/reload".to_owned()),
    ] {
        let req = clerk.request(method.parse().unwrap(), &path).json(&json!({}));
        let v = clerk.send(req).await.refused(403, "forbidden");
        assert!(detail(&v).contains("it_bureau"), "{method} {path}: {v}");
    }
    let e = hub.logged("auth.refused", "needs the 'it_bureau' role").await;
    assert_eq!(e.participant.as_deref(), Some(SECRETARIAT));
    let p = hub.as_(IT_BUREAU).get(&format!("/api/v1/participants/{CIVIL_AFFAIRS}")).await.ok();
    assert_eq!(p["status"], "active");
    hub.stop().await;
}

async fn participants_are_listed_in_pages(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    let list = admin.get("/api/v1/participants?limit=3").await.ok();
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let next = list["next_cursor"].as_str().unwrap();
    let rest = admin.get(&format!("/api/v1/participants?limit=100&cursor={next}")).await.ok();
    assert_eq!(rest["items"].as_array().unwrap().len(), gwx::tools::demo::PARTICIPANTS.len() - 3);
    assert!(rest["next_cursor"].is_null());
    hub.stop().await;
}

async fn plain_http_answers_only_301_to_https(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    let resp = plain.get(format!("http://{}/api/v1/whoami?x=1", hub.hub.http[0])).send().await.unwrap();
    assert_eq!(resp.status(), 301);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("https://localhost:{}/api/v1/whoami?x=1", hub.addr().port())
    );
    hub.stop().await;
}

async fn public_pages_over_https_carry_hsts(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let resp = hub.anonymously().get("/healthz").await;
    assert!(resp.header("strict-transport-security").unwrap().starts_with("max-age="));
    assert_eq!(resp.ok()["status"], "ok");
    hub.stop().await;
}

async fn a_forged_forwarded_for_changes_nothing(backend: Backend) {
    // Default: no trusted proxy.
    let hub = TestHub::start(backend).await;
    let a = hub.as_(ASSOCIATION);
    let forged = a.request(reqwest::Method::GET, "/api/v1/whoami").header("X-Forwarded-For", "127.0.0.2");
    a.send(forged).await.refused(403, "ip-not-allowed");
    hub.stop().await;
}

async fn forwarded_for_counts_only_from_a_trusted_proxy(backend: Backend) {
    // 127.0.0.1 is a trusted proxy that sets X-Forwarded-For.
    let hub = TestHub::start_with(backend, |c| {
        c.proxy.trusted = vec!["127.0.0.1".into()];
        c.proxy.client_ip_header = Some("X-Forwarded-For".into());
    })
    .await;
    let a = hub.as_(ASSOCIATION);
    let via_proxy = a.request(reqwest::Method::GET, "/api/v1/whoami").header("X-Forwarded-For", "10.9.9.9, 127.0.0.2");
    assert_eq!(a.send(via_proxy).await.ok()["source_ip"], "127.0.0.2");
    // From an address that is not the proxy, the header is ignored again.
    let direct = hub.as_from(ASSOCIATION, "127.0.0.2");
    let req = direct.request(reqwest::Method::GET, "/api/v1/whoami").header("X-Forwarded-For", "10.9.9.9");
    assert_eq!(direct.send(req).await.ok()["source_ip"], "127.0.0.2");
    hub.stop().await;
}

/// Sends `preamble` on a fresh TCP connection from 127.0.0.1, then speaks
/// TLS with `client`'s certificate and GETs whoami; returns status and body.
fn whoami_after_preamble(hub: &TestHub, client: &str, preamble: &[u8]) -> (u16, serde_json::Value) {
    use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
    use std::io::{Read, Write};
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(hub.path("certs/ca.pem")).unwrap();
    b.set_certificate_file(hub.path(&format!("clients/{client}.pem")), SslFiletype::PEM).unwrap();
    b.set_private_key_file(hub.path(&format!("clients/{client}.key")), SslFiletype::PEM).unwrap();
    let mut tcp = std::net::TcpStream::connect(hub.addr()).unwrap();
    tcp.write_all(preamble).unwrap();
    let mut tls = b.build().connect("localhost", tcp).unwrap();
    tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

async fn the_proxy_protocol_from_a_trusted_proxy_gives_the_client_address(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| {
        c.proxy.trusted = vec!["127.0.0.1".into()];
        c.proxy.proxy_protocol = true;
    })
    .await;
    let hub = std::sync::Arc::new(hub);
    let h = hub.clone();
    let (v1, v2) = tokio::task::spawn_blocking(move || {
        let v1 = whoami_after_preamble(&h, ASSOCIATION, b"PROXY TCP4 127.0.0.2 127.0.0.1 40000 443\r\n");
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        v2.extend([127, 0, 0, 2, 127, 0, 0, 1]);
        v2.extend(40001u16.to_be_bytes());
        v2.extend(443u16.to_be_bytes());
        let v2 = whoami_after_preamble(&h, ASSOCIATION, &v2);
        (v1, v2)
    })
    .await
    .unwrap();
    for (status, body) in [v1, v2] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["source_ip"], "127.0.0.2");
    }
    std::sync::Arc::into_inner(hub).unwrap().stop().await;
}

async fn a_revocation_takes_effect_on_reload_without_restart(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let kept_alive = hub.as_(FOUNDATION);
    kept_alive.get("/api/v1/whoami").await.ok();

    // The XCA revokes FOUNDATION's certificate; the operator reloads.
    let cert =
        openssl::x509::X509::from_pem(&std::fs::read(hub.path(&format!("clients/{FOUNDATION}.pem"))).unwrap()).unwrap();
    let old = openssl::x509::X509::from_pem(&std::fs::read(hub.path("clients/revoked.pem")).unwrap()).unwrap();
    gwx::tools::demo::write_crls(hub.dir.path(), &[&old, &cert]).unwrap();
    let summary = hub.as_(IT_BUREAU).post_empty("/api/v1/trust/reload").await.ok();
    assert_eq!(summary["crls"].as_array().unwrap().iter().map(|c| c["revoked"].as_u64().unwrap()).sum::<u64>(), 2);
    hub.logged("trust.reloaded", "2 revoked").await;

    // The open connection is re-checked per request; a new one fails the handshake.
    kept_alive.get("/api/v1/whoami").await.refused(401, "certificate-revoked");
    assert!(hub.as_(FOUNDATION).try_get("/api/v1/whoami").await.is_err());
    hub.logged("tls.refused", "certificate revoked (C=TW, O=財團法人").await;
    hub.stop().await;
}

async fn a_broken_trust_directory_keeps_the_previous_trust_store(backend: Backend) {
    let hub = TestHub::start(backend).await;
    std::fs::write(hub.path("certs/crl.pem"), "not a CRL").unwrap();
    let v = hub.as_(IT_BUREAU).post_empty("/api/v1/trust/reload").await.refused(422, "trust-reload-failed");
    assert!(detail(&v).contains("previous trust store"), "{v}");
    hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

crate::both_databases!(
    a_registered_certificate_is_the_caller,
    no_certificate_is_refused_and_logged,
    untrusted_expired_and_revoked_certificates_fail_the_handshake_and_are_logged,
    a_trusted_but_unregistered_certificate_is_unknown,
    a_source_outside_the_allowlist_is_refused_and_logged,
    each_participant_is_served_from_its_own_addresses_only,
    an_ipv6_allowlist_entry_works,
    a_suspension_needs_a_reason,
    a_suspension_takes_effect_on_open_connections_until_reinstated,
    a_disabled_credential_is_refused_until_enabled,
    a_terminated_participant_stays_out,
    credentials_unused_for_90_days_are_disabled,
    the_admin_api_refuses_other_roles_and_changes_nothing,
    participants_are_listed_in_pages,
    plain_http_answers_only_301_to_https,
    public_pages_over_https_carry_hsts,
    a_forged_forwarded_for_changes_nothing,
    forwarded_for_counts_only_from_a_trusted_proxy,
    the_proxy_protocol_from_a_trusted_proxy_gives_the_client_address,
    a_revocation_takes_effect_on_reload_without_restart,
    a_broken_trust_directory_keeps_the_previous_trust_store,
);

//! Authentication end to end, over real mTLS on loopback (DESIGN §2):
//! certificates, fixed-IP allowlists, participant and credential status,
//! roles, proxies, and the exchange log of every refusal.

mod common;

use chrono::Duration;
use common::{Backend, TestHub, json, problem, wait_for_log};
use gwx::tools::demo::{ASSOCIATION, CIVIL_AFFAIRS, FOUNDATION, IT_BUREAU, SECRETARIAT};

async fn valid_certificate_gets_whoami(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let resp = hub.client(SECRETARIAT).get(hub.url("/api/v1/whoami")).send().await.unwrap();
    let hsts = resp.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
    let v = json(resp, 200).await;
    assert_eq!(v["participant"]["code"], SECRETARIAT);
    assert_eq!(v["participant"]["name"], "臺北市政府秘書處");
    assert_eq!(v["roles"], serde_json::json!(["sender", "receiver", "agency_admin", "secretariat"]));
    assert_eq!(v["source_ip"], "127.0.0.1");
    assert_eq!(v["credential"]["holder"], "陳秘書");
    assert_eq!(hsts.as_deref(), Some("max-age=31536000; includeSubDomains"));
    hub.stop().await;
}

async fn refused_certificates_are_logged_with_their_reason(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let url = hub.url("/api/v1/whoami");

    // No certificate: the handshake succeeds (public pages), the API refuses.
    let resp = hub.anonymous().get(&url).send().await.unwrap();
    assert!(resp.headers().contains_key("strict-transport-security"));
    problem(resp, 401, "certificate-required").await;
    let e = wait_for_log(hub.store(), "auth.refused", "no client certificate").await;
    assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:certificate-required"));
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"));

    // Untrusted CA, expired, revoked: the handshake itself refuses.
    for (name, reason) in [
        ("untrusted", "unable to get local issuer certificate"),
        ("expired", "certificate has expired"),
        ("revoked", "certificate revoked"),
    ] {
        let err = hub.client(name).get(&url).send().await.expect_err(name);
        assert!(err.is_connect() || err.is_request(), "{name}: {err:?}");
        let fingerprint =
            gwx::pki::CertInfo::from_pem(&std::fs::read(hub.path(&format!("clients/{name}.pem"))).unwrap())
                .unwrap()
                .fingerprint;
        let e = wait_for_log(hub.store(), "tls.refused", reason).await;
        assert_eq!(e.credential.as_deref(), Some(fingerprint.as_str()), "{name}");
        assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"));
    }
    hub.stop().await;
}

async fn trusted_but_unregistered_certificate_is_unknown(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let v = problem(
        hub.client("unregistered").get(hub.url("/api/v1/whoami")).send().await.unwrap(),
        403,
        "unknown-certificate",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("not registered"), "{v}");
    assert_eq!(v["title"], "憑證未註冊");
    wait_for_log(hub.store(), "auth.refused", "is not registered").await;
    hub.stop().await;
}

async fn source_ip_must_be_in_the_allowlist(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let url = hub.url("/api/v1/whoami");
    // ASSOCIATION may connect only from 127.0.0.2.
    let v = problem(hub.client(ASSOCIATION).get(&url).send().await.unwrap(), 403, "ip-not-allowed").await;
    assert!(v["detail"].as_str().unwrap().contains("127.0.0.1"), "{v}");
    let e = wait_for_log(hub.store(), "auth.refused", "not in the fixed-IP allowlist").await;
    assert_eq!(e.participant.as_deref(), Some(ASSOCIATION));

    let v = json(hub.client_from(ASSOCIATION, "127.0.0.2").get(&url).send().await.unwrap(), 200).await;
    assert_eq!(v["participant"]["code"], ASSOCIATION);
    assert_eq!(v["source_ip"], "127.0.0.2");
    // Another participant from an address outside its own list is refused too.
    problem(hub.client_from(FOUNDATION, "127.0.0.2").get(&url).send().await.unwrap(), 403, "ip-not-allowed").await;
    hub.stop().await;
}

async fn ipv6_allowlist_entry_works(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| {
        c.server.https = vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
    })
    .await;
    let admin = hub.client(IT_BUREAU);
    // Leave FOUNDATION with ::1 only.
    let list =
        json(admin.get(hub.url(&format!("/api/v1/participants/{FOUNDATION}/allowlist"))).send().await.unwrap(), 200)
            .await;
    let v4 = list.as_array().unwrap().iter().find(|e| e["ip_range"] == "127.0.0.1").unwrap()["id"].as_i64().unwrap();
    let resp =
        admin.delete(hub.url(&format!("/api/v1/participants/{FOUNDATION}/allowlist/{v4}"))).send().await.unwrap();
    assert_eq!(resp.status(), 204);

    problem(hub.client(FOUNDATION).get(hub.url("/api/v1/whoami")).send().await.unwrap(), 403, "ip-not-allowed").await;
    let over_v6 = hub.client_builder(FOUNDATION).resolve("localhost", hub.hub.https[1]).build().unwrap();
    let url6 = format!("https://localhost:{}/api/v1/whoami", hub.hub.https[1].port());
    let v = json(over_v6.get(&url6).send().await.unwrap(), 200).await;
    assert_eq!(v["source_ip"], "::1");
    assert_eq!(v["participant"]["code"], FOUNDATION);
    hub.stop().await;
}

async fn suspended_participant_and_disabled_credential_are_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.client(IT_BUREAU);
    let who = hub.client(CIVIL_AFFAIRS);
    let url = hub.url("/api/v1/whoami");
    json(who.get(&url).send().await.unwrap(), 200).await;

    // A suspension needs a reason.
    let suspend = hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend"));
    problem(admin.post(&suspend).json(&serde_json::json!({})).send().await.unwrap(), 422, "invalid-field").await;
    let p = json(admin.post(&suspend).json(&serde_json::json!({"reason": "資安事件調查"})).send().await.unwrap(), 200)
        .await;
    assert_eq!(p["status"], "suspended");
    // Takes effect on the already open keep-alive connection.
    let v = problem(who.get(&url).send().await.unwrap(), 403, "participant-suspended").await;
    assert!(v["detail"].as_str().unwrap().contains("資安事件調查"), "{v}");
    let p = json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/reinstate")))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(p["status"], "active");
    json(who.get(&url).send().await.unwrap(), 200).await;

    // Disable the credential (a lost card), then enable it again.
    let me = json(who.get(&url).send().await.unwrap(), 200).await;
    let id = me["credential"]["id"].as_i64().unwrap();
    let c = json(
        admin
            .post(hub.url(&format!("/api/v1/credentials/{id}/disable")))
            .json(&serde_json::json!({"reason": "IC 卡遺失"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(c["disabled_at"].is_string());
    let v = problem(who.get(&url).send().await.unwrap(), 403, "credential-disabled").await;
    assert!(v["detail"].as_str().unwrap().contains("IC 卡遺失"), "{v}");
    json(admin.post(hub.url(&format!("/api/v1/credentials/{id}/enable"))).send().await.unwrap(), 200).await;
    json(who.get(&url).send().await.unwrap(), 200).await;

    // A terminated participant stays out.
    let terminate = hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/terminate"));
    json(admin.post(&terminate).json(&serde_json::json!({"reason": "機關裁撤"})).send().await.unwrap(), 200).await;
    problem(who.get(&url).send().await.unwrap(), 403, "participant-suspended").await;
    problem(
        admin
            .post(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/reinstate")))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
        409,
        "conflict",
    )
    .await;
    hub.stop().await;
}

async fn credentials_unused_for_90_days_are_disabled(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let url = hub.url("/api/v1/whoami");
    json(hub.client(FOUNDATION).get(&url).send().await.unwrap(), 200).await;

    // Day 89: nothing is old enough yet. FOUNDATION uses its card again.
    hub.clock.advance(Duration::days(89));
    assert!(hub.hub.run_daily_jobs().await.unwrap().disabled_credentials.is_empty());
    json(hub.client(FOUNDATION).get(&url).send().await.unwrap(), 200).await;

    // Day 91: every credential unused since day 0 goes; FOUNDATION's (used on day 89) stays.
    hub.clock.advance(Duration::days(2));
    let report = hub.hub.run_daily_jobs().await.unwrap();
    assert!(!report.disabled_credentials.is_empty());
    json(hub.client(FOUNDATION).get(&url).send().await.unwrap(), 200).await;
    let v = problem(hub.client(CIVIL_AFFAIRS).get(&url).send().await.unwrap(), 403, "credential-disabled").await;
    assert!(v["detail"].as_str().unwrap().contains("unused"), "{v}");
    wait_for_log(hub.store(), "credential.disabled", "unused for the inactivity period").await;

    // Day 182: FOUNDATION's turn, 91 days after its last use on day 91.
    hub.clock.advance(Duration::days(91));
    let report = hub.hub.run_daily_jobs().await.unwrap();
    assert_eq!(report.disabled_credentials.len(), 1);
    problem(hub.client(FOUNDATION).get(&url).send().await.unwrap(), 403, "credential-disabled").await;
    hub.stop().await;
}

async fn admin_api_needs_it_bureau(backend: Backend) {
    let hub = TestHub::start(backend).await;
    for (method, path) in [
        ("GET", "/api/v1/participants".to_owned()),
        ("POST", "/api/v1/participants".to_owned()),
        ("POST", format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend")),
        ("GET", "/api/v1/credentials".to_owned()),
        ("POST", "/api/v1/credentials".to_owned()),
        ("POST", "/api/v1/trust/reload".to_owned()),
    ] {
        let req = hub.client(SECRETARIAT).request(method.parse().unwrap(), hub.url(&path)).json(&serde_json::json!({}));
        let v = problem(req.send().await.unwrap(), 403, "forbidden").await;
        assert!(v["detail"].as_str().unwrap().contains("it_bureau"), "{method} {path}: {v}");
    }
    let e = wait_for_log(hub.store(), "auth.refused", "needs the 'it_bureau' role").await;
    assert_eq!(e.participant.as_deref(), Some(SECRETARIAT));
    // Nothing changed.
    let p = json(
        hub.client(IT_BUREAU).get(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}"))).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(p["status"], "active");
    let list =
        json(hub.client(IT_BUREAU).get(hub.url("/api/v1/participants?limit=3")).send().await.unwrap(), 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let next = list["next_cursor"].as_str().unwrap();
    let rest = json(
        hub.client(IT_BUREAU)
            .get(hub.url(&format!("/api/v1/participants?limit=100&cursor={next}")))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), gwx::tools::demo::PARTICIPANTS.len() - 3);
    assert!(rest["next_cursor"].is_null());
    hub.stop().await;
}

async fn plain_http_redirects_to_https(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    let resp = plain.get(format!("http://{}/api/v1/whoami?x=1", hub.hub.http[0])).send().await.unwrap();
    assert_eq!(resp.status(), 301);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("https://localhost:{}/api/v1/whoami?x=1", hub.addr().port())
    );
    // Public pages over HTTPS carry HSTS as well.
    let resp = hub.anonymous().get(hub.url("/healthz")).send().await.unwrap();
    assert!(resp.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    let v = json(resp, 200).await;
    assert_eq!(v["status"], "ok");
    hub.stop().await;
}

async fn forwarded_for_is_ignored_unless_from_a_trusted_proxy(backend: Backend) {
    // Default: no trusted proxy; the forged header changes nothing.
    let hub = TestHub::start(backend.clone()).await;
    let forged = hub.client(ASSOCIATION).get(hub.url("/api/v1/whoami")).header("X-Forwarded-For", "127.0.0.2");
    problem(forged.send().await.unwrap(), 403, "ip-not-allowed").await;
    hub.stop().await;

    // 127.0.0.1 is a trusted proxy that sets X-Forwarded-For.
    let hub = TestHub::start_with(backend, |c| {
        c.proxy.trusted = vec!["127.0.0.1".into()];
        c.proxy.client_ip_header = Some("X-Forwarded-For".into());
    })
    .await;
    let via_proxy =
        hub.client(ASSOCIATION).get(hub.url("/api/v1/whoami")).header("X-Forwarded-For", "10.9.9.9, 127.0.0.2");
    let v = json(via_proxy.send().await.unwrap(), 200).await;
    assert_eq!(v["source_ip"], "127.0.0.2");
    // From an address that is not the proxy, the header is ignored again.
    let direct =
        hub.client_from(ASSOCIATION, "127.0.0.2").get(hub.url("/api/v1/whoami")).header("X-Forwarded-For", "10.9.9.9");
    let v = json(direct.send().await.unwrap(), 200).await;
    assert_eq!(v["source_ip"], "127.0.0.2");
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

async fn proxy_protocol_from_a_trusted_proxy(backend: Backend) {
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

async fn revocation_takes_effect_on_reload_without_restart(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let url = hub.url("/api/v1/whoami");
    let kept_alive = hub.client(FOUNDATION);
    json(kept_alive.get(&url).send().await.unwrap(), 200).await;

    // The XCA revokes FOUNDATION's certificate; the operator reloads.
    let cert =
        openssl::x509::X509::from_pem(&std::fs::read(hub.path(&format!("clients/{FOUNDATION}.pem"))).unwrap()).unwrap();
    let old = openssl::x509::X509::from_pem(&std::fs::read(hub.path("clients/revoked.pem")).unwrap()).unwrap();
    gwx::tools::demo::write_crls(hub.dir.path(), &[&old, &cert]).unwrap();
    let summary = json(hub.client(IT_BUREAU).post(hub.url("/api/v1/trust/reload")).send().await.unwrap(), 200).await;
    assert_eq!(summary["crls"].as_array().unwrap().iter().map(|c| c["revoked"].as_u64().unwrap()).sum::<u64>(), 2);
    wait_for_log(hub.store(), "trust.reloaded", "2 revoked").await;

    // The open connection is re-checked per request; a new one fails the handshake.
    problem(kept_alive.get(&url).send().await.unwrap(), 401, "certificate-revoked").await;
    assert!(hub.client(FOUNDATION).get(&url).send().await.is_err());
    wait_for_log(hub.store(), "tls.refused", "certificate revoked (C=TW, O=財團法人").await;

    // A broken trust directory is refused and the old store stays in force.
    std::fs::write(hub.path("certs/crl.pem"), "not a CRL").unwrap();
    let v = problem(
        hub.client(IT_BUREAU).post(hub.url("/api/v1/trust/reload")).send().await.unwrap(),
        422,
        "trust-reload-failed",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("previous trust store"), "{v}");
    json(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 200).await;
    hub.stop().await;
}

both_databases!(
    valid_certificate_gets_whoami,
    refused_certificates_are_logged_with_their_reason,
    trusted_but_unregistered_certificate_is_unknown,
    source_ip_must_be_in_the_allowlist,
    ipv6_allowlist_entry_works,
    suspended_participant_and_disabled_credential_are_refused,
    credentials_unused_for_90_days_are_disabled,
    admin_api_needs_it_bureau,
    plain_http_redirects_to_https,
    forwarded_for_is_ignored_unless_from_a_trusted_proxy,
    proxy_protocol_from_a_trusted_proxy,
    revocation_takes_effect_on_reload_without_restart,
);

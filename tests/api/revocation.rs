//! Stale revocation data fails closed (DESIGN §2): once a CRL is past its
//! nextUpdate, the certificates it covers are refused on new and on open
//! connections; the IT bureau is told before and when it happens (log,
//! `/metrics`, console) and recovers by installing a newer CRL, even when
//! its own card is among those refused.

use chrono::{DateTime, Duration, Utc};
use gwx::pki::demo::{KeyPair, crl};
use gwx::tools::demo::{FOUNDATION, IT_BUREAU, SECRETARIAT};

use crate::helpers::{Backend, TestHub, detail};

/// Installs CRLs for the demo CAs, all current but `ca`'s ("gca", "xca"),
/// which is issued at `issued` and valid for `days`. Written beside the
/// trust directory and moved in, as an operator's copy would be.
fn install_crls(hub: &TestHub, ca: &str, issued: DateTime<Utc>, days: i64) {
    let now = Utc::now();
    let mut pem = Vec::new();
    for name in ["root", "gca", "xca"] {
        let kp = KeyPair::read(&hub.path(&format!("pki/{name}"))).unwrap();
        let (from, valid) = if name == ca { (issued, days) } else { (now, 825) };
        let number = u32::try_from(now.timestamp_micros() % 1_000_000_000).unwrap();
        pem.extend(crl(&kp, &[], number, from, valid).unwrap().to_pem().unwrap());
    }
    std::fs::write(hub.path("crl.pem.new"), pem).unwrap();
    std::fs::rename(hub.path("crl.pem.new"), hub.path("certs/crl.pem")).unwrap();
}

/// The subject of a demo CA, as the hub names it.
fn ca_name(hub: &TestHub, ca: &str) -> String {
    gwx::pki::name_to_string(KeyPair::read(&hub.path(&format!("pki/{ca}"))).unwrap().cert.subject_name())
}

/// `/metrics` until it holds `line` (other hubs in this process share the
/// recorder and may publish in between), bounded.
async fn metrics_show(hub: &TestHub, line: &str) {
    for _ in 0..50 {
        if hub.anonymously().get("/metrics").await.text().lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("/metrics never showed {line}");
}

async fn a_crl_past_its_next_update_refuses_new_and_open_connections(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| c.tls.trust_watch_secs = 0).await;
    let kept_alive = hub.as_(FOUNDATION);
    kept_alive.get("/api/v1/whoami").await.ok();

    // The XCA's CRL, issued ten days ago, was due again three days ago.
    install_crls(&hub, "xca", Utc::now() - Duration::days(10), 7);
    let summary = hub.as_(IT_BUREAU).post_empty("/api/v1/trust/reload").await.ok();
    let xca = ca_name(&hub, "xca");
    let states: Vec<_> =
        summary["crls"].as_array().unwrap().iter().map(|c| (c["issuer"].clone(), c["state"].clone())).collect();
    assert!(states.contains(&(xca.clone().into(), "expired".into())), "{states:?}");
    let e = hub.logged("trust.reloaded", "expired at").await;
    assert!(e.detail.contains(&xca) && e.detail.contains("refused"), "{}", e.detail);

    // Fail closed: the open connection is refused, a new one fails the handshake.
    let v = kept_alive.get("/api/v1/whoami").await.refused(401, "revocation-unknown");
    assert!(detail(&v).contains("cannot be checked"), "{v}");
    hub.logged("auth.refused", "whether it is revoked cannot be checked").await;
    assert!(hub.as_(FOUNDATION).try_get("/api/v1/whoami").await.is_err());
    hub.logged("tls.refused", "CRL has expired").await;
    // Certificates of the other CAs are unaffected.
    hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();

    // The IT bureau sees it in /metrics and on its console page.
    metrics_show(&hub, &format!("gwx_crl_expired{{issuer=\"{xca}\"}} 1")).await;
    let html = hub.as_(IT_BUREAU).get("/console/admin").await;
    assert_eq!(html.status, 200);
    assert!(html.text().contains("data-crl-warning") && html.text().contains("已於"), "{}", html.text());

    // A current CRL, reloaded: served again on the open connection and on new ones.
    install_crls(&hub, "xca", Utc::now(), 7);
    hub.as_(IT_BUREAU).post_empty("/api/v1/trust/reload").await.ok();
    kept_alive.get("/api/v1/whoami").await.ok();
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.ok();
    metrics_show(&hub, &format!("gwx_crl_expired{{issuer=\"{xca}\"}} 0")).await;
    hub.stop().await;
}

async fn the_it_bureau_locked_out_by_a_stale_crl_recovers_by_installing_a_new_one(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| c.tls.trust_watch_secs = 1).await;
    let it = hub.as_(IT_BUREAU);
    it.get("/api/v1/whoami").await.ok();

    // The GCA's CRL (the IT bureau's own card is GCA-issued) goes stale.
    install_crls(&hub, "gca", Utc::now() - Duration::days(10), 7);
    let gca = ca_name(&hub, "gca");
    let e = hub.logged("trust.crl_expired", &gca).await;
    assert!(e.detail.contains("installed in the trust directory"), "{}", e.detail);
    hub.logged("trust.reloaded", "the trust directory changed").await;
    // Its card is refused too: no reload through the API is possible now.
    it.post_empty("/api/v1/trust/reload").await.refused(401, "revocation-unknown");

    // The operator copies a current CRL into the trust directory: picked up, no restart.
    install_crls(&hub, "gca", Utc::now(), 7);
    let mut served = false;
    for _ in 0..100 {
        if it.get("/api/v1/whoami").await.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served, "the IT bureau was not served again after a current CRL was installed");
    hub.as_(IT_BUREAU).get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

async fn a_crl_near_its_next_update_is_announced_to_the_it_bureau(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| c.tls.trust_watch_secs = 1).await;
    // Due again in a day: within the 72 hours of warning.
    install_crls(&hub, "xca", Utc::now(), 1);
    let xca = ca_name(&hub, "xca");
    let e = hub.logged("trust.crl_expiring", &xca).await;
    assert!(e.detail.contains("install a newer one"), "{}", e.detail);
    let t = hub.as_(IT_BUREAU).get("/api/v1/trust").await.ok();
    let crl = t["crls"].as_array().unwrap().iter().find(|c| c["issuer"] == xca.as_str()).unwrap().clone();
    assert_eq!(crl["state"], "expiring", "{crl}");
    metrics_show(&hub, &format!("gwx_crl_expiring{{issuer=\"{xca}\"}} 1")).await;
    let html = hub.as_(IT_BUREAU).get("/console/admin").await;
    assert!(html.text().contains("data-crl-warning") && html.text().contains("將於"), "{}", html.text());
    // Still served: it has not expired.
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.ok();
    // The security audit (政風處) sees the warning among the security actions.
    let audit = hub.as_(gwx::tools::demo::ETHICS).get("/api/v1/audit/security?action=trust.crl_expiring").await.ok();
    assert!(!audit["items"].as_array().unwrap().is_empty(), "{audit}");
    hub.stop().await;
}

crate::both_databases!(
    a_crl_past_its_next_update_refuses_new_and_open_connections,
    the_it_bureau_locked_out_by_a_stale_crl_recovers_by_installing_a_new_one,
    a_crl_near_its_next_update_is_announced_to_the_it_bureau,
);

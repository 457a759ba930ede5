//! One certificate and signature policy (`gwx::pki::policy`) wherever a
//! certificate is presented: the envelope's signer and its digest, the TLS
//! handshake, and the registration of a credential — each refusal naming
//! what is weak.

use chrono::{Duration, Utc};
use gwx::pki::demo::{KeyPair, Weakness, issue_weak};
use gwx::tools::demo::IT_BUREAU;
use openssl::hash::MessageDigest;
use serde_json::json;

use crate::helpers::{Backend, TestHub, detail, read_until_closed};
use crate::packages::{keypair, letter, parts, refused};

/// A certificate for the IT bureau's organisation from the demo GCA, with
/// one weakness; also written to `clients/<name>` for TLS tests.
fn weak(hub: &TestHub, name: &str, weakness: Weakness) -> KeyPair {
    let gca = KeyPair::read(&hub.path("pki/gca")).unwrap();
    let now = Utc::now();
    let subject = [("C", "TW"), ("O", "臺北市政府資訊局"), ("CN", name)];
    let kp = issue_weak(&subject, weakness, now - Duration::hours(1), now + Duration::days(30), &gca).unwrap();
    kp.write(&hub.path(&format!("clients/{name}"))).unwrap();
    kp
}

const WEAK_CERTIFICATES: [(Weakness, &str); 4] = [
    (Weakness::Rsa1024, "RSA key of 1024 bits"),
    (Weakness::Sha1Signed, "signed with sha1WithRSAEncryption"),
    (Weakness::NoDigitalSignature, "keyUsage does not allow digitalSignature"),
    (Weakness::Ca, "CA certificate"),
];

async fn an_envelope_signed_with_md5_or_sha1_is_refused_as_weak(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    let kp = keypair(&hub, IT_BUREAU);
    for (md, name) in [(MessageDigest::md5(), "md5"), (MessageDigest::sha1(), "sha1")] {
        let mut p = parts(&out);
        p[1].2 = gwx::pki::cms::sign_detached_with(&out.envelope_xml, &kp.cert, &kp.key, md).unwrap();
        let v = refused(&hub, IT_BUREAU, p, 422, "weak-signature").await;
        assert!(detail(&v).contains(&format!("digest {name}")), "{v}");
        let e = hub.logged("request.refused", &format!("digest {name}")).await;
        assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:weak-signature"));
    }
    // The same envelope signed with SHA-512 is fine.
    let mut p = parts(&out);
    p[1].2 = gwx::pki::cms::sign_detached_with(&out.envelope_xml, &kp.cert, &kp.key, MessageDigest::sha512()).unwrap();
    crate::packages::post(&hub, IT_BUREAU, p).await.created();
    hub.stop().await;
}

async fn an_envelope_signed_by_a_weak_certificate_is_refused_naming_the_weakness(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    for (weakness, words) in WEAK_CERTIFICATES {
        let kp = weak(&hub, "weak-signer", weakness);
        let mut p = parts(&out);
        p[1].2 = gwx::pki::cms::sign_detached(&out.envelope_xml, &kp.cert, &kp.key).unwrap();
        let v = refused(&hub, IT_BUREAU, p, 422, "weak-signature").await;
        assert!(detail(&v).contains(words), "{weakness:?}: {v}");
    }
    hub.stop().await;
}

async fn a_certificate_tls_would_refuse_cannot_be_registered(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    let before = admin.get("/api/v1/credentials?limit=1000").await.ok()["items"].as_array().unwrap().len();
    let cases = WEAK_CERTIFICATES.into_iter().chain([(Weakness::NoClientAuth, "does not include clientAuth")]);
    for (weakness, words) in cases {
        let kp = weak(&hub, "to-register", weakness);
        let pem = String::from_utf8(kp.cert_pem()).unwrap();
        let body = json!({"participant": IT_BUREAU, "certificate": pem, "roles": ["receiver"], "holder": "林工程師"});
        let v = admin.post("/api/v1/credentials", body).await.refused(422, "weak-certificate");
        assert!(detail(&v).contains(words), "{weakness:?}: {v}");
    }
    let after = admin.get("/api/v1/credentials?limit=1000").await.ok()["items"].as_array().unwrap().len();
    assert_eq!(after, before, "nothing registered");
    hub.logged("request.refused", "cannot be a credential").await;
    hub.stop().await;
}

async fn a_ca_or_weak_client_certificate_fails_the_handshake_and_is_logged(backend: Backend) {
    let hub = TestHub::start(backend).await;
    for (name, weakness) in [("ca-as-client", Weakness::Ca), ("rsa-1024", Weakness::Rsa1024)] {
        let kp = weak(&hub, name, weakness);
        // With TLS 1.3 the client may finish first and meet the refusal on reading.
        if let Ok(mut tls) = hub.raw_tls(name, "http/1.1", "127.0.0.1").await {
            use tokio::io::AsyncWriteExt;
            let _ = tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
            let answer = read_until_closed(&mut tls, 10).await;
            assert!(answer.is_empty(), "{name}: {}", String::from_utf8_lossy(&answer));
        }
        let fp = gwx::pki::fingerprint(&kp.cert);
        let e = hub.logged("tls.refused", name).await;
        assert_eq!(e.credential.as_deref(), Some(fp.as_str()), "{name}");
        let reason = e.detail.to_lowercase();
        assert!(reason.contains("weak") || reason.contains("too small"), "{name}: {}", e.detail);
    }
    hub.stop().await;
}

crate::both_databases!(
    an_envelope_signed_with_md5_or_sha1_is_refused_as_weak,
    an_envelope_signed_by_a_weak_certificate_is_refused_naming_the_weakness,
    a_certificate_tls_would_refuse_cannot_be_registered,
    a_ca_or_weak_client_certificate_fails_the_handshake_and_is_logged,
);

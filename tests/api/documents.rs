//! Submitting documents end to end over mTLS (DESIGN §3): a signed package
//! in, routed, with a receipt signed by the hub; every refusal of §3.4 with
//! its own type and nothing stored; idempotent resubmission; fan-out.

use bytes::Bytes;
use gwx::client::package::{SendOptions, Source};
use gwx::domain::ParticipantCode;
use gwx::domain::document::Sha256;
use gwx::formats::envelope::FileRole;
use gwx::tools::demo::{CIVIL_AFFAIRS, IT_BUREAU, RDEC, SECRETARIAT, SOCIAL_WELFARE};
use serde_json::json;

use crate::helpers::{Backend, TestHub, detail};
use crate::packages::{
    deliveries_by_recipient, files_in, keypair, letter, package_from, parts, post, refused, resign, xml,
};

async fn an_accepted_document_gets_a_receipt_signed_by_the_hub(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    let sender = gwx::client::Client::new(&hub.identity(IT_BUREAU)).unwrap();
    let (status, receipt) = sender.send(&out, None).await.unwrap();
    assert_eq!(status, 201);
    let doc_id = receipt["document_id"].as_str().unwrap().to_owned();
    assert_eq!(receipt["document_number"], "北市資綜字第1153012345號");
    assert_eq!(receipt["envelope_sha256"], Sha256::of(&out.envelope_xml).as_str());
    let recipients: Vec<_> = receipt["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["participant"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(recipients, [(SECRETARIAT, "original"), (RDEC, "copy")]);

    // The receipt is signed by the hub and says what the response says.
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(receipt["receipt"].as_str().unwrap()).unwrap();
    let trust = gwx::pki::trust::TrustMaterial::load_ca_file(&hub.path("certs/ca.pem")).unwrap();
    let (content, signer) = gwx::pki::cms::verify_attached(&der, &trust).unwrap();
    assert!(gwx::pki::name_to_string(signer.subject_name()).contains("收據"), "signed with the receipt key");
    let content: serde_json::Value = serde_json::from_slice(&content).unwrap();
    assert_eq!(content["document_id"], doc_id.as_str());
    assert_eq!(content["recipients"], receipt["recipients"]);
    let again = hub.as_(IT_BUREAU).get(&format!("/api/v1/documents/{doc_id}/receipt")).await;
    assert_eq!(again.body.to_vec(), der);
    hub.stop().await;
}

async fn each_recipient_fetches_and_verifies_the_package(backend: Backend) {
    let hub = TestHub::start(backend).await;
    post(&hub, IT_BUREAU, parts(&letter(&hub))).await.created();
    for who in [SECRETARIAT, RDEC] {
        let inbox = hub.inbox(who).await;
        assert_eq!(inbox.len(), 1, "{who}");
        assert_eq!(inbox[0]["state"], "delivered");
        assert_eq!(inbox[0]["subject"], "檢送本局「網域名稱轉移計畫」1份，請查照。");
        let dir = hub.path(&format!("fetched-{who}"));
        let client = gwx::client::Client::new(&hub.identity(who)).unwrap();
        let written = client.fetch(inbox[0]["id"].as_str().unwrap(), &dir).await.unwrap();
        assert_eq!(written.len(), 7);
        let v = gwx::client::verify::verify_dir(&dir, &hub.path("certs/ca.pem")).unwrap();
        assert!(v.signer.contains("臺北市政府資訊局"));
        assert_eq!(
            std::fs::read(dir.join("1153012345_ATTCH2.odt")).unwrap(),
            std::fs::read("tests/fixtures/letter/1153012345_ATTCH2.odt").unwrap()
        );
    }
    hub.stop().await;
}

async fn a_tampered_download_no_longer_verifies(backend: Backend) {
    let hub = TestHub::start(backend).await;
    post(&hub, IT_BUREAU, parts(&letter(&hub))).await.created();
    let id = hub.inbox(RDEC).await[0]["id"].as_str().unwrap().to_owned();
    let dir = hub.path("fetched");
    gwx::client::Client::new(&hub.identity(RDEC)).unwrap().fetch(&id, &dir).await.unwrap();
    std::fs::write(dir.join("1153012345_ATTCH1.pdf"), b"%PDF-1.4 forged").unwrap();
    assert!(gwx::client::verify::verify_dir(&dir, &hub.path("certs/ca.pem")).is_err());
    hub.stop().await;
}

/// Sends the letter; SECRETARIAT confirms it, RDEC returns it with a reason.
/// Returns the document id.
async fn letter_confirmed_and_returned(hub: &TestHub) -> String {
    let receipt = post(hub, IT_BUREAU, parts(&letter(hub))).await.created();
    let secretariat = hub.inbox(SECRETARIAT).await[0]["id"].as_str().unwrap().to_owned();
    let c = hub.fetch_and_confirm(SECRETARIAT, &secretariat).await;
    assert_eq!(c["state"], "confirmed");
    let rdec = hub.inbox(RDEC).await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(hub.as_(RDEC).get(&format!("/api/v1/deliveries/{rdec}/package")).await.status, 200);
    let url = format!("/api/v1/deliveries/{rdec}/return");
    let r = hub.as_(RDEC).post(&url, json!({"reason": "非本會業務，請改送秘書處"})).await.ok();
    assert_eq!(r["state"], "returned");
    receipt["document_id"].as_str().unwrap().to_owned()
}

async fn the_sender_sees_each_recipients_confirmation_or_return(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let doc_id = letter_confirmed_and_returned(&hub).await;
    let s = hub.as_(IT_BUREAU).get(&format!("/api/v1/documents/{doc_id}")).await.ok();
    let d = deliveries_by_recipient(&s);
    assert_eq!(d[SECRETARIAT]["state"], "confirmed");
    assert!(d[SECRETARIAT]["confirmed_at"].is_string() && d[SECRETARIAT]["fetched_at"].is_string());
    assert_eq!(d[RDEC]["state"], "returned");
    assert_eq!(d[RDEC]["return_reason"], "非本會業務，請改送秘書處");
    assert_eq!(d[RDEC]["kind"], "copy");
    assert_eq!(s["parts"].as_array().unwrap().len(), 7);
    assert_eq!(s["kind"], "書函");
    hub.stop().await;
}

async fn every_step_of_a_document_is_in_the_log_chain(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let doc_id = letter_confirmed_and_returned(&hub).await;
    for action in
        ["document.accepted", "delivery.delivered", "delivery.fetched", "delivery.confirmed", "delivery.returned"]
    {
        let e = hub.logged(action, "1153012345").await;
        assert_eq!(e.document.as_deref(), Some(doc_id.as_str()), "{action}");
    }
    assert!(hub.store().verify_log().await.unwrap().is_ok());
    hub.stop().await;
}

/// `openssl` and `curl` command lines exactly as DESIGN §3 shows them.
async fn a_package_from_openssl_and_curl_is_accepted(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (code, body) = crate::kinds::openssl_and_curl(&hub, std::path::Path::new("tests/fixtures/letter"));
    assert_eq!(code, "201", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(hub.inbox(SECRETARIAT).await.len(), 1);
    hub.stop().await;
}

async fn a_signature_over_other_bytes_or_none_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let good = letter(&hub);
    let mut p = parts(&good);
    let kp = keypair(&hub, IT_BUREAU);
    p[1].2 = gwx::pki::cms::sign_detached(b"something else", &kp.cert, &kp.key).unwrap();
    refused(&hub, IT_BUREAU, p, 422, "bad-signature").await;
    let mut p = parts(&good);
    p[1].2 = b"not a signature".to_vec();
    refused(&hub, IT_BUREAU, p, 422, "bad-signature").await;
    hub.stop().await;
}

async fn an_envelope_signed_by_another_participant_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut other = letter(&hub);
    resign(&hub, &mut other, SECRETARIAT);
    let v = refused(&hub, IT_BUREAU, parts(&other), 422, "signer-not-sender").await;
    assert!(detail(&v).contains(SECRETARIAT), "{v}");
    hub.stop().await;
}

async fn a_file_listed_but_missing_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut p = parts(&letter(&hub));
    p.retain(|(_, f, _)| f != "1153012345_ATTCH2.odt");
    let v = refused(&hub, IT_BUREAU, p, 422, "missing-file").await;
    assert!(detail(&v).contains("ATTCH2"));
    hub.stop().await;
}

async fn a_file_not_listed_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut p = parts(&letter(&hub));
    p.push(("attachment", "extra.pdf".into(), b"%PDF-1.4 extra".to_vec()));
    refused(&hub, IT_BUREAU, p, 422, "unlisted-file").await;
    hub.stop().await;
}

async fn an_altered_or_truncated_file_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let good = letter(&hub);
    let mut p = parts(&good);
    let pdf = p.iter_mut().find(|(_, f, _)| f.ends_with(".pdf")).unwrap();
    let last = pdf.2.len() - 3;
    pdf.2[last] ^= 1;
    let v = refused(&hub, IT_BUREAU, p, 422, "file-mismatch").await;
    assert!(detail(&v).contains("SHA-256"));
    let mut p = parts(&good);
    p.iter_mut().find(|(_, f, _)| f.ends_with(".png")).unwrap().2.truncate(10);
    let v = refused(&hub, IT_BUREAU, p, 422, "file-mismatch").await;
    assert!(detail(&v).contains("bytes"));
    hub.stop().await;
}

async fn a_document_that_disagrees_with_its_envelope_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut other = letter(&hub);
    other.envelope.subject = "另一個主旨".into();
    resign(&hub, &mut other, IT_BUREAU);
    let v = refused(&hub, IT_BUREAU, parts(&other), 422, "document-mismatch").await;
    assert!(detail(&v).contains("主旨"));
    hub.stop().await;
}

async fn an_envelope_naming_another_sender_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut other = letter(&hub);
    other.envelope.sender = ParticipantCode::parse(SECRETARIAT).unwrap();
    resign(&hub, &mut other, IT_BUREAU);
    refused(&hub, IT_BUREAU, parts(&other), 422, "sender-mismatch").await;
    hub.stop().await;
}

async fn a_path_in_a_file_name_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut p = parts(&letter(&hub));
    p.iter_mut().find(|(_, f, _)| f.ends_with(".pdf")).unwrap().1 = "../../1153012345_ATTCH1.pdf".into();
    refused(&hub, IT_BUREAU, p, 422, "unsafe-file-name").await;
    hub.stop().await;
}

async fn a_confidential_document_is_refused_and_logged(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let secret = xml("tests/fixtures/bad/confidential.di");
    let to_secretariat = SendOptions { to: vec![SECRETARIAT.into()], ..Default::default() };
    let mut out = package_from(&hub, IT_BUREAU, &xml("tests/fixtures/plain/1153000001.di"), &[], to_secretariat);
    out.document.source = Source::Bytes(Bytes::from(secret.clone()));
    out.document.entry.size = secret.len() as u64;
    out.document.entry.sha256 = Sha256::of(secret.as_bytes());
    out.envelope.files[0] = out.document.entry.clone();
    out.envelope.document_number = "北市資綜字第1153000002號".into();
    out.envelope.subject = "機密公文不得電子交換。".into();
    resign(&hub, &mut out, IT_BUREAU);
    let v = refused(&hub, IT_BUREAU, parts(&out), 422, "confidential-not-allowed").await;
    assert!(detail(&v).contains("機密"));
    // The refusal is in the exchange log against the sender.
    let e = hub.logged("request.refused", "confidential documents").await;
    assert_eq!(e.participant.as_deref(), Some(IT_BUREAU));
    assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:confidential-not-allowed"));
    hub.stop().await;
}

async fn an_executable_renamed_pdf_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let exe = std::fs::read("tests/fixtures/bad/renamed.pdf").unwrap();
    let di = xml("tests/fixtures/letter/1153012345.di");
    let sw = std::fs::read("tests/fixtures/letter/1153012345.sw").unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("1153012345.sw", sw),
        ("1153012345_ATTCH1.pdf", exe),
        ("1153012345_ATTCH2.odt", std::fs::read("tests/fixtures/letter/1153012345_ATTCH2.odt").unwrap()),
        ("1153012345_ATTCH3.png", std::fs::read("tests/fixtures/letter/1153012345_ATTCH3.png").unwrap()),
    ];
    let out = package_from(&hub, IT_BUREAU, &di, &files, SendOptions::default());
    let v = refused(&hub, IT_BUREAU, parts(&out), 422, "attachment-format").await;
    assert!(detail(&v).contains("executable"), "{v}");
    hub.stop().await;
}

async fn xxe_and_billion_laughs_are_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    for bad in ["tests/fixtures/bad/xxe.di", "tests/fixtures/bad/billion-laughs.di"] {
        let out = with_document(&hub, std::fs::read(bad).unwrap());
        refused(&hub, IT_BUREAU, parts(&out), 422, "unsafe-xml").await;
    }
    hub.stop().await;
}

/// The letter with its DI replaced by `body`, re-signed.
fn with_document(hub: &TestHub, body: Vec<u8>) -> gwx::client::package::Outgoing {
    let mut out = letter(hub);
    out.document.entry.size = body.len() as u64;
    out.document.entry.sha256 = Sha256::of(&body);
    out.document.source = Source::Bytes(Bytes::from(body));
    out.envelope.files[0] = out.document.entry.clone();
    resign(hub, &mut out, IT_BUREAU);
    out
}

async fn a_document_that_is_not_well_formed_xml_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let di = std::fs::read("tests/fixtures/letter/1153012345.di").unwrap();
    let text = String::from_utf8(di.clone()).unwrap();
    let root = text.find("<函").unwrap();
    // `--` inside a comment, and two byte-order marks: xmllint refuses both.
    let commented = format!("{}<!-- 草稿--定稿 -->\n{}", &text[..root], &text[root..]);
    let mut two_boms = "\u{feff}\u{feff}".as_bytes().to_vec();
    two_boms.extend(text.trim_start_matches('\u{feff}').as_bytes());
    for (body, words) in [(commented.into_bytes(), "'--' inside a comment"), (two_boms, "second byte-order mark")] {
        let v = refused(&hub, IT_BUREAU, parts(&with_document(&hub, body)), 422, "invalid-document").await;
        assert!(detail(&v).contains(words), "{v}");
    }
    post(&hub, IT_BUREAU, parts(&with_document(&hub, di))).await.created();
    hub.stop().await;
}

async fn an_envelope_is_read_by_its_namespace_not_its_prefix(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let good = letter(&hub);
    let xml = String::from_utf8(good.envelope_xml.clone()).unwrap();
    let kp = keypair(&hub, IT_BUREAU);
    let signed = |xml: String| {
        let mut out = good.clone();
        out.envelope_xml = xml.into_bytes();
        out.signature = gwx::pki::cms::sign_detached(&out.envelope_xml, &kp.cert, &kp.key).unwrap();
        out
    };
    // A foreign namespace on <sender>: refused, though the names are right.
    let foreign = xml
        .replacen(
            "<envelope xmlns=\"urn:gwx:envelope:1\">",
            "<envelope xmlns=\"urn:gwx:envelope:1\" xmlns:f=\"urn:f\">",
            1,
        )
        .replace("<sender>", "<f:sender>")
        .replace("</sender>", "</f:sender>");
    let v = refused(&hub, IT_BUREAU, parts(&signed(foreign)), 422, "invalid-envelope").await;
    assert!(detail(&v).contains("urn:f"), "{v}");
    // The same envelope with a prefix for the envelope's namespace: accepted.
    let prefixed = prefixed_g(&xml);
    assert!(prefixed.starts_with("<?xml") && prefixed.contains("<g:envelope xmlns:g="), "{prefixed}");
    let receipt = post(&hub, IT_BUREAU, parts(&signed(prefixed))).await.created();
    assert_eq!(receipt["document_number"], "北市資綜字第1153012345號");
    hub.stop().await;
}

/// Every element of an envelope written with the prefix `g:`.
fn prefixed_g(xml: &str) -> String {
    let xml = xml.replacen(" xmlns=\"urn:gwx:envelope:1\"", " xmlns:g=\"urn:gwx:envelope:1\"", 1);
    let mut out = String::new();
    let mut rest = xml.as_str();
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            out.push('<');
        } else if let Some(r) = rest.strip_prefix('/') {
            out.push_str("</g:");
            rest = r;
        } else {
            out.push_str("<g:");
        }
    }
    out.push_str(rest);
    out
}

async fn an_unknown_recipient_is_refused_by_its_code(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let plain = xml("tests/fixtures/plain/1153000001.di");
    let opts = SendOptions { to: vec!["379999999Z".into(), SECRETARIAT.into()], ..Default::default() };
    let out = package_from(&hub, IT_BUREAU, &plain, &[], opts);
    let v = refused(&hub, IT_BUREAU, parts(&out), 422, "unknown-recipient").await;
    assert_eq!(v["recipients"], json!(["379999999Z"]));
    hub.stop().await;
}

async fn an_unreachable_recipient_is_refused_by_its_code(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let suspend = format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend");
    hub.as_(IT_BUREAU).post(&suspend, json!({"reason": "停權"})).await.ok();
    let plain = xml("tests/fixtures/plain/1153000001.di");
    let opts = SendOptions { to: vec![SECRETARIAT.into()], cc: vec![CIVIL_AFFAIRS.into()], ..Default::default() };
    let out = package_from(&hub, IT_BUREAU, &plain, &[], opts);
    let v = refused(&hub, IT_BUREAU, parts(&out), 422, "recipient-unreachable").await;
    assert_eq!(v["recipients"], json!([CIVIL_AFFAIRS]));
    assert!(detail(&v).contains("suspended"));
    hub.stop().await;
}

async fn a_participant_without_the_send_capability_cannot_send(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let good = letter(&hub);
    let me = format!("/api/v1/participants/{IT_BUREAU}");
    hub.as_(IT_BUREAU).patch(&me, json!({"capabilities": {"receive": true, "send": false}})).await.ok();
    refused(&hub, IT_BUREAU, parts(&good), 403, "sender-cannot-send").await;
    hub.as_(IT_BUREAU).patch(&me, json!({"capabilities": {"receive": true, "send": true}})).await.ok();
    // Given the capability back, the same package goes through.
    assert_eq!(post(&hub, IT_BUREAU, parts(&good)).await.status, 201);
    hub.stop().await;
}

async fn a_package_without_its_envelope_is_invalid(backend: Backend) {
    let hub = TestHub::start(backend).await;
    refused(&hub, IT_BUREAU, parts(&letter(&hub))[1..].to_vec(), 400, "invalid-package").await;
    hub.stop().await;
}

/// The letter's DI and files, with ATTCH1 and ATTCH3 replaced.
fn letter_files(a1: Vec<u8>, a3: Vec<u8>) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("1153012345.sw", std::fs::read("tests/fixtures/letter/1153012345.sw").unwrap()),
        ("1153012345_ATTCH1.pdf", a1),
        ("1153012345_ATTCH2.odt", std::fs::read("tests/fixtures/letter/1153012345_ATTCH2.odt").unwrap()),
        ("1153012345_ATTCH3.png", a3),
    ]
}

async fn small_limits(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| {
        c.limits.max_file_bytes = 64 * 1024;
        c.limits.max_package_bytes = 96 * 1024;
    })
    .await
}

async fn a_file_over_the_file_limit_is_refused_with_the_limit(backend: Backend) {
    let hub = small_limits(backend).await;
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(80 * 1024, b' ');
    let png = std::fs::read("tests/fixtures/letter/1153012345_ATTCH3.png").unwrap();
    let out =
        package_from(&hub, IT_BUREAU, &xml(crate::packages::LETTER), &letter_files(big, png), SendOptions::default());
    let v = refused(&hub, IT_BUREAU, parts(&out), 413, "package-too-large").await;
    assert!(detail(&v).contains("65536"), "{v}");
    hub.stop().await;
}

async fn files_together_over_the_package_limit_are_refused_with_the_limit(backend: Backend) {
    let hub = small_limits(backend).await;
    let mut mid = b"%PDF-1.4\n".to_vec();
    mid.resize(50 * 1024, b' ');
    let mut png = std::fs::read("tests/fixtures/letter/1153012345_ATTCH3.png").unwrap();
    png.resize(50 * 1024, 0);
    let out =
        package_from(&hub, IT_BUREAU, &xml(crate::packages::LETTER), &letter_files(mid, png), SendOptions::default());
    let v = refused(&hub, IT_BUREAU, parts(&out), 413, "package-too-large").await;
    assert!(detail(&v).contains("98304"), "{v}");
    hub.stop().await;
}

async fn the_same_envelope_again_returns_the_first_receipt(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    let first = post(&hub, IT_BUREAU, parts(&out)).await.created();
    let second = post(&hub, IT_BUREAU, parts(&out)).await.ok();
    assert_eq!(first, second);
    assert_eq!(hub.inbox(SECRETARIAT).await.len(), 1);
    hub.stop().await;
}

async fn a_resubmission_with_an_altered_file_is_refused_like_a_first_submission(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    post(&hub, IT_BUREAU, parts(&out)).await.created();
    // The same envelope and signature, one attachment altered (same size).
    let mut altered = parts(&out);
    let (_, name, bytes) = altered.iter_mut().find(|(_, n, _)| n.ends_with("_ATTCH1.pdf")).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    let name = name.clone();
    let v = refused(&hub, IT_BUREAU, altered, 422, "file-mismatch").await;
    assert!(detail(&v).contains(&name), "{v}");
    assert_eq!(hub.inbox(SECRETARIAT).await.len(), 1, "the first document stands alone");
    hub.stop().await;
}

async fn a_reused_number_with_another_envelope_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    let first = post(&hub, IT_BUREAU, parts(&out)).await.created();
    // The same number with another envelope (one more recipient), valid in every other way.
    let mut other = out.clone();
    let mut more = other.envelope.recipients[0].clone();
    more.target = gwx::formats::envelope::RecipientTarget::Participant(
        gwx::domain::document::RecipientCode::parse(SOCIAL_WELFARE).unwrap(),
    );
    other.envelope.recipients.push(more);
    resign(&hub, &mut other, IT_BUREAU);
    let v = refused(&hub, IT_BUREAU, parts(&other), 409, "duplicate-document-number").await;
    assert!(detail(&v).contains(first["document_id"].as_str().unwrap()));
    hub.stop().await;
}

async fn many_recipients_share_one_stored_attachment(backend: Backend) {
    let hub = TestHub::start(backend).await;
    // 1,200 agencies: more than one batch of multi-row inserts.
    let now = chrono::Utc::now();
    let mut codes = Vec::new();
    for i in 0..1200 {
        let code = format!("3{:08}X", 10_000_000 + i);
        let p = gwx::store::NewParticipant {
            code: ParticipantCode::parse(&code).unwrap(),
            kind: gwx::domain::ParticipantKind::Agency,
            name: format!("測試機關{i}"),
            unified_business_number: None,
            status: gwx::domain::ParticipantStatus::Active,
            capabilities: gwx::domain::Capabilities { receive: true, send: false },
            supervisor: None,
            email: None,
        };
        let log = gwx::domain::log::NewLogEntry::new(gwx::domain::log::LogAction::ParticipantCreated, "test");
        hub.store().create_participant(&p, now, &log).await.unwrap();
        codes.push(code);
    }
    let di = xml(crate::packages::LETTER);
    let files: Vec<(&str, Vec<u8>)> =
        ["1153012345.sw", "1153012345_ATTCH1.pdf", "1153012345_ATTCH2.odt", "1153012345_ATTCH3.png"]
            .iter()
            .map(|f| (*f, std::fs::read(format!("tests/fixtures/letter/{f}")).unwrap()))
            .collect();
    let opts = SendOptions { to: codes.clone(), cc: vec![SECRETARIAT.into(), RDEC.into()], ..Default::default() };
    let out = package_from(&hub, IT_BUREAU, &di, &files, opts);
    let receipt = post(&hub, IT_BUREAU, parts(&out)).await.created();
    assert_eq!(receipt["recipients"].as_array().unwrap().len(), 1202);
    let url = format!("/api/v1/documents/{}", receipt["document_id"].as_str().unwrap());
    let status = hub.as_(IT_BUREAU).get(&url).await.ok();
    assert_eq!(status["recipients"].as_array().unwrap().len(), 1202);
    // Seven parts, each stored once for all 1,202 recipients: the large PDF
    // as one file, the rest inline.
    assert_eq!(hub.store().blob_counts().await.unwrap(), (7, 6));
    if crate::helpers::test_blobs().is_none() {
        assert_eq!(files_in(&hub.path("data/blobs")), 1);
    }
    assert!(hub.store().verify_log().await.unwrap().is_ok());
    assert_eq!(out.envelope.files.iter().filter(|f| f.role == FileRole::Attachment).count(), 3);
    hub.stop().await;
}

async fn a_sending_clerk_cannot_receive(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.register_clerk(SECRETARIAT, "send-only", &["sender"]).await;
    post(&hub, IT_BUREAU, parts(&letter(&hub))).await.created();
    let v = hub.as_("send-only").get("/api/v1/inbox").await.refused(403, "forbidden");
    assert!(detail(&v).contains("receiver"));
    let id = hub.inbox(SECRETARIAT).await[0]["id"].as_str().unwrap().to_owned();
    hub.as_("send-only").post_empty(&format!("/api/v1/deliveries/{id}/confirm")).await.refused(403, "forbidden");
    hub.logged("auth.refused", "needs the 'receiver' role").await;
    hub.stop().await;
}

async fn a_receiving_clerk_cannot_send(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.register_clerk(IT_BUREAU, "receive-only", &["receiver"]).await;
    let mut out = letter(&hub);
    out.envelope.document_number = "北市資綜字第1153012346號".into();
    resign(&hub, &mut out, IT_BUREAU);
    let v = refused(&hub, "receive-only", parts(&out), 403, "sender-cannot-send").await;
    assert!(detail(&v).contains("sender"));
    // Its participant's documents, their status and receipts, are the senders' business.
    let doc = post(&hub, IT_BUREAU, parts(&letter(&hub))).await.created();
    let id = doc["document_id"].as_str().unwrap();
    for path in [format!("/api/v1/documents/{id}"), format!("/api/v1/documents/{id}/receipt")] {
        let v = hub.as_("receive-only").get(&path).await.refused(403, "forbidden");
        assert!(detail(&v).contains("'sender' role"), "{path}: {v}");
    }
    assert_eq!(hub.as_(IT_BUREAU).get(&format!("/api/v1/documents/{id}/receipt")).await.status, 200);
    hub.stop().await;
}

crate::both_databases!(
    an_accepted_document_gets_a_receipt_signed_by_the_hub,
    the_sender_sees_each_recipients_confirmation_or_return,
    every_step_of_a_document_is_in_the_log_chain,
    a_package_from_openssl_and_curl_is_accepted,
    a_signature_over_other_bytes_or_none_is_refused,
    an_envelope_signed_by_another_participant_is_refused,
    a_file_listed_but_missing_is_refused,
    a_file_not_listed_is_refused,
    a_document_that_disagrees_with_its_envelope_is_refused,
    an_envelope_naming_another_sender_is_refused,
    a_path_in_a_file_name_is_refused,
    a_confidential_document_is_refused_and_logged,
    an_executable_renamed_pdf_is_refused,
    xxe_and_billion_laughs_are_refused,
    a_document_that_is_not_well_formed_xml_is_refused,
    an_envelope_is_read_by_its_namespace_not_its_prefix,
    an_unknown_recipient_is_refused_by_its_code,
    an_unreachable_recipient_is_refused_by_its_code,
    a_participant_without_the_send_capability_cannot_send,
    a_package_without_its_envelope_is_invalid,
    a_file_over_the_file_limit_is_refused_with_the_limit,
    files_together_over_the_package_limit_are_refused_with_the_limit,
    a_reused_number_with_another_envelope_is_refused,
    a_sending_clerk_cannot_receive,
    a_receiving_clerk_cannot_send,
);

crate::every_store!(
    each_recipient_fetches_and_verifies_the_package,
    a_tampered_download_no_longer_verifies,
    an_altered_or_truncated_file_is_refused,
    the_same_envelope_again_returns_the_first_receipt,
    a_resubmission_with_an_altered_file_is_refused_like_a_first_submission,
    many_recipients_share_one_stored_attachment,
);

async fn a_body_that_is_not_multipart_is_an_invalid_package(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let c = hub.as_(IT_BUREAU);
    let v = c.send(c.request(reqwest::Method::POST, "/api/v1/documents").json(&json!({"envelope": "x"}))).await;
    assert!(detail(&v.refused(400, "invalid-package")).contains("multipart"));
    hub.logged("request.refused", "multipart/form-data body cannot be read").await;
    hub.stop().await;
}

/// Content types a clumsy agency system sends: each a logged invalid-package problem.
async fn a_missing_or_malformed_multipart_boundary_is_an_invalid_package(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let c = hub.as_(SECRETARIAT);
    let body = "--XX\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n<e/>\r\n--XX--\r\n";
    for content_type in [
        None,
        Some("multipart/form-data"),
        Some("multipart/form-data; boundary="),
        Some("multipart/form-data; boundary=\"unterminated"),
        Some("multipart/form-data; boundary=YY"),
        Some("text/plain"),
    ] {
        let mut req = c.request(reqwest::Method::POST, "/api/v1/documents").body(body);
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let resp = c.send(req).await;
        assert_eq!(resp.header("content-type"), Some("application/problem+json"), "{content_type:?}");
        resp.refused(400, "invalid-package");
    }
    let filter = gwx::store::LogFilter { actions: vec!["request.refused".into()], limit: 100, ..Default::default() };
    let logged = hub.store().log_entries(&filter).await.unwrap();
    assert_eq!(logged.iter().filter(|e| e.problem.as_deref() == Some("urn:gwx:error:invalid-package")).count(), 6);
    hub.stop().await;
}

crate::both_databases!(
    a_body_that_is_not_multipart_is_an_invalid_package,
    a_missing_or_malformed_multipart_boundary_is_an_invalid_package
);

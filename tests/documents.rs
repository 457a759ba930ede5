//! Document exchange end to end over mTLS (DESIGN §3, §4): a signed package
//! in, routed, fetched and verified, confirmed or returned; every refusal of
//! §3.4 with its own type and nothing stored; idempotent resubmission; and
//! nobody touching someone else's delivery.

mod common;

use std::path::Path;

use bytes::Bytes;
use common::{Backend, TestHub, json, problem, wait_for_log};
use gwx::client::package::{self, Outgoing, SendOptions, Source};
use gwx::domain::ParticipantCode;
use gwx::domain::document::{FileName, Sha256};
use gwx::formats::envelope::FileRole;
use gwx::pki::demo::KeyPair;
use gwx::tools::demo::{CIVIL_AFFAIRS, IT_BUREAU, RDEC, SECRETARIAT};
use serde_json::json;

const LETTER: &str = "tests/fixtures/letter/1153012345.di";

fn keypair(hub: &TestHub, name: &str) -> KeyPair {
    KeyPair::read(&hub.path(&format!("clients/{name}"))).unwrap()
}

/// The letter fixture as IT_BUREAU would send it (recipients from its SW).
fn letter(hub: &TestHub) -> Outgoing {
    let kp = keypair(hub, IT_BUREAU);
    package::from_di_file(
        Path::new(LETTER),
        &SendOptions::default(),
        &ParticipantCode::parse(IT_BUREAU).unwrap(),
        &kp.cert,
        &kp.key,
    )
    .unwrap()
}

/// A package built from DI bytes with in-memory attachments (no checks of the client's own).
fn package_from(hub: &TestHub, sender: &str, di: &str, files: &[(&str, Vec<u8>)], opts: SendOptions) -> Outgoing {
    let kp = keypair(hub, sender);
    let files: Vec<(String, Vec<u8>)> = files.iter().map(|(n, b)| (n.to_string(), b.clone())).collect();
    package::build(
        FileName::parse("doc.di").unwrap(),
        Bytes::from(di.to_owned()),
        &opts,
        &ParticipantCode::parse(sender).unwrap(),
        &kp.cert,
        &kp.key,
        |name| {
            let (_, b) = files.iter().find(|(n, _)| n == name).ok_or_else(|| anyhow::anyhow!("no {name}"))?;
            Ok(Source::Bytes(Bytes::from(b.clone())))
        },
    )
    .unwrap()
}

/// Re-signs the (possibly edited) envelope with `signer`'s key.
fn resign(hub: &TestHub, out: &mut Outgoing, signer: &str) {
    out.envelope_xml = out.envelope.to_xml().into_bytes();
    let kp = keypair(hub, signer);
    out.signature = gwx::pki::cms::sign_detached(&out.envelope_xml, &kp.cert, &kp.key).unwrap();
}

fn bytes_of(src: &Source) -> Vec<u8> {
    match src {
        Source::Bytes(b) => b.to_vec(),
        Source::Path(p) => std::fs::read(p).unwrap(),
    }
}

/// The multipart parts of a package: (part name, file name, bytes).
fn parts(out: &Outgoing) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v = vec![
        ("envelope", "envelope.xml".to_owned(), out.envelope_xml.clone()),
        ("signature", "envelope.p7s".to_owned(), out.signature.clone()),
        ("document", out.document.entry.name.to_string(), bytes_of(&out.document.source)),
    ];
    for a in &out.attachments {
        v.push(("attachment", a.entry.name.to_string(), bytes_of(&a.source)));
    }
    v
}

async fn post(hub: &TestHub, client: &str, parts: Vec<(&'static str, String, Vec<u8>)>) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, file, bytes) in parts {
        form = form.part(name, reqwest::multipart::Part::bytes(bytes).file_name(file));
    }
    hub.client(client).post(hub.url("/api/v1/documents")).multipart(form).send().await.unwrap()
}

async fn documents_stored(hub: &TestHub) -> usize {
    let mut n = 0;
    for code in [IT_BUREAU, SECRETARIAT, CIVIL_AFFAIRS] {
        n += hub
            .store()
            .log_entries(&gwx::store::LogFilter {
                participant: Some(code.into()),
                actions: vec!["document.accepted".into()],
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
    }
    n
}

fn files_in(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
    rd.flat_map(|e| {
        let p = e.unwrap().path();
        if p.is_dir() { walk(&p) } else { vec![p] }
    })
    .collect()
}

/// Sends `parts` as `client`, expects the refusal `name`, and checks that
/// nothing was stored: no document, no blob, no temporary file.
async fn refused(
    hub: &TestHub,
    client: &str,
    parts: Vec<(&'static str, String, Vec<u8>)>,
    status: u16,
    name: &str,
) -> serde_json::Value {
    let blobs_before = (files_in(&hub.path("data/blobs")), hub.store().blob_counts().await.unwrap());
    let docs_before = documents_stored(hub).await;
    let v = problem(post(hub, client, parts).await, status, name).await;
    assert_eq!(documents_stored(hub).await, docs_before, "{name}: a document was stored");
    let blobs_after = (files_in(&hub.path("data/blobs")), hub.store().blob_counts().await.unwrap());
    assert_eq!(blobs_after, blobs_before, "{name}: a blob was stored");
    assert_eq!(files_in(&hub.path("data/tmp")), 0, "{name}: temporary files left");
    v
}

fn deliveries_by_recipient(status: &serde_json::Value) -> std::collections::HashMap<String, serde_json::Value> {
    status["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["recipient"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

async fn inbox_ids(hub: &TestHub, who: &str) -> Vec<serde_json::Value> {
    json(hub.client(who).get(hub.url("/api/v1/inbox")).send().await.unwrap(), 200).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn identity(hub: &TestHub, who: &str) -> gwx::client::Identity {
    gwx::client::Identity {
        hub: format!("https://localhost:{}", hub.addr().port()),
        cert: hub.path(&format!("clients/{who}.pem")),
        key: hub.path(&format!("clients/{who}.key")),
        ca: hub.path("certs/ca.pem"),
    }
}

async fn happy_path_send_fetch_verify_confirm_and_return(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    let sender = gwx::client::Client::new(&identity(&hub, IT_BUREAU)).unwrap();
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
    let again =
        hub.client(IT_BUREAU).get(hub.url(&format!("/api/v1/documents/{doc_id}/receipt"))).send().await.unwrap();
    assert_eq!(again.bytes().await.unwrap().to_vec(), der);

    // Each recipient has it in its inbox; fetches and verifies the package.
    let mut by = std::collections::HashMap::new();
    for who in [SECRETARIAT, RDEC] {
        let inbox = inbox_ids(&hub, who).await;
        assert_eq!(inbox.len(), 1, "{who}");
        assert_eq!(inbox[0]["state"], "delivered");
        assert_eq!(inbox[0]["subject"], "檢送本局「網域名稱轉移計畫」1份，請查照。");
        let id = inbox[0]["id"].as_str().unwrap().to_owned();
        let dir = hub.path(&format!("fetched-{who}"));
        let client = gwx::client::Client::new(&identity(&hub, who)).unwrap();
        let written = client.fetch(&id, &dir).await.unwrap();
        assert_eq!(written.len(), 7);
        let v = gwx::client::verify::verify_dir(&dir, &hub.path("certs/ca.pem")).unwrap();
        assert!(v.signer.contains("臺北市政府資訊局"));
        assert_eq!(
            std::fs::read(dir.join("1153012345_ATTCH2.odt")).unwrap(),
            std::fs::read("tests/fixtures/letter/1153012345_ATTCH2.odt").unwrap()
        );
        by.insert(who, id);
    }
    // A tampered download no longer verifies.
    let dir = hub.path(&format!("fetched-{RDEC}"));
    std::fs::write(dir.join("1153012345_ATTCH1.pdf"), b"%PDF-1.4 forged").unwrap();
    assert!(gwx::client::verify::verify_dir(&dir, &hub.path("certs/ca.pem")).is_err());

    // One confirms, one returns with a reason.
    let c = json(
        hub.client(SECRETARIAT)
            .post(hub.url(&format!("/api/v1/deliveries/{}/confirm", by[SECRETARIAT])))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(c["state"], "confirmed");
    let r = json(
        hub.client(RDEC)
            .post(hub.url(&format!("/api/v1/deliveries/{}/return", by[RDEC])))
            .json(&json!({"reason": "非本會業務，請改送秘書處"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(r["state"], "returned");

    // The sender sees both, with times and the reason.
    let s = json(hub.client(IT_BUREAU).get(hub.url(&format!("/api/v1/documents/{doc_id}"))).send().await.unwrap(), 200)
        .await;
    let d = deliveries_by_recipient(&s);
    assert_eq!(d[SECRETARIAT]["state"], "confirmed");
    assert!(d[SECRETARIAT]["confirmed_at"].is_string() && d[SECRETARIAT]["fetched_at"].is_string());
    assert_eq!(d[RDEC]["state"], "returned");
    assert_eq!(d[RDEC]["return_reason"], "非本會業務，請改送秘書處");
    assert_eq!(d[RDEC]["kind"], "copy");
    assert_eq!(s["parts"].as_array().unwrap().len(), 7);
    assert_eq!(s["kind"], "書函");

    for action in
        ["document.accepted", "delivery.delivered", "delivery.fetched", "delivery.confirmed", "delivery.returned"]
    {
        let e = wait_for_log(hub.store(), action, "1153012345").await;
        assert_eq!(e.document.as_deref(), Some(doc_id.as_str()), "{action}");
    }
    assert!(hub.store().verify_log().await.unwrap().is_ok());
    hub.stop().await;
}

/// `openssl` and `curl` command lines exactly as DESIGN §3 shows them.
async fn package_from_openssl_and_curl_is_accepted(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir("tests/fixtures/letter").unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let cwd = dir.path();
    let (cert, key) = (hub.path(&format!("clients/{IT_BUREAU}.pem")), hub.path(&format!("clients/{IT_BUREAU}.key")));
    let run = |cmd: &str, args: &[&str]| {
        let out = std::process::Command::new(cmd)
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    run(
        "openssl",
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "envelope.xml",
            "-signer",
            cert.to_str().unwrap(),
            "-inkey",
            key.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            "envelope.p7s",
        ],
    );
    let port = hub.addr().port().to_string();
    let body = run(
        "curl",
        &[
            "-sS",
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            "--cacert",
            hub.path("certs/ca.pem").to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "-F",
            "envelope=@envelope.xml",
            "-F",
            "signature=@envelope.p7s",
            "-F",
            "document=@1153012345.di",
            "-F",
            "attachment=@1153012345.sw",
            "-F",
            "attachment=@1153012345_ATTCH1.pdf",
            "-F",
            "attachment=@1153012345_ATTCH2.odt",
            "-F",
            "attachment=@1153012345_ATTCH3.png",
            "-w",
            "\n%{http_code}",
            &format!("https://localhost:{port}/api/v1/documents"),
        ],
    );
    let text = String::from_utf8(body).unwrap();
    let (json_body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "201", "{json_body}");
    let v: serde_json::Value = serde_json::from_str(json_body).unwrap();
    assert_eq!(v["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(inbox_ids(&hub, SECRETARIAT).await.len(), 1);
    hub.stop().await;
}

fn xml(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

async fn every_refusal_has_its_type_and_stores_nothing(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let good = letter(&hub);

    // Bad signature: over other bytes.
    let mut p = parts(&good);
    let kp = keypair(&hub, IT_BUREAU);
    p[1].2 = gwx::pki::cms::sign_detached(b"something else", &kp.cert, &kp.key).unwrap();
    refused(&hub, IT_BUREAU, p, 422, "bad-signature").await;
    let mut p = parts(&good);
    p[1].2 = b"not a signature".to_vec();
    refused(&hub, IT_BUREAU, p, 422, "bad-signature").await;

    // Signed with another participant's valid certificate.
    let mut other = good.clone();
    resign(&hub, &mut other, SECRETARIAT);
    let v = refused(&hub, IT_BUREAU, parts(&other), 422, "signer-not-sender").await;
    assert!(v["detail"].as_str().unwrap().contains(SECRETARIAT), "{v}");

    // A file missing, an extra one, one altered, one truncated.
    let mut p = parts(&good);
    p.retain(|(_, f, _)| f != "1153012345_ATTCH2.odt");
    let v = refused(&hub, IT_BUREAU, p, 422, "missing-file").await;
    assert!(v["detail"].as_str().unwrap().contains("ATTCH2"));
    let mut p = parts(&good);
    p.push(("attachment", "extra.pdf".into(), b"%PDF-1.4 extra".to_vec()));
    refused(&hub, IT_BUREAU, p, 422, "unlisted-file").await;
    let mut p = parts(&good);
    let pdf = p.iter_mut().find(|(_, f, _)| f.ends_with(".pdf")).unwrap();
    let last = pdf.2.len() - 3;
    pdf.2[last] ^= 1;
    let v = refused(&hub, IT_BUREAU, p, 422, "file-mismatch").await;
    assert!(v["detail"].as_str().unwrap().contains("SHA-256"));
    let mut p = parts(&good);
    p.iter_mut().find(|(_, f, _)| f.ends_with(".png")).unwrap().2.truncate(10);
    let v = refused(&hub, IT_BUREAU, p, 422, "file-mismatch").await;
    assert!(v["detail"].as_str().unwrap().contains("bytes"));

    // Envelope and document disagree (a properly signed envelope with another subject).
    let mut other = good.clone();
    other.envelope.subject = "另一個主旨".into();
    resign(&hub, &mut other, IT_BUREAU);
    let v = refused(&hub, IT_BUREAU, parts(&other), 422, "document-mismatch").await;
    assert!(v["detail"].as_str().unwrap().contains("主旨"));

    // The envelope names someone else as sender.
    let mut other = good.clone();
    other.envelope.sender = ParticipantCode::parse(SECRETARIAT).unwrap();
    resign(&hub, &mut other, IT_BUREAU);
    refused(&hub, IT_BUREAU, parts(&other), 422, "sender-mismatch").await;

    // A path in an attachment's name.
    let mut p = parts(&good);
    p.iter_mut().find(|(_, f, _)| f.ends_with(".pdf")).unwrap().1 = "../../1153012345_ATTCH1.pdf".into();
    refused(&hub, IT_BUREAU, p, 422, "unsafe-file-name").await;

    // 密等 機密.
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
    assert!(v["detail"].as_str().unwrap().contains("機密"));

    // An executable renamed .pdf.
    let exe = std::fs::read("tests/fixtures/bad/renamed.pdf").unwrap();
    let di = xml("tests/fixtures/letter/1153012345.di");
    let sw = std::fs::read("tests/fixtures/letter/1153012345.sw").unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("1153012345.sw", sw.clone()),
        ("1153012345_ATTCH1.pdf", exe),
        ("1153012345_ATTCH2.odt", std::fs::read("tests/fixtures/letter/1153012345_ATTCH2.odt").unwrap()),
        ("1153012345_ATTCH3.png", std::fs::read("tests/fixtures/letter/1153012345_ATTCH3.png").unwrap()),
    ];
    let out = package_from(&hub, IT_BUREAU, &di, &files, SendOptions::default());
    let v = refused(&hub, IT_BUREAU, parts(&out), 422, "attachment-format").await;
    assert!(v["detail"].as_str().unwrap().contains("executable"), "{v}");

    // XXE and billion laughs.
    for bad in ["tests/fixtures/bad/xxe.di", "tests/fixtures/bad/billion-laughs.di"] {
        let body = std::fs::read(bad).unwrap();
        let mut out = good.clone();
        out.document.entry.size = body.len() as u64;
        out.document.entry.sha256 = Sha256::of(&body);
        out.document.source = Source::Bytes(Bytes::from(body));
        out.envelope.files[0] = out.document.entry.clone();
        resign(&hub, &mut out, IT_BUREAU);
        refused(&hub, IT_BUREAU, parts(&out), 422, "unsafe-xml").await;
    }

    // Unknown and unreachable recipients, named.
    let plain = xml("tests/fixtures/plain/1153000001.di");
    let opts = SendOptions { to: vec!["379999999Z".into(), SECRETARIAT.into()], ..Default::default() };
    let v =
        refused(&hub, IT_BUREAU, parts(&package_from(&hub, IT_BUREAU, &plain, &[], opts)), 422, "unknown-recipient")
            .await;
    assert_eq!(v["recipients"], json!(["379999999Z"]));
    json(
        hub.client(IT_BUREAU)
            .post(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend")))
            .json(&json!({"reason": "停權"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let opts = SendOptions { to: vec![SECRETARIAT.into()], cc: vec![CIVIL_AFFAIRS.into()], ..Default::default() };
    let v = refused(
        &hub,
        IT_BUREAU,
        parts(&package_from(&hub, IT_BUREAU, &plain, &[], opts)),
        422,
        "recipient-unreachable",
    )
    .await;
    assert_eq!(v["recipients"], json!([CIVIL_AFFAIRS]));
    assert!(v["detail"].as_str().unwrap().contains("suspended"));

    // A sender without the send capability.
    json(
        hub.client(IT_BUREAU)
            .patch(hub.url(&format!("/api/v1/participants/{IT_BUREAU}")))
            .json(&json!({"capabilities": {"receive": true, "send": false}}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    refused(&hub, IT_BUREAU, parts(&good), 403, "sender-cannot-send").await;
    json(
        hub.client(IT_BUREAU)
            .patch(hub.url(&format!("/api/v1/participants/{IT_BUREAU}")))
            .json(&json!({"capabilities": {"receive": true, "send": true}}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;

    // A malformed package.
    refused(&hub, IT_BUREAU, parts(&good)[1..].to_vec(), 400, "invalid-package").await;

    // Each refusal is in the exchange log against the sender.
    let e = wait_for_log(hub.store(), "request.refused", "confidential documents").await;
    assert_eq!(e.participant.as_deref(), Some(IT_BUREAU));
    assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:confidential-not-allowed"));
    // And after all that, the good package still goes through.
    assert_eq!(post(&hub, IT_BUREAU, parts(&good)).await.status(), 201);
    hub.stop().await;
}

async fn oversize_packages_are_refused_with_the_limit(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| {
        c.limits.max_file_bytes = 64 * 1024;
        c.limits.max_package_bytes = 96 * 1024;
    })
    .await;
    let di = xml("tests/fixtures/letter/1153012345.di");
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(80 * 1024, b' ');
    let mut mid = b"%PDF-1.4\n".to_vec();
    mid.resize(50 * 1024, b' ');
    let files = |a1: Vec<u8>, a3: Vec<u8>| -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("1153012345.sw", std::fs::read("tests/fixtures/letter/1153012345.sw").unwrap()),
            ("1153012345_ATTCH1.pdf", a1),
            ("1153012345_ATTCH2.odt", std::fs::read("tests/fixtures/letter/1153012345_ATTCH2.odt").unwrap()),
            ("1153012345_ATTCH3.png", a3),
        ]
    };
    let out = package_from(
        &hub,
        IT_BUREAU,
        &di,
        &files(big, std::fs::read("tests/fixtures/letter/1153012345_ATTCH3.png").unwrap()),
        SendOptions::default(),
    );
    let v = refused(&hub, IT_BUREAU, parts(&out), 413, "package-too-large").await;
    assert!(v["detail"].as_str().unwrap().contains("65536"), "{v}");
    // Two files within the per-file limit, together over the package limit.
    let mut png = std::fs::read("tests/fixtures/letter/1153012345_ATTCH3.png").unwrap();
    png.resize(50 * 1024, 0);
    let out = package_from(&hub, IT_BUREAU, &di, &files(mid, png), SendOptions::default());
    let v = refused(&hub, IT_BUREAU, parts(&out), 413, "package-too-large").await;
    assert!(v["detail"].as_str().unwrap().contains("98304"), "{v}");
    hub.stop().await;
}

async fn resubmission_is_idempotent_and_a_reused_number_is_refused(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let out = letter(&hub);
    let first = json(post(&hub, IT_BUREAU, parts(&out)).await, 201).await;
    let second = json(post(&hub, IT_BUREAU, parts(&out)).await, 200).await;
    assert_eq!(first, second);
    assert_eq!(inbox_ids(&hub, SECRETARIAT).await.len(), 1);
    // The same number with another envelope (other recipients).
    let mut other = out.clone();
    other.envelope.recipients.truncate(1);
    resign(&hub, &mut other, IT_BUREAU);
    let v = refused(&hub, IT_BUREAU, parts(&other), 409, "duplicate-document-number").await;
    assert!(v["detail"].as_str().unwrap().contains(first["document_id"].as_str().unwrap()));
    hub.stop().await;
}

async fn deliveries_belong_to_their_recipient_and_follow_the_rules(backend: Backend) {
    let hub = TestHub::start(backend).await;
    json(post(&hub, IT_BUREAU, parts(&letter(&hub))).await, 201).await;
    let mine = inbox_ids(&hub, SECRETARIAT).await[0]["id"].as_str().unwrap().to_owned();
    let doc = inbox_ids(&hub, SECRETARIAT).await[0]["document_id"].as_str().unwrap().to_owned();
    let url = |what: &str| hub.url(&format!("/api/v1/deliveries/{mine}{what}"));

    // Others cannot see, fetch, confirm or return it; not even the sender.
    for who in [RDEC, CIVIL_AFFAIRS, IT_BUREAU] {
        problem(hub.client(who).get(url("")).send().await.unwrap(), 404, "not-found").await;
        problem(hub.client(who).get(url("/package")).send().await.unwrap(), 404, "not-found").await;
        problem(hub.client(who).post(url("/confirm")).send().await.unwrap(), 404, "not-found").await;
        problem(
            hub.client(who).post(url("/return")).json(&json!({"reason": "x"})).send().await.unwrap(),
            404,
            "not-found",
        )
        .await;
    }
    // Only the sender sees the document's status.
    problem(
        hub.client(SECRETARIAT).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(),
        404,
        "not-found",
    )
    .await;
    problem(
        hub.client(SECRETARIAT).get(hub.url(&format!("/api/v1/documents/{doc}/receipt"))).send().await.unwrap(),
        404,
        "not-found",
    )
    .await;

    let me = hub.client(SECRETARIAT);
    // Confirm before fetching; return without a reason.
    problem(me.post(url("/confirm")).send().await.unwrap(), 409, "invalid-state").await;
    problem(me.post(url("/return")).json(&json!({"reason": "  "})).send().await.unwrap(), 422, "invalid-field").await;
    problem(me.post(url("/return")).json(&json!({})).send().await.unwrap(), 422, "invalid-request").await;
    let r = me.get(url("/package")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let d = json(me.get(url("")).send().await.unwrap(), 200).await;
    assert_eq!(d["state"], "fetched");
    json(me.post(url("/return")).json(&json!({"reason": "附件缺漏"})).send().await.unwrap(), 200).await;
    // Confirm after return; return again.
    let v = problem(me.post(url("/confirm")).send().await.unwrap(), 409, "invalid-state").await;
    assert!(v["detail"].as_str().unwrap().contains("returned"));
    problem(me.post(url("/return")).json(&json!({"reason": "again"})).send().await.unwrap(), 409, "invalid-state")
        .await;

    // The other recipient confirms (twice is harmless) and cannot return afterwards.
    let theirs = inbox_ids(&hub, RDEC).await[0]["id"].as_str().unwrap().to_owned();
    let them = hub.client(RDEC);
    them.get(hub.url(&format!("/api/v1/deliveries/{theirs}/package"))).send().await.unwrap();
    let c1 = json(them.post(hub.url(&format!("/api/v1/deliveries/{theirs}/confirm"))).send().await.unwrap(), 200).await;
    let c2 = json(them.post(hub.url(&format!("/api/v1/deliveries/{theirs}/confirm"))).send().await.unwrap(), 200).await;
    assert_eq!(c1["confirmed_at"], c2["confirmed_at"]);
    let v = problem(
        them.post(hub.url(&format!("/api/v1/deliveries/{theirs}/return")))
            .json(&json!({"reason": "x"}))
            .send()
            .await
            .unwrap(),
        409,
        "invalid-state",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("paper"));

    // Paper resend: by the sender only, for the returned one, once.
    let sender = hub.client(IT_BUREAU);
    let resend = |id: &str| hub.url(&format!("/api/v1/deliveries/{id}/paper-resend"));
    problem(me.post(resend(&mine)).send().await.unwrap(), 404, "not-found").await;
    problem(sender.post(resend(&theirs)).send().await.unwrap(), 409, "invalid-state").await;
    let r = json(sender.post(resend(&mine)).json(&json!({"note": "115年11月23日掛號寄出"})).send().await.unwrap(), 200)
        .await;
    assert!(r["paper_resend_at"].is_string());
    assert_eq!(r["paper_resend_note"], "115年11月23日掛號寄出");
    problem(sender.post(resend(&mine)).send().await.unwrap(), 409, "invalid-state").await;

    hub.stop().await;
}

async fn long_poll_returns_when_a_document_arrives(backend: Backend) {
    let hub = std::sync::Arc::new(TestHub::start(backend).await);
    let out = letter(&hub);
    let h = hub.clone();
    let waiting = tokio::spawn(async move {
        json(h.client(SECRETARIAT).get(h.url("/api/v1/inbox?wait=30")).send().await.unwrap(), 200).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    json(post(&hub, IT_BUREAU, parts(&out)).await, 201).await;
    let inbox = waiting.await.unwrap();
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1);
    // With nothing new and no wait, an empty page at once.
    let none =
        json(hub.client(CIVIL_AFFAIRS).get(hub.url("/api/v1/inbox?state=delivered")).send().await.unwrap(), 200).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    std::sync::Arc::into_inner(hub).unwrap().stop().await;
}

async fn many_recipients_one_stored_attachment(backend: Backend) {
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
        hub.store()
            .create_participant(
                &p,
                now,
                &gwx::domain::log::NewLogEntry::new(gwx::domain::log::LogAction::ParticipantCreated, "test"),
            )
            .await
            .unwrap();
        codes.push(code);
    }
    let di = xml("tests/fixtures/letter/1153012345.di");
    let files: Vec<(&str, Vec<u8>)> =
        ["1153012345.sw", "1153012345_ATTCH1.pdf", "1153012345_ATTCH2.odt", "1153012345_ATTCH3.png"]
            .iter()
            .map(|f| (*f, std::fs::read(format!("tests/fixtures/letter/{f}")).unwrap()))
            .collect();
    let mut opts = SendOptions { to: codes.clone(), ..Default::default() };
    opts.cc = vec![SECRETARIAT.into(), RDEC.into()];
    let out = package_from(&hub, IT_BUREAU, &di, &files, opts);
    let receipt = json(post(&hub, IT_BUREAU, parts(&out)).await, 201).await;
    assert_eq!(receipt["recipients"].as_array().unwrap().len(), 1202);
    let status = json(
        hub.client(IT_BUREAU)
            .get(hub.url(&format!("/api/v1/documents/{}", receipt["document_id"].as_str().unwrap())))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(status["recipients"].as_array().unwrap().len(), 1202);
    // Seven parts, each stored once for all 1,202 recipients: the large PDF
    // as one file, the rest inline.
    assert_eq!(hub.store().blob_counts().await.unwrap(), (7, 6));
    assert_eq!(files_in(&hub.path("data/blobs")), 1);
    assert!(hub.store().verify_log().await.unwrap().is_ok());
    assert_eq!(out.envelope.files.iter().filter(|f| f.role == FileRole::Attachment).count(), 3);
    hub.stop().await;
}

async fn roles_decide_who_sends_and_who_receives(backend: Backend) {
    let hub = TestHub::start(backend).await;
    hub.register_clerk(SECRETARIAT, "send-only", &["sender"]).await;
    hub.register_clerk(IT_BUREAU, "receive-only", &["receiver"]).await;
    json(post(&hub, IT_BUREAU, parts(&letter(&hub))).await, 201).await;
    let v =
        problem(hub.client("send-only").get(hub.url("/api/v1/inbox")).send().await.unwrap(), 403, "forbidden").await;
    assert!(v["detail"].as_str().unwrap().contains("receiver"));
    let id = inbox_ids(&hub, SECRETARIAT).await[0]["id"].as_str().unwrap().to_owned();
    problem(
        hub.client("send-only").post(hub.url(&format!("/api/v1/deliveries/{id}/confirm"))).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    // A receiving clerk of the sender cannot submit.
    let mut out = letter(&hub);
    out.envelope.document_number = "北市資綜字第1153012346號".into();
    resign(&hub, &mut out, IT_BUREAU);
    let v = refused(&hub, "receive-only", parts(&out), 403, "sender-cannot-send").await;
    assert!(v["detail"].as_str().unwrap().contains("sender"));
    wait_for_log(hub.store(), "auth.refused", "needs the 'receiver' role").await;
    hub.stop().await;
}

both_databases!(
    roles_decide_who_sends_and_who_receives,
    happy_path_send_fetch_verify_confirm_and_return,
    package_from_openssl_and_curl_is_accepted,
    every_refusal_has_its_type_and_stores_nothing,
    oversize_packages_are_refused_with_the_limit,
    resubmission_is_idempotent_and_a_reused_number_is_refused,
    deliveries_belong_to_their_recipient_and_follow_the_rules,
    long_poll_returns_when_a_document_arrives,
    many_recipients_one_stored_attachment,
);

//! Every kind of 公文 agencies send, in UTF-8 and in Big5, and the variety
//! of real generators (tests/fixtures/kinds, tests/fixtures/variants, built
//! by make-fixtures.py): valid national format by `xmllint`, read by the
//! hub as a clerk reads them, and sent end to end as they are, with
//! `gwx send` and with openssl + curl, then fetched and verified.

use std::path::{Path, PathBuf};
use std::process::Command;

use gwx::domain::document::DocumentKind;
use gwx::formats::document::OfficialDocument;
use gwx::formats::envelope::{Envelope, FileRole};
use gwx::formats::xml::Charset;
use gwx::tools::demo::{IT_BUREAU, RDEC, SECRETARIAT};

use crate::helpers::{Backend, TestHub};

const GWX: &str = env!("CARGO_BIN_EXE_gwx");
const DTD_PATH: &str = "schemas/kinds schemas/national-dtd";

/// Every export directory: kinds/* then variants/*.
fn exports() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for top in ["tests/fixtures/kinds", "tests/fixtures/variants"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(top).unwrap().map(|e| e.unwrap().path()).collect();
        dirs.sort();
        out.extend(dirs);
    }
    assert!(out.len() >= 23, "{out:?}");
    out
}

fn with_ext(dir: &Path, ext: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found.pop()
}

fn di_of(dir: &Path) -> PathBuf {
    with_ext(dir, "di").unwrap_or_else(|| panic!("no DI in {}", dir.display()))
}

fn envelope_of(dir: &Path) -> Envelope {
    Envelope::parse(&std::fs::read(dir.join("envelope.xml")).unwrap()).unwrap()
}

fn name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// `xmllint` (Debian's libxml2-utils): missing is a skip, except under
/// `GWX_REQUIRE_XMLLINT=1` (CI).
fn xmllint(file: &Path) -> Option<std::process::Output> {
    match Command::new("xmllint").args(["--noout", "--nonet", "--path", DTD_PATH, "--valid"]).arg(file).output() {
        Ok(o) => Some(o),
        Err(_) if std::env::var("GWX_REQUIRE_XMLLINT").as_deref() == Ok("1") => panic!("xmllint is required"),
        Err(_) => None,
    }
}

#[test]
fn every_kind_and_variant_is_valid_national_format() {
    for dir in exports() {
        for f in [Some(di_of(&dir)), with_ext(&dir, "sw")].into_iter().flatten() {
            if let Some(out) = xmllint(&f) {
                assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

#[test]
fn every_kind_and_variant_reads_as_a_clerk_reads_it() {
    for dir in exports() {
        let n = name(&dir);
        let d = OfficialDocument::parse(&std::fs::read(di_of(&dir)).unwrap()).unwrap_or_else(|e| panic!("{n}: {e}"));
        let env = envelope_of(&dir);
        assert_eq!(d.subject, env.subject, "{n}");
        assert_eq!(d.number.to_string(), env.document_number, "{n}");
        assert_eq!(d.speed, env.speed, "{n}");
        let expected = match n.split('-').next().unwrap() {
            "order" => DocumentKind::Order,
            "announcement" => DocumentKind::Announcement,
            "meeting" => DocumentKind::MeetingNotice,
            "inspection" => DocumentKind::InspectionNotice,
            "memo" => DocumentKind::Memo,
            "review" => DocumentKind::ReviewSheet,
            _ => DocumentKind::Letter,
        };
        assert_eq!(d.kind, expected, "{n}");
        let charset = if n.ends_with("-big5") { Charset::Big5 } else { Charset::Utf8 };
        assert_eq!(d.charset, charset, "{n}");
        // The DI declares exactly the files the envelope lists, by role.
        let listed = |role: FileRole| -> Vec<String> {
            let mut v: Vec<String> = env.files.iter().filter(|f| f.role == role).map(|f| f.name.to_string()).collect();
            v.sort();
            v
        };
        let mut declared: Vec<String> = d.attachment_files().map(str::to_owned).collect();
        declared.sort();
        assert_eq!(declared, listed(FileRole::Attachment), "{n}");
        assert_eq!(d.roster_file().map(str::to_owned).into_iter().collect::<Vec<_>>(), listed(FileRole::Roster), "{n}");
        assert_eq!(d.message_file().map(str::to_owned).into_iter().collect::<Vec<_>>(), listed(FileRole::Message));
    }
    let read = |p: &str| {
        let dir = Path::new("tests/fixtures").join(p);
        OfficialDocument::parse(&std::fs::read(di_of(&dir)).unwrap()).unwrap()
    };
    for charset in ["utf8", "big5"] {
        let m = read(&format!("kinds/meeting-{charset}"));
        let meeting = m.meeting.as_ref().unwrap();
        assert_eq!(meeting.times, ["中華民國115年12月10日（星期四）上午10時0分"]);
        assert_eq!(meeting.place, "本府北區2樓N206會議室");
        assert_eq!(meeting.chair, ["李大華 副局長"]);
        assert_eq!(meeting.attendees, ["臺北市政府秘書處"]);
        assert_eq!(meeting.observers, ["臺北市政府研究發展考核委員會"]);
        assert_eq!(m.remarks.as_ref().unwrap().items[0].text, "請準時出席。");
        assert_eq!(m.contacts, ["王小明 科員 02-27208889#1234"]);
    }
    let memo = read("kinds/memo-utf8");
    assert_eq!(memo.number.to_string(), "第1153100011號");
    assert_eq!(memo.presented_to, ["主任秘書", "局長"]);
    assert_eq!(memo.addressee_code.as_deref(), Some(SECRETARIAT));
    let review = read("kinds/review-big5");
    assert_eq!((review.date, review.handling_unit.as_str()), (None, "綜合企劃組"));
    assert_eq!(review.co_units, ["秘書處文書科", "臺北市政府法務局"]);
    let announcement = read("kinds/announcement-utf8");
    assert_eq!(announcement.paragraphs[1].items[1].text, "停機期間請改以紙本傳送。");
    let pretty = read("variants/pretty");
    assert_eq!(pretty.paragraphs[0].items[0].text, "依據本府公文電子交換作業要點辦理。");
    let direct = read("variants/direct");
    assert_eq!((direct.addressee.as_str(), direct.addressee_code.as_deref()), ("臺北市政府秘書處", Some(SECRETARIAT)));
    let empty = read("variants/empty");
    assert!(empty.signatures.is_empty() && empty.paragraphs[0].label.is_empty());
    let download = read("variants/download-area");
    assert_eq!(download.attachment_files().count(), 0);
    assert!(download.attachment_note.contains("附件下載區"));
    assert_eq!(read("variants/attach-names").roster_file(), Some("1153200002.sw"));
}

#[test]
fn a_file_in_another_encoding_than_it_declares_is_refused_like_xmllint_refuses_it() {
    for (file, says) in [
        ("tests/fixtures/bad/big5-declared-utf8.di", ["is not UTF-8 at line 2", "reads as Big5"]),
        ("tests/fixtures/bad/utf8-declared-big5.di", ["is not Big5 at line 2", "reads as UTF-8"]),
    ] {
        let e = OfficialDocument::parse(&std::fs::read(file).unwrap()).unwrap_err().to_string();
        assert!(says.iter().all(|s| e.contains(s)), "{file}: {e}");
        if let Some(out) = xmllint(Path::new(file)) {
            assert!(!out.status.success(), "{file}");
        }
    }
}

/// `gwx` as a clerk runs it, with `who`'s card.
fn gwx(hub: &TestHub, who: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(GWX)
        .args(args)
        .env("GWX_HUB", format!("https://localhost:{}", hub.addr().port()))
        .env("GWX_CERT", hub.path(&format!("clients/{who}.pem")))
        .env("GWX_KEY", hub.path(&format!("clients/{who}.key")))
        .env("GWX_CA", hub.path("certs/ca.pem"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The recipient's delivery of `number`, fetched with `gwx fetch` (which
/// verifies the signature and every file) into a new directory.
async fn fetched_by(hub: &TestHub, who: &str, number: &str) -> tempfile::TempDir {
    let inbox = hub.inbox(who).await;
    let d = inbox
        .iter()
        .find(|d| d["document_number"] == number)
        .unwrap_or_else(|| panic!("{number} not in {who}'s inbox"));
    let out = tempfile::tempdir().unwrap();
    let (ok, text) = gwx(hub, who, &["fetch", d["id"].as_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert!(ok && text.contains("signature verified"), "{text}");
    out
}

async fn every_kind_and_variant_sent_with_gwx_send_is_accepted_fetched_and_verified(backend: Backend) {
    let hub = TestHub::start(backend).await;
    for dir in exports() {
        let n = name(&dir);
        let env = envelope_of(&dir);
        let di = di_of(&dir);
        // A 公告 names no 受文者: the clerk says whom it goes to.
        let mut args = vec!["send", di.to_str().unwrap()];
        if n.starts_with("announcement") {
            args.extend(["--to", SECRETARIAT, "--to", RDEC]);
        }
        let (ok, text) = gwx(&hub, IT_BUREAU, &args);
        assert!(ok && text.contains("accepted"), "{n}: {text}");
        assert!(text.contains(SECRETARIAT), "{n}: {text}");
        let got = fetched_by(&hub, SECRETARIAT, &env.document_number).await;
        // Byte for byte as exported: the DI (in its own encoding), SW, DM, attachments.
        for f in &env.files {
            let sent = std::fs::read(dir.join(f.name.as_str())).unwrap();
            assert_eq!(std::fs::read(got.path().join(f.name.as_str())).unwrap(), sent, "{n}: {}", f.name);
        }
    }
    hub.stop().await;
}

/// Signs `dir`'s envelope.xml with openssl and posts every file with curl,
/// as DESIGN §3 shows; returns the HTTP status and body.
pub fn openssl_and_curl(hub: &TestHub, dir: &Path) -> (String, String) {
    let work = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), work.path().join(f.file_name())).unwrap();
    }
    let (cert, key) = (hub.path(&format!("clients/{IT_BUREAU}.pem")), hub.path(&format!("clients/{IT_BUREAU}.key")));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let run = |cmd: &str, args: &[String]| {
        let out = Command::new(cmd).args(args).current_dir(work.path()).output().unwrap();
        assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    run(
        "openssl",
        &s(&[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "envelope.xml",
            "-signer",
            cert,
            "-inkey",
            key,
            "-outform",
            "DER",
            "-out",
            "envelope.p7s",
        ]),
    );
    let port = hub.addr().port();
    let mut args = s(&["-sS", "--cacert"]);
    args.push(hub.path("certs/ca.pem").display().to_string());
    args.extend(s(&["--resolve", &format!("localhost:{port}:127.0.0.1"), "--cert", cert, "--key", key]));
    args.extend(s(&["-F", "envelope=@envelope.xml", "-F", "signature=@envelope.p7s"]));
    for f in envelope_of(dir).files {
        let part = if f.role == FileRole::Document { "document" } else { "attachment" };
        args.extend(["-F".to_owned(), format!("{part}=@{}", f.name)]);
    }
    args.extend(s(&["-w", "\n%{http_code}", &format!("https://localhost:{port}/api/v1/documents")]));
    let text = run("curl", &args);
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

async fn every_kind_and_variant_sent_with_openssl_and_curl_is_accepted(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let mut kinds = Vec::new();
    for dir in exports() {
        let (code, body) = openssl_and_curl(&hub, &dir);
        assert_eq!(code, "201", "{}: {body}", name(&dir));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["document_number"], envelope_of(&dir).document_number.as_str());
        let id = v["document_id"].as_str().unwrap();
        let status = hub.as_(IT_BUREAU).get(&format!("/api/v1/documents/{id}")).await.ok();
        kinds.push(status["kind"].as_str().unwrap().to_owned());
    }
    let meeting = envelope_of(Path::new("tests/fixtures/kinds/meeting-big5"));
    let got = fetched_by(&hub, RDEC, &meeting.document_number).await;
    assert!(got.path().join("1153100008.di").exists());
    for k in ["令", "函", "公告", "開會通知單", "會勘通知單", "簽", "簽稿會核單"] {
        assert!(kinds.iter().any(|x| x == k), "{k} not among {kinds:?}");
    }
    hub.stop().await;
}

crate::both_databases!(
    every_kind_and_variant_sent_with_gwx_send_is_accepted_fetched_and_verified,
    every_kind_and_variant_sent_with_openssl_and_curl_is_accepted,
);

/// A fixture's package as parts, after `edit` changed its files (role,
/// name, bytes) and envelope; sizes and hashes follow the bytes, and the
/// IT bureau signs the envelope.
fn edited(
    hub: &TestHub,
    dir: &str,
    edit: impl FnOnce(&mut Envelope, &mut Vec<(FileRole, String, Vec<u8>)>),
) -> crate::packages::Parts {
    let dir = Path::new("tests/fixtures").join(dir);
    let mut env = envelope_of(&dir);
    let mut files: Vec<(FileRole, String, Vec<u8>)> = env
        .files
        .iter()
        .map(|f| (f.role, f.name.to_string(), std::fs::read(dir.join(f.name.as_str())).unwrap()))
        .collect();
    edit(&mut env, &mut files);
    let template = env.files[0].clone();
    env.files = files
        .iter()
        .map(|(role, name, bytes)| gwx::formats::envelope::FileEntry {
            role: *role,
            name: gwx::domain::document::FileName::parse(name).unwrap(),
            size: bytes.len() as u64,
            sha256: gwx::domain::document::Sha256::of(bytes),
            ..template.clone()
        })
        .collect();
    let xml = env.to_xml().into_bytes();
    let kp = crate::packages::keypair(hub, IT_BUREAU);
    let sig = gwx::pki::cms::sign_detached(&xml, &kp.cert, &kp.key).unwrap();
    let mut parts = vec![("envelope", "envelope.xml".to_owned(), xml), ("signature", "envelope.p7s".to_owned(), sig)];
    for (role, name, bytes) in files {
        parts.push((if role == FileRole::Document { "document" } else { "attachment" }, name, bytes));
    }
    parts
}

fn replace_document(files: &mut [(FileRole, String, Vec<u8>)], bytes: Vec<u8>) {
    files.iter_mut().find(|f| f.0 == FileRole::Document).unwrap().2 = bytes;
}

async fn a_file_in_another_encoding_than_it_declares_is_refused_with_its_own_message(backend: Backend) {
    let hub = TestHub::start(backend).await;
    for (bad, like, says) in [
        ("bad/big5-declared-utf8.di", "kinds/letter-big5", "declares encoding=\"utf-8\" but is not UTF-8 at line 2"),
        ("bad/utf8-declared-big5.di", "kinds/letter-utf8", "declares encoding=\"big5\" but is not Big5 at line 2"),
    ] {
        let bytes = std::fs::read(Path::new("tests/fixtures").join(bad)).unwrap();
        let parts = edited(&hub, like, |_, files| replace_document(files, bytes));
        let v = crate::packages::refused(&hub, IT_BUREAU, parts, 422, "invalid-document").await;
        assert!(crate::helpers::detail(&v).contains(says), "{v}");
        hub.logged("request.refused", says).await;
    }
    hub.stop().await;
}

async fn a_kind_the_hub_does_not_exchange_is_refused_naming_those_it_does(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let di = std::fs::read_to_string("tests/fixtures/variants/direct/1153200005.di").unwrap();
    let minutes =
        di.replace("<函>", "<會議紀錄>").replace("</函>", "</會議紀錄>").replace("DOCTYPE 函", "DOCTYPE 會議紀錄");
    let parts = edited(&hub, "variants/direct", |_, files| replace_document(files, minutes.into_bytes()));
    let v = crate::packages::refused(&hub, IT_BUREAU, parts, 422, "invalid-document").await;
    let d = crate::helpers::detail(&v);
    assert!(d.contains("<會議紀錄>") && d.contains("開會通知單") && d.contains("簽稿會核單"), "{v}");
    // A 函 under a meeting notice's DTD name is not a 函 either.
    let wrong = di.replace("104_2_utf8.dtd", "104_4_utf8.dtd");
    let parts = edited(&hub, "variants/direct", |_, files| replace_document(files, wrong.into_bytes()));
    let v = crate::packages::refused(&hub, IT_BUREAU, parts, 422, "invalid-document").await;
    assert!(crate::helpers::detail(&v).contains("104_4_utf8.dtd"), "{v}");
    hub.stop().await;
}

async fn a_dm_travels_only_as_the_message_it_is(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let dm = |files: &mut Vec<(FileRole, String, Vec<u8>)>| files.iter().position(|f| f.1.ends_with(".dm")).unwrap();
    // Listed as an attachment, it is not what the DI declares it to be.
    let parts = edited(&hub, "variants/dm", |_, files| {
        let i = dm(files);
        files[i].0 = FileRole::Attachment;
    });
    let v = crate::packages::refused(&hub, IT_BUREAU, parts, 422, "document-mismatch").await;
    assert!(crate::helpers::detail(&v).contains("文書訊息表單"), "{v}");
    // Left out of the package and the envelope.
    let parts = edited(&hub, "variants/dm", |_, files| {
        let i = dm(files);
        files.remove(i);
    });
    let v = crate::packages::refused(&hub, IT_BUREAU, parts, 422, "document-mismatch").await;
    assert!(crate::helpers::detail(&v).contains("1153200007.dm"), "{v}");
    // Read as safely as the DI: no entity of its own.
    let parts = edited(&hub, "variants/dm", |_, files| {
        let i = dm(files);
        files[i].2 = b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>".to_vec();
    });
    crate::packages::refused(&hub, IT_BUREAU, parts, 422, "unsafe-xml").await;
    // As exported, it travels and the recipient lists it as the message.
    let parts = edited(&hub, "variants/dm", |_, _| {});
    let doc = crate::packages::post(&hub, IT_BUREAU, parts).await.created();
    let status =
        hub.as_(IT_BUREAU).get(&format!("/api/v1/documents/{}", doc["document_id"].as_str().unwrap())).await.ok();
    let roles: Vec<(&str, &str)> = status["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["role"].as_str().unwrap_or("")))
        .collect();
    assert!(roles.contains(&("1153200007.dm", "message")), "{roles:?}");
    hub.stop().await;
}

crate::both_databases!(
    a_file_in_another_encoding_than_it_declares_is_refused_with_its_own_message,
    a_kind_the_hub_does_not_exchange_is_refused_naming_those_it_does,
    a_dm_travels_only_as_the_message_it_is,
);

/// The secretariat's delivery of the fixture in `dir`, sent as exported.
async fn delivered(hub: &TestHub, dir: &str) -> String {
    let dir = Path::new("tests/fixtures").join(dir);
    let (code, body) = openssl_and_curl(hub, &dir);
    assert_eq!(code, "201", "{body}");
    let number = envelope_of(&dir).document_number;
    let inbox = hub.inbox(SECRETARIAT).await;
    inbox.iter().find(|d| d["document_number"] == number.as_str()).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn the_clerk_reads_each_kind_as_on_paper_and_prints_it_with_the_exchange_stamp(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let meeting = delivered(&hub, "kinds/meeting-big5").await;
    let page = hub.as_(SECRETARIAT).get(&format!("/console/deliveries/{meeting}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for seen in [
        "臺北市政府資訊局　開會通知單",
        "<span class=\"label\">開會事由：</span>研商「公文電子交換中心」上線作業事宜",
        "<span class=\"label\">開會時間：</span>中華民國115年12月10日（星期四）上午10時0分",
        "<span class=\"label\">開會地點：</span>本府北區2樓N206會議室",
        "<span class=\"label\">主持人：</span>李大華 副局長",
        "<dt>出席者</dt><dd>臺北市政府秘書處</dd>",
        "<span class=\"label\">一、</span>請準時出席。",
    ] {
        assert!(html.contains(seen), "{seen} not in {html}");
    }
    // The SW is the recipient list, not an attachment.
    let item = |name: &str| html.lines().find(|l| l.contains(&format!(">{name}</a>"))).unwrap_or("").to_owned();
    assert!(item("1153100008.sw").starts_with("<li>交換表單："), "{}", item("1153100008.sw"));
    assert!(item("1153100008_ATTCH1.pdf").starts_with("<li>附件："), "{html}");

    let letter = delivered(&hub, "variants/pretty").await;
    let html = hub.as_(SECRETARIAT).get(&format!("/console/deliveries/{letter}")).await.text().to_owned();
    assert!(
        html.contains("<span class=\"label\">主旨：</span>檢送本局「公文電子交換中心」操作手冊1份，請查照。"),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"depth-1\"><span class=\"label\">一、</span>依據本府公文電子交換作業要點辦理。</p>"),
        "{html}"
    );
    assert!(html.contains("<p class=\"signature\">局長　○○○</p>"), "{html}");

    let print = hub.as_(SECRETARIAT).get(&format!("/console/deliveries/{meeting}/print")).await;
    assert_eq!(print.status, 200);
    let html = print.text();
    let stamp = &html[html.find("id=\"exchange-stamp\"").unwrap()..html.find("</aside>").unwrap()];
    assert!(stamp.contains("電子公文交換戳記") && stamp.contains("公文電子交換中心"), "{stamp}");
    assert!(stamp.contains("文號：北市資綜字第1153100008號"), "{stamp}");
    let delivered_at = hub.as_(SECRETARIAT).get(&format!("/api/v1/deliveries/{meeting}")).await.ok()["delivered_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = chrono::DateTime::parse_from_rfc3339(&delivered_at).unwrap().with_timezone(&chrono::Utc);
    assert!(stamp.contains(&format!("收文：{}（臺北時間）", gwx::domain::calendar::roc_minute(at))), "{stamp}");
    assert!(html.contains("開會事由"), "the print view carries the document");
    // From the wrong side: another agency cannot print it.
    let other = hub.as_(RDEC).get(&format!("/console/deliveries/{meeting}/print")).await;
    assert_eq!(other.status, 403);
    hub.stop().await;
}

async fn gwx_show_prints_the_document_as_it_reads(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let memo = delivered(&hub, "kinds/memo-big5").await;
    let (ok, text) = gwx(&hub, SECRETARIAT, &["show", &memo]);
    assert!(ok, "{text}");
    for seen in [
        "來文：臺北市政府資訊局（379130000C）　正本",
        "送達時間：",
        "（臺北）　狀態：已讀取未確認",
        "電子簽章：驗證通過",
        "臺北市政府資訊局　簽",
        "文號：第1153100012號",
        "主旨：擬請秘書處會辦本局跨機關陳核會稿試辦案，簽請核示。",
        "說明：\n  一、依據本府公文電子交換作業要點辦理。\n擬辦：奉核後函送各機關。",
        "敬陳：主任秘書　局長",
        "綜合企劃組　王小明",
    ] {
        assert!(text.contains(seen), "{seen:?} not in {text}");
    }
    let (ok, text) = gwx(&hub, RDEC, &["show", &memo]);
    assert!(!ok && text.contains("urn:gwx:error:not-found"), "{text}");
    hub.stop().await;
}

crate::both_databases!(
    the_clerk_reads_each_kind_as_on_paper_and_prints_it_with_the_exchange_stamp,
    gwx_show_prints_the_document_as_it_reads,
);

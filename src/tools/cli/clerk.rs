//! The clerk's commands (收發文人員): sending and signing packages, the
//! inbox, fetching and verifying, confirming and returning, the status of
//! a sent document, paper resends, send groups and the deadline lists.

use std::path::{Path, PathBuf};

use crate::client::package::SendOptions;
use crate::client::{Client, Identity};

#[derive(clap::Args)]
pub struct PackageArgs {
    /// The DI file (its DOCTYPE names the SW and attachments beside it).
    di: PathBuf,
    /// 正本 recipient (agency code, optionally with unit code); repeatable.
    #[arg(long)]
    to: Vec<String>,
    /// 副本 recipient; repeatable.
    #[arg(long)]
    cc: Vec<String>,
    /// A send group (行文群組) id; repeatable.
    #[arg(long)]
    group: Vec<String>,
    /// A declared attachment that is not beside the DI; repeatable.
    #[arg(long)]
    attach: Vec<PathBuf>,
    /// A case of major rights: recipients must confirm promptly (§10).
    #[arg(long)]
    immediate: bool,
}

impl PackageArgs {
    fn options(self) -> (PathBuf, SendOptions) {
        let opts = SendOptions {
            to: self.to,
            cc: self.cc,
            groups: self.group,
            attach: self.attach,
            immediate_confirmation: self.immediate,
        };
        (self.di, opts)
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DeadlineList {
    Sender,
    Receiver,
}

#[derive(clap::Subcommand)]
pub enum GroupCommand {
    /// The groups you may use or edit.
    List,
    /// One group and its members.
    Show { id: String },
    /// Create a group (shared: secretariat; private: your agency_admin).
    Create {
        #[arg(long)]
        name: String,
        /// A shared group (default: private to your participant).
        #[arg(long)]
        shared: bool,
        /// A member participant code; repeatable.
        #[arg(long)]
        member: Vec<String>,
        /// A member group id; repeatable.
        #[arg(long)]
        member_group: Vec<String>,
    },
    /// Add members to a group.
    Add {
        id: String,
        #[arg(long)]
        member: Vec<String>,
        #[arg(long)]
        member_group: Vec<String>,
    },
    /// Remove members from a group.
    Remove {
        id: String,
        #[arg(long)]
        member: Vec<String>,
        #[arg(long)]
        member_group: Vec<String>,
    },
    /// Every version of a group: who changed what, when.
    History { id: String },
}

pub async fn whoami(identity: &Identity, json: bool) -> anyhow::Result<()> {
    let v = Client::new(identity)?.get_json("/api/v1/whoami").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let p = &v["participant"];
    let s = |x: &serde_json::Value| x.as_str().unwrap_or("").to_owned();
    let kind = s(&p["kind"]).parse::<crate::domain::ParticipantKind>().map_or("", |k| k.zh());
    let status = s(&p["status"]).parse::<crate::domain::ParticipantStatus>().map_or("", |k| k.zh());
    println!("{}（{}）　{kind}，{status}", s(&p["name"]), s(&p["code"]));
    let roles: Vec<&str> = v["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str()?.parse::<crate::domain::Role>().ok())
        .map(crate::domain::Role::zh)
        .collect();
    println!("角色：{}", roles.join("、"));
    let c = &v["credential"];
    println!("憑證：{}（持有人 {}），效期至 {}", s(&c["subject"]), s(&c["holder"]), taipei(&c["not_after"]));
    println!("來源 IP：{}", s(&v["source_ip"]));
    for w in v["warnings"].as_array().into_iter().flatten() {
        println!("注意：{}", s(w));
    }
    Ok(())
}

/// Signs a DI into a package directory, for upload through the console.
pub async fn sign(identity: &Identity, package: PackageArgs, out: &Path) -> anyhow::Result<()> {
    let (di, opts) = package.options();
    let (sender, cert, key) = signer(&Client::new(identity)?, identity).await?;
    let package = crate::client::package::from_di_file(&di, &opts, &sender, &cert, &key)?;
    let files = package.write_to(out)?;
    println!("signed package written to {} ({} files):", out.display(), files.len());
    for f in files {
        println!("  {}", f.display());
    }
    println!("upload them on the console's 發送公文 page");
    Ok(())
}

pub async fn inbox(identity: &Identity, state: Option<String>, wait: u64, json: bool) -> anyhow::Result<()> {
    let mut path = format!("/api/v1/inbox?wait={wait}");
    if let Some(s) = state {
        path.push_str(&format!("&state={s}"));
    }
    let v = Client::new(identity)?.get_json(&path).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_deliveries(&v["items"], true);
    }
    Ok(())
}

/// Downloads a delivery's package into `out` and verifies it.
pub async fn fetch(identity: &Identity, id: &str, out: &Path) -> anyhow::Result<()> {
    let written = Client::new(identity)?.fetch(id, out).await?;
    let v = crate::client::verify::verify_dir(out, &identity.ca)?;
    println!(
        "{} files written to {}; signature verified (signed by {}); every file matches the signed envelope",
        written.len(),
        out.display(),
        v.signer
    );
    println!("{}  {}  {}", v.envelope.document_number, v.envelope.sender, v.envelope.subject);
    Ok(())
}

/// Prints a delivery as it reads on paper, after fetching and verifying it.
pub async fn show(identity: &Identity, id: &str) -> anyhow::Result<()> {
    let client = Client::new(identity)?;
    let dir = std::env::temp_dir().join(format!("gwx-show-{}-{}", std::process::id(), id.replace(['/', '.'], "_")));
    let shown = async {
        client.fetch(id, &dir).await?;
        let v = crate::client::verify::verify_dir(&dir, &identity.ca)?;
        let di = std::fs::read(dir.join(v.envelope.document().name.as_str()))?;
        let doc = crate::formats::document::OfficialDocument::parse(&di)
            .map_err(|e| anyhow::anyhow!("the document is not a readable 公文: {e}"))?;
        let attachments: Vec<String> = v
            .envelope
            .files
            .iter()
            .filter(|f| f.role == crate::formats::envelope::FileRole::Attachment)
            .map(|f| f.name.to_string())
            .collect();
        anyhow::Ok((v.signer, crate::formats::reading::Reading::of(&doc, &attachments)))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let (signer, reading) = shown?;
    // After the fetch: its state says it has been read.
    let d = client.get_json(&format!("/api/v1/deliveries/{id}")).await?;
    let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
    let kind = if d["kind"] == "copy" { "副本" } else { "正本" };
    println!("來文：{}（{}）　{kind}", s("sender_name"), s("sender"));
    println!("送達時間：{}　狀態：{}", taipei(&d["delivered_at"]), state_zh(&d["state"]));
    println!("電子簽章：驗證通過（{signer}）");
    println!("{}", "─".repeat(40));
    print!("{}", reading.to_text());
    Ok(())
}

pub fn verify(dir: &Path, ca: &Path) -> anyhow::Result<()> {
    let v = crate::client::verify::verify_dir(dir, ca)?;
    println!("signature verified (signed by {}); {} files match the signed envelope", v.signer, v.files);
    Ok(())
}

pub async fn confirm(identity: &Identity, id: &str) -> anyhow::Result<()> {
    let v =
        Client::new(identity)?.post_json(&format!("/api/v1/deliveries/{id}/confirm"), &serde_json::json!({})).await?;
    println!("已確認 {}（{}）：{}", v["document_number"].as_str().unwrap_or(""), id, taipei(&v["confirmed_at"]));
    Ok(())
}

pub async fn return_(identity: &Identity, id: &str, reason: &str) -> anyhow::Result<()> {
    let v = Client::new(identity)?
        .post_json(&format!("/api/v1/deliveries/{id}/return"), &serde_json::json!({"reason": reason}))
        .await?;
    println!(
        "已退文 {}（{}）：{}　退文理由：{}",
        v["document_number"].as_str().unwrap_or(""),
        id,
        taipei(&v["returned_at"]),
        v["return_reason"].as_str().unwrap_or("")
    );
    Ok(())
}

/// Every recipient's state of a document the caller sent.
pub async fn status(identity: &Identity, document: &str, json: bool) -> anyhow::Result<()> {
    let v = Client::new(identity)?.get_json(&format!("/api/v1/documents/{document}")).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}  {}  發文時間 {}",
            v["document_number"].as_str().unwrap_or(""),
            v["subject"].as_str().unwrap_or(""),
            taipei(&v["accepted_at"])
        );
        print_deliveries(&v["recipients"], false);
    }
    Ok(())
}

pub async fn paper_resend(identity: &Identity, id: &str, note: Option<String>) -> anyhow::Result<()> {
    let v = Client::new(identity)?
        .post_json(&format!("/api/v1/deliveries/{id}/paper-resend"), &serde_json::json!({"note": note}))
        .await?;
    println!("已記錄補發紙本：{}，{}", v["recipient"].as_str().unwrap_or(""), taipei(&v["paper_resend_at"]));
    Ok(())
}

async fn signer(
    client: &Client,
    identity: &Identity,
) -> anyhow::Result<(crate::domain::ParticipantCode, openssl::x509::X509, openssl::pkey::PKey<openssl::pkey::Private>)>
{
    let who = client.get_json("/api/v1/whoami").await?;
    let sender = crate::domain::ParticipantCode::parse(who["participant"]["code"].as_str().unwrap_or(""))?;
    let cert = openssl::x509::X509::from_pem(&std::fs::read(&identity.cert)?)?;
    let key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&identity.key)?)?;
    Ok((sender, cert, key))
}

/// Signs and sends a DI with the SW and attachments it declares; prints the receipt.
pub async fn send(identity: &Identity, package: PackageArgs, receipt: Option<&Path>) -> anyhow::Result<()> {
    let (di, opts) = package.options();
    let client = Client::new(identity)?;
    let (sender, cert, key) = signer(&client, identity).await?;
    let out = crate::client::package::from_di_file(&di, &opts, &sender, &cert, &key)?;
    let total = out.total_bytes();
    let progress = (total > 1024 * 1024 && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let p = indicatif::ProgressBar::new(total);
        p.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .expect("template"),
        );
        p
    });
    let (status, v) = client.send(&out, progress).await?;
    if let Some(path) = receipt {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.decode(v["receipt"].as_str().unwrap_or(""))?;
        std::fs::write(path, der)?;
    }
    let again = if status == 200 { " (already accepted before: the first receipt)" } else { "" };
    println!(
        "accepted{again}: document {} {} at {}",
        v["document_id"].as_str().unwrap_or(""),
        v["document_number"].as_str().unwrap_or(""),
        taipei(&v["accepted_at"])
    );
    for r in v["recipients"].as_array().into_iter().flatten() {
        let kind = if r["kind"] == "copy" { "副本" } else { "正本" };
        let via = r["via_group"].as_str().map(|g| format!(" (group {g})")).unwrap_or_default();
        println!("  {kind} {}{via}", r["participant"].as_str().unwrap_or(""));
    }
    println!("envelope SHA-256 {}", v["envelope_sha256"].as_str().unwrap_or(""));
    Ok(())
}

fn member_list(member: &[String], groups: &[String]) -> Vec<serde_json::Value> {
    member
        .iter()
        .map(|m| serde_json::json!({"participant": m}))
        .chain(groups.iter().map(|g| serde_json::json!({"group": g})))
        .collect()
}

fn print_group(g: &serde_json::Value) {
    let s = |k: &str| g[k].as_str().unwrap_or("").to_owned();
    println!("{}  {}  {}  (owner {}, version {})", s("id"), s("scope"), s("name"), s("owner"), g["version"]);
    for m in g["members"].as_array().into_iter().flatten() {
        match (m["participant"].as_str(), m["group"].as_str()) {
            (Some(p), _) => println!("  {p}"),
            (_, Some(gr)) => println!("  group {gr}"),
            _ => {}
        }
    }
}

pub async fn group(client: &Client, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List => {
            let v = client.get_json("/api/v1/groups").await?;
            for g in v.as_array().into_iter().flatten() {
                println!(
                    "{}  {:<7}  {}  ({} members)",
                    g["id"].as_str().unwrap_or(""),
                    g["scope"].as_str().unwrap_or(""),
                    g["name"].as_str().unwrap_or(""),
                    g["members"].as_array().map_or(0, |m| m.len())
                );
            }
        }
        GroupCommand::Show { id } => print_group(&client.get_json(&format!("/api/v1/groups/{id}")).await?),
        GroupCommand::Create { name, shared, member, member_group } => {
            let body = serde_json::json!({"scope": if shared { "shared" } else { "private" }, "name": name, "members": member_list(&member, &member_group)});
            print_group(&client.post_json("/api/v1/groups", &body).await?);
        }
        GroupCommand::Add { id, member, member_group } => {
            let g = client.get_json(&format!("/api/v1/groups/{id}")).await?;
            let mut members = g["members"].as_array().cloned().unwrap_or_default();
            for m in member_list(&member, &member_group) {
                if !members.contains(&m) {
                    members.push(m);
                }
            }
            let body = serde_json::json!({"name": g["name"], "members": members, "version": g["version"]});
            print_group(&client.put_json(&format!("/api/v1/groups/{id}"), &body).await?);
        }
        GroupCommand::Remove { id, member, member_group } => {
            let g = client.get_json(&format!("/api/v1/groups/{id}")).await?;
            let gone = member_list(&member, &member_group);
            let members: Vec<_> = g["members"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| !gone.contains(m))
                .collect();
            let body = serde_json::json!({"name": g["name"], "members": members, "version": g["version"]});
            print_group(&client.put_json(&format!("/api/v1/groups/{id}"), &body).await?);
        }
        GroupCommand::History { id } => {
            let v = client.get_json(&format!("/api/v1/groups/{id}/history")).await?;
            for h in v.as_array().into_iter().flatten() {
                let members: Vec<String> = h["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| {
                        m["participant"]
                            .as_str()
                            .map(str::to_owned)
                            .or_else(|| m["group"].as_str().map(|g| format!("group {g}")))
                    })
                    .collect();
                println!(
                    "v{}  {}  {} by {} ({})  \"{}\": {}",
                    h["version"],
                    h["at"].as_str().unwrap_or(""),
                    h["change"].as_str().unwrap_or(""),
                    h["actor_name"].as_str().unwrap_or(""),
                    h["actor"].as_str().unwrap_or(""),
                    h["name"].as_str().unwrap_or(""),
                    members.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// One line per delivery: id, state, and what it is.
pub async fn deadlines(client: &Client, list: Option<DeadlineList>, format: Option<String>) -> anyhow::Result<()> {
    let lists = match list {
        Some(l) => vec![l],
        None => vec![DeadlineList::Sender, DeadlineList::Receiver],
    };
    for l in lists {
        let (path, title) = match l {
            DeadlineList::Sender => ("/api/v1/deadlines/sender", "應補發紙本 (paper resend list)"),
            DeadlineList::Receiver => ("/api/v1/deadlines/receiver", "逾期未處理 (overdue)"),
        };
        if let Some(f) = &format {
            let body = client.get_bytes(&format!("{path}?format={f}")).await?;
            std::io::Write::write_all(&mut std::io::stdout(), &body)?;
            continue;
        }
        let v = client.get_json(&format!("{path}?limit=1000")).await?;
        println!("{title}:");
        let rows = v["items"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            println!("  (none)");
        }
        for d in rows {
            let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
            let who = match l {
                DeadlineList::Sender => format!("to {}", s("recipient")),
                DeadlineList::Receiver => format!("from {}", s("sender")),
            };
            let reason = d["return_reason"].as_str().map(|r| format!(" 退文原因: {r}")).unwrap_or_default();
            let deadline = match l {
                DeadlineList::Sender => format!("檢核期限 {}", taipei(&d["sender_deadline"])),
                DeadlineList::Receiver => due(&d),
            };
            println!(
                "  {}  {}  {who}  {}  {}  {deadline}{reason}",
                s("id"),
                state_zh(&d["state"]),
                s("document_number"),
                s("subject"),
            );
        }
    }
    Ok(())
}

fn print_deliveries(items: &serde_json::Value, inbox: bool) {
    let rows = items.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("(none)");
    }
    for d in rows {
        let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
        let urgent = if d["immediate_confirmation"] == true { " [立即確認]" } else { "" };
        let who = if inbox { format!("from {}", s("sender")) } else { format!("to {}", s("recipient")) };
        let reason = d["return_reason"].as_str().map(|r| format!(" 退文原因: {r}")).unwrap_or_default();
        let paper = d["paper_resend_at"]
            .as_str()
            .map(|_| format!(" 已補發紙本 {}", taipei(&d["paper_resend_at"])))
            .unwrap_or_default();
        let when = if inbox {
            let open = d["state"]
                .as_str()
                .and_then(|s| s.parse::<crate::domain::delivery::DeliveryState>().ok())
                .is_some_and(|s| s.is_open());
            let due = if open { format!("，{}", due(&d)) } else { String::new() };
            format!("  送達 {}{due}", taipei(&d["delivered_at"]))
        } else {
            String::new()
        };
        println!(
            "{}  {}  {} {} {}{urgent}  {}{reason}{paper}{when}",
            s("id"),
            state_zh(&d["state"]),
            who,
            s("document_number"),
            s("speed"),
            s("subject")
        );
    }
}

/// A time of the hub's JSON (RFC 3339) as a clerk reads it: Taipei, to the
/// minute, labelled.
fn taipei(v: &serde_json::Value) -> String {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| format!("{}（臺北）", crate::domain::calendar::local_minute(t.with_timezone(&chrono::Utc))))
        .unwrap_or_default()
}

/// A delivery state of the hub's JSON in words.
fn state_zh(v: &serde_json::Value) -> &'static str {
    v.as_str().and_then(|s| s.parse::<crate::domain::delivery::DeliveryState>().ok()).map_or("", |s| s.zh())
}

/// The deadline a delivery misses first: its immediate-confirmation one
/// when it has one (no later than the receiver's), else the receiver's.
fn due(d: &serde_json::Value) -> String {
    let at = |k: &str| d[k].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    match (at("immediate_deadline"), at("receiver_deadline")) {
        (Some(i), r) if r.is_none_or(|r| i <= r) => format!("立即確認期限 {}", taipei(&d["immediate_deadline"])),
        _ => format!("收文檢核期限 {}", taipei(&d["receiver_deadline"])),
    }
}

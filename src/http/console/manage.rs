//! Pages that manage the exchange: send groups (agency admin,
//! secretariat), the application queue (supervisor), the IT bureau's
//! administration, and the public roster. Every action calls the same
//! function as its API route.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::response::Response;

use super::{FlashQuery, Nav, done, flash_text, page};
use crate::domain::application::{ApplicationState, Step};
use crate::domain::calendar::ClosurePart;
use crate::domain::document::RecipientCode;
use crate::domain::group::{GroupMember, GroupScope};
use crate::domain::{ParticipantStatus, Role};
use crate::http::AppState;
use crate::http::problem::{ApiResult, Problem};
use crate::http::report::local_time;
use crate::service::admin::{self, ParticipantRow};
use crate::service::applications::{self, Requester};
use crate::service::caller::Caller;
use crate::service::{credentials, deadlines, groups, participants, roster, sanctions};
use crate::store::{Application, Credential, GroupVersion};

// --- send groups -----------------------------------------------------------

pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub scope: &'static str,
    pub owner: String,
    pub members: usize,
    pub version: i64,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct GroupsPage {
    nav: Nav,
    flash: Option<&'static str>,
    rows: Vec<GroupRow>,
    can_shared: bool,
}

fn scope_zh(s: GroupScope) -> &'static str {
    match s {
        GroupScope::Shared => "共用",
        GroupScope::Private => "機關自用",
    }
}

fn member_text(m: &GroupMember) -> String {
    match m {
        GroupMember::Participant(c) => c.to_string(),
        GroupMember::Group(g) => format!("群組 {g}"),
    }
}

pub async fn groups(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let rows = groups::list(&app, &caller)
        .await?
        .into_iter()
        .map(|g| GroupRow {
            scope: scope_zh(g.scope),
            owner: g.owner.to_string(),
            members: g.members.len(),
            id: g.id,
            name: g.name,
            version: g.version,
        })
        .collect();
    Ok(page(GroupsPage {
        nav: Nav::new(&app, &caller, "/console/groups"),
        flash: flash_text(q.msg.as_deref()),
        rows,
        can_shared: caller.has(Role::Secretariat),
    }))
}

/// Members typed one per line (or separated by spaces or commas): agency
/// codes, or `group:<id>` for a nested group.
fn parse_members(text: &str) -> Result<Vec<GroupMember>, Problem> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|t| !t.is_empty())
        .map(|t| match t.strip_prefix("group:") {
            Some(g) => Ok(GroupMember::Group(g.to_owned())),
            None => Ok(GroupMember::Participant(RecipientCode::parse(t)?)),
        })
        .collect()
}

#[derive(serde::Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub members: String,
    #[serde(default)]
    pub scope: String,
    pub version: Option<i64>,
}

pub async fn create_group(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(f): Form<GroupForm>,
) -> ApiResult<Response> {
    let scope = if f.scope == "shared" { GroupScope::Shared } else { GroupScope::Private };
    let g = groups::create(&app, &caller, scope, &f.name, &parse_members(&f.members)?).await?;
    Ok(done(&format!("/console/groups/{}", g.id), "saved"))
}

pub struct VersionRow {
    pub version: i64,
    pub at: String,
    pub actor: String,
    pub change: String,
    pub name: String,
    pub members: String,
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    nav: Nav,
    flash: Option<&'static str>,
    id: String,
    name: String,
    scope: &'static str,
    owner: String,
    version: i64,
    members: String,
    editable: bool,
    history: Vec<VersionRow>,
}

pub async fn group(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let g = groups::visible(&app, &caller, &id).await?;
    let history: Vec<GroupVersion> = groups::history(&app, &caller, &id).await?;
    let editable = groups::can_edit(&caller, &g);
    Ok(page(GroupPage {
        nav: Nav::new(&app, &caller, "/console/groups"),
        flash: flash_text(q.msg.as_deref()),
        scope: scope_zh(g.scope),
        owner: g.owner.to_string(),
        members: g.members.iter().map(member_text).collect::<Vec<_>>().join("\n"),
        editable,
        history: history
            .into_iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version,
                at: local_time(v.at),
                actor: format!("{}（{}）", v.actor, v.actor_name),
                change: match v.change.as_str() {
                    "created" => "建立".to_owned(),
                    "updated" => "修改".to_owned(),
                    "deleted" => "刪除".to_owned(),
                    _ => v.change,
                },
                name: v.name,
                members: v.members.iter().map(member_text).collect::<Vec<_>>().join("、"),
            })
            .collect(),
        id: g.id,
        name: g.name,
        version: g.version,
    }))
}

pub async fn edit_group(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<GroupForm>,
) -> ApiResult<Response> {
    groups::update(&app, &caller, &id, f.version, &f.name, &parse_members(&f.members)?).await?;
    Ok(done(&format!("/console/groups/{id}"), "saved"))
}

// --- applications ------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/applications.html")]
struct ApplicationsPage {
    nav: Nav,
    flash: Option<&'static str>,
    title: &'static str,
    rows: Vec<Application>,
    /// Supervisor: approve/reject/correct; IT bureau: activate.
    activate: bool,
}

/// The supervisor's queue: applications naming it, waiting for review.
pub async fn applications(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    caller.require(Role::Supervisor)?;
    let nav = Nav::new(&app, &caller, "/console/applications");
    let who = Requester::Registered(Box::new(caller));
    let rows = applications::list(&app, &who, Some(ApplicationState::Submitted)).await?;
    Ok(page(ApplicationsPage {
        nav,
        flash: flash_text(q.msg.as_deref()),
        title: "待審核的連線申請",
        rows,
        activate: false,
    }))
}

pub async fn decide(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, decision)): Path<(String, String)>,
    Form(f): Form<super::clerk::ReasonForm>,
) -> ApiResult<Response> {
    let reason = Some(f.reason.as_str()).filter(|r| !r.trim().is_empty());
    let who = Requester::Registered(Box::new(caller));
    let step = match decision.as_str() {
        "approve" => Step::Approve,
        "reject" => Step::Reject,
        "request-correction" => Step::RequestCorrection,
        "activate" => {
            applications::activate(&app, &who, &id).await?;
            return Ok(done("/console/admin", "activated"));
        }
        _ => return Err(Problem::not_found(format!("no decision {decision}"))),
    };
    applications::review(&app, &who, &id, step, reason).await?;
    let msg = match step {
        Step::Approve => "approved",
        Step::Reject => "rejected",
        _ => "correction",
    };
    Ok(done("/console/applications", msg))
}

// --- the IT bureau -------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/admin.html")]
struct AdminPage {
    nav: Nav,
    flash: Option<&'static str>,
    participants: Vec<ParticipantRow>,
    /// The first code of the next page of participants, if any.
    next: Option<String>,
    credentials: Vec<Credential>,
    blocks: Vec<crate::store::Block>,
    activations: Vec<Application>,
    years: Vec<crate::store::CalendarYearInfo>,
    closures: Vec<crate::store::Closure>,
    retention_days: u32,
    oldest_entry: String,
    checkpoint: String,
    /// (issuer, revoked, next update, state, warning) of each CRL.
    crls: Vec<CrlRow>,
    /// The warnings about CRLs that are not current, for the top of the page.
    crl_warnings: Vec<String>,
}

pub struct CrlRow {
    issuer: String,
    revoked: usize,
    next_update: String,
    state: &'static str,
}

#[derive(serde::Deserialize, Default)]
pub struct AdminQuery {
    pub msg: Option<String>,
    /// Participants after this code (the next page).
    pub after: Option<String>,
}

pub async fn admin(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<AdminQuery>,
) -> ApiResult<Response> {
    let o = admin::overview(&app, &caller, q.after.clone()).await?;
    use crate::pki::trust::CrlState;
    let crl_warnings = o
        .trust
        .crls
        .iter()
        .filter(|c| c.state != CrlState::Current)
        .map(|c| {
            let at = c.next_update.map(local_time).unwrap_or_default();
            match c.state {
                CrlState::Expired => format!(
                    "{} 的憑證廢止清冊已於 {at} 過期：該憑證機構簽發的憑證（新連線及已開啟的連線）一律拒絕，\
                     直到將新的廢止清冊放入信任目錄（自動載入；或以 POST /api/v1/trust/reload、SIGHUP 重新載入）。",
                    c.issuer
                ),
                _ => format!("{} 的憑證廢止清冊將於 {at} 到期，請於到期前放入新的廢止清冊。", c.issuer),
            }
        })
        .collect();
    let crls = o
        .trust
        .crls
        .iter()
        .map(|c| CrlRow {
            issuer: c.issuer.clone(),
            revoked: c.revoked,
            next_update: c.next_update.map(local_time).unwrap_or_else(|| "—".into()),
            state: match c.state {
                CrlState::Current => "有效",
                CrlState::Expiring => "即將到期",
                CrlState::Expired => "已過期",
            },
        })
        .collect();
    Ok(page(AdminPage {
        crls,
        crl_warnings,
        nav: Nav::new(&app, &caller, "/console/admin"),
        flash: flash_text(q.msg.as_deref()),
        participants: o.participants,
        next: o.next,
        credentials: o.credentials,
        blocks: o.blocks,
        activations: o.activations,
        years: o.years,
        closures: o.closures,
        retention_days: o.retention_days,
        oldest_entry: o.oldest_entry.map(local_time).unwrap_or_else(|| "—".into()),
        checkpoint: o
            .checkpoint
            .map(|c| {
                format!("#{}（{} 清除 {} 筆紀錄、{} 件公文）", c.seq, local_time(c.purged_at), c.entries, c.documents)
            })
            .unwrap_or_else(|| "尚未清除".into()),
    }))
}

#[derive(serde::Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub note: String,
    pub entry: Option<i64>,
}

pub async fn participant_action(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((code, action)): Path<(String, String)>,
    Form(f): Form<AdminForm>,
) -> ApiResult<Response> {
    let status = |to| participants::change_status(&app, &caller, &code, to, Some(&f.reason));
    let msg = match action.as_str() {
        "suspend" => status(ParticipantStatus::Suspended).await.map(|_| "suspended")?,
        "reinstate" => status(ParticipantStatus::Active).await.map(|_| "reinstated")?,
        "terminate" => status(ParticipantStatus::Terminated).await.map(|_| "terminated")?,
        "allow" => participants::allow(&app, &caller, &code, &f.ip, Some(&f.note)).await.map(|_| "saved")?,
        "disallow" => {
            let id = f.entry.ok_or_else(|| Problem::invalid_field("which allowlist entry?"))?;
            participants::disallow(&app, &caller, &code, id).await.map(|_| "saved")?
        }
        _ => return Err(Problem::not_found(format!("no action {action}"))),
    };
    Ok(done("/console/admin", msg))
}

pub async fn credential_action(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<AdminForm>,
) -> ApiResult<Response> {
    let msg = match action.as_str() {
        "disable" => credentials::disable(&app, &caller, id, &f.reason).await.map(|_| "disabled")?,
        "enable" => credentials::enable(&app, &caller, id).await.map(|_| "enabled")?,
        _ => return Err(Problem::not_found(format!("no action {action}"))),
    };
    Ok(done("/console/admin", msg))
}

pub async fn add_block(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(f): Form<AdminForm>,
) -> ApiResult<Response> {
    sanctions::block(&app, &caller, &f.ip, &f.reason).await?;
    Ok(done("/console/admin", "blocked"))
}

pub async fn remove_block(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    sanctions::unblock(&app, &caller, id).await?;
    Ok(done("/console/admin", "unblocked"))
}

/// A year of the DGPA calendar, uploaded as a file.
pub async fn upload_calendar(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut form: Multipart,
) -> ApiResult<Response> {
    let (mut year, mut csv) = (None, None);
    while let Some(field) = form.next_field().await.map_err(|e| Problem::invalid_field(e.body_text()))? {
        match field.name() {
            Some("year") => year = field.text().await.ok().and_then(|t| t.trim().parse::<i32>().ok()),
            Some("file") => csv = Some(field.bytes().await.map_err(|e| Problem::invalid_field(e.body_text()))?),
            _ => {}
        }
    }
    let year = year.ok_or_else(|| Problem::invalid_field("which year?"))?;
    let csv = csv.ok_or_else(|| Problem::invalid_field("no calendar file"))?;
    deadlines::load_year_file(&app, &caller, year, &csv).await?;
    Ok(done("/console/admin", "calendar"))
}

#[derive(serde::Deserialize)]
pub struct ClosureForm {
    pub date: chrono::NaiveDate,
    pub part: ClosurePart,
    #[serde(default)]
    pub reason: String,
}

pub async fn declare_closure(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(f): Form<ClosureForm>,
) -> ApiResult<Response> {
    deadlines::declare_closure(&app, &caller, f.date, f.part, &f.reason).await?;
    Ok(done("/console/admin", "closure"))
}

// --- public --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/roster.html")]
struct RosterPage {
    rows: Vec<roster::RosterEntry>,
    changes: Vec<crate::store::RosterChange>,
}

/// 機關及連線用戶名冊 (§5-4): public, no certificate.
pub async fn roster_page(State(app): State<AppState>) -> ApiResult<Response> {
    Ok(page(RosterPage { rows: roster::entries(&app).await?, changes: roster::latest_changes(&app, 50).await? }))
}

//! `credentials` (it_bureau): register a certificate for a participant,
//! list, disable (lost card, departure) and re-enable.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::{Body, PageOf, PageParams, Query};
use super::problem::{ApiResult, Problem, ProblemBody};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::{ParticipantCode, Role, Roles};
use crate::pki::CertInfo;
use crate::service::caller::Caller;
use crate::store::{Credential, NewCredential, Page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/credentials", get(list).post(register))
        .route("/api/v1/credentials/{id}", get(show))
        .route("/api/v1/credentials/{id}/disable", post(disable))
        .route("/api/v1/credentials/{id}/enable", post(enable))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCredential {
    pub participant: ParticipantCode,
    /// The certificate, PEM. The hub computes its fingerprint and reads
    /// subject, serial, validity (and 統一編號 when present).
    pub certificate: String,
    pub roles: Vec<Role>,
    /// The person holding the card.
    pub holder: String,
    pub card_number: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableCredential {
    pub reason: String,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this participant's credentials.
    pub participant: Option<String>,
    /// Only enabled credentials whose certificate expires within this many
    /// days (the IT bureau's renewal list).
    pub expiring_within_days: Option<u32>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn credential_log(caller: &Caller, action: LogAction, c: &Credential, detail: String) -> NewLogEntry {
    caller.log_entry(action, detail).counterpart(c.participant.to_string())
}

async fn existing(app: &AppState, id: i64) -> ApiResult<Credential> {
    app.store.credential(id).await?.ok_or_else(|| Problem::not_found(format!("no credential {id}")))
}

#[utoipa::path(get, path = "/api/v1/credentials", tag = "credentials", params(ListParams),
    responses((status = 200, body = PageOf<Credential>)))]
async fn list(State(app): State<AppState>, Query(q): Query<ListParams>) -> ApiResult<Json<PageOf<Credential>>> {
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit();
    let after = super::extract::numeric_cursor(page.cursor.as_deref())?;
    let expiring_before = q.expiring_within_days.map(|d| app.now() + chrono::Duration::days(i64::from(d)));
    let items = app.store.credentials(q.participant.as_deref(), expiring_before, &Page { after, limit }).await?;
    Ok(Json(PageOf::new(items, limit, |c| c.id.to_string())))
}

#[utoipa::path(get, path = "/api/v1/credentials/{id}", tag = "credentials",
    responses((status = 200, body = Credential), (status = 404, body = ProblemBody)))]
async fn show(State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Credential>> {
    Ok(Json(existing(&app, id).await?))
}

#[utoipa::path(post, path = "/api/v1/credentials", tag = "credentials", request_body = RegisterCredential,
    responses((status = 201, body = Credential), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn register(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<RegisterCredential>,
) -> ApiResult<(StatusCode, Json<Credential>)> {
    if app.store.participant(req.participant.as_str()).await?.is_none() {
        return Err(Problem::invalid_field(format!("no participant {}", req.participant)));
    }
    let holder = req.holder.trim();
    if holder.is_empty() || holder.chars().any(char::is_control) {
        return Err(Problem::invalid_field("holder must name the person holding the card"));
    }
    if req.roles.is_empty() {
        return Err(Problem::invalid_field("a credential needs at least one role"));
    }
    let cert = CertInfo::from_pem(req.certificate.as_bytes()).map_err(|e| Problem::invalid_field(e.to_string()))?;
    let x509 = openssl::x509::X509::from_pem(cert.pem.as_bytes()).map_err(|e| Problem::internal(e.to_string()))?;
    app.tls.trust().verify(&x509).map_err(|reason| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "untrusted-certificate",
            "憑證無法驗證",
            format!("certificate {} does not verify against the trust store: {reason}", cert.subject),
        )
    })?;
    let new = NewCredential {
        participant: req.participant,
        cert,
        card_number: req.card_number.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        holder: holder.to_owned(),
        roles: Roles::new(req.roles),
    };
    let log = caller
        .log_entry(
            LogAction::CredentialRegistered,
            format!(
                "certificate {} ({}) registered for {} as {}",
                new.cert.subject,
                new.cert.fingerprint,
                new.participant,
                new.roles.to_storage()
            ),
        )
        .counterpart(new.participant.to_string());
    let c = app.store.register_credential(&new, app.now(), &log).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(post, path = "/api/v1/credentials/{id}/disable", tag = "credentials", request_body = DisableCredential,
    responses((status = 200, body = Credential), (status = 404, body = ProblemBody), (status = 422, body = ProblemBody)))]
pub(super) async fn disable(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Body(req): Body<DisableCredential>,
) -> ApiResult<Json<Credential>> {
    let c = existing(&app, id).await?;
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(Problem::invalid_field("a reason is required to disable a credential"));
    }
    let log = credential_log(
        &caller,
        LogAction::CredentialDisabled,
        &c,
        format!("credential {id} ({}) disabled: {reason}", c.subject),
    );
    Ok(Json(app.store.set_credential_disabled(id, Some(reason), app.now(), &log).await?))
}

#[utoipa::path(post, path = "/api/v1/credentials/{id}/enable", tag = "credentials",
    responses((status = 200, body = Credential), (status = 404, body = ProblemBody)))]
pub(super) async fn enable(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Credential>> {
    let c = existing(&app, id).await?;
    let log =
        credential_log(&caller, LogAction::CredentialEnabled, &c, format!("credential {id} ({}) enabled", c.subject));
    Ok(Json(app.store.set_credential_disabled(id, None, app.now(), &log).await?))
}

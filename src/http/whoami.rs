//! `GET /api/v1/whoami`: the caller as the hub sees it.

use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};

use super::AppState;
use crate::domain::Roles;
use crate::domain::participant::Participant;
use crate::service::caller::Caller;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/whoami", get(whoami))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub participant: Participant,
    pub credential: CredentialSummary,
    pub roles: Roles,
    /// The client address as the hub saw it.
    pub source_ip: String,
    /// Things the caller should act on, e.g. a certificate about to expire.
    pub warnings: Vec<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CredentialSummary {
    pub id: i64,
    pub fingerprint: String,
    pub subject: String,
    pub holder: String,
    pub card_number: Option<String>,
    pub not_after: DateTime<Utc>,
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = "auth",
    responses((status = 200, body = WhoAmI), (status = 401, body = super::problem::ProblemBody), (status = 403, body = super::problem::ProblemBody)))]
async fn whoami(
    axum::extract::State(app): axum::extract::State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<WhoAmI> {
    let c = &caller.credential;
    let mut warnings = Vec::new();
    let days_left = (c.not_after - app.now()).num_days();
    if days_left <= i64::from(app.config.auth.expiry_warning_days) {
        warnings.push(format!("certificate expires in {days_left} days ({}): renew the card", c.not_after));
    }
    Json(WhoAmI {
        roles: c.roles.clone(),
        credential: CredentialSummary {
            id: c.id,
            fingerprint: c.fingerprint.clone(),
            subject: c.subject.clone(),
            holder: c.holder.clone(),
            card_number: c.card_number.clone(),
            not_after: c.not_after,
        },
        source_ip: caller.source_ip.to_string(),
        participant: caller.participant,
        warnings,
    })
}

//! Credentials: the certificates (IC cards) registered to a participant,
//! with the roles each one carries (DESIGN §2). The IT bureau registers a
//! card, disables it at once (a lost card, a clerk who left, §11) and
//! enables it again; every change is logged for the security audit.

use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::{ParticipantCode, Role, Roles};
use crate::pki::CertInfo;
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};
use crate::store::{Credential, NewCredential, Page};

/// How far ahead the renewal list looks at most.
pub const MAX_RENEWAL_DAYS: u32 = 3660;

/// A certificate to register for a participant.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialForm {
    pub participant: ParticipantCode,
    /// The certificate, PEM. The hub computes its fingerprint and reads
    /// subject, serial, validity (and 統一編號 when present).
    pub certificate: String,
    pub roles: Vec<Role>,
    /// The person holding the card.
    pub holder: String,
    pub card_number: Option<String>,
}

fn credential_log(caller: &Caller, action: LogAction, c: &Credential, detail: String) -> NewLogEntry {
    caller.log_entry(action, detail).counterpart(c.participant.to_string())
}

async fn existing(app: &App, id: i64) -> Result<Credential> {
    app.store.credential(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no credential {id}")))
}

/// Credentials in id order: of one participant, or only the enabled ones
/// expiring within `expiring_within_days` (the IT bureau's renewal list).
pub async fn list(
    app: &App,
    caller: &Caller,
    participant: Option<&str>,
    expiring_within_days: Option<u32>,
    page: &Page<i64>,
) -> Result<Vec<Credential>> {
    caller.require(Role::ItBureau)?;
    let expiring_before = match expiring_within_days {
        Some(d) if d > MAX_RENEWAL_DAYS => {
            return Err(ServiceError::InvalidField(format!(
                "the renewal list looks at most {MAX_RENEWAL_DAYS} days ahead (a card is valid six years)"
            )));
        }
        d => d.map(|d| app.now() + chrono::Duration::days(i64::from(d))),
    };
    Ok(app.store.credentials(participant, expiring_before, page).await?)
}

pub async fn show(app: &App, caller: &Caller, id: i64) -> Result<Credential> {
    caller.require(Role::ItBureau)?;
    existing(app, id).await
}

/// Registers a certificate that verifies against the trust store.
pub async fn register(app: &App, caller: &Caller, form: CredentialForm) -> Result<Credential> {
    caller.require(Role::ItBureau)?;
    if app.store.participant(form.participant.as_str()).await?.is_none() {
        return Err(ServiceError::InvalidField(format!("no participant {}", form.participant)));
    }
    let holder = form.holder.trim();
    if holder.is_empty() || holder.chars().any(char::is_control) {
        return Err(ServiceError::InvalidField("holder must name the person holding the card".into()));
    }
    if form.roles.is_empty() {
        return Err(ServiceError::InvalidField("a credential needs at least one role".into()));
    }
    let cert =
        CertInfo::from_pem(form.certificate.as_bytes()).map_err(|e| ServiceError::InvalidField(e.to_string()))?;
    let x509 = openssl::x509::X509::from_pem(cert.pem.as_bytes()).map_err(|e| ServiceError::Internal(e.to_string()))?;
    // Only what TLS will accept: a credential is presented at the handshake.
    crate::pki::policy::certificate(&x509, crate::pki::policy::Use::TlsClient).map_err(|weak| {
        ServiceError::WeakCertificate(format!("certificate {} cannot be a credential: {weak}", cert.subject))
    })?;
    app.tls.trust().verify(&x509).map_err(|reason| {
        ServiceError::UntrustedCertificate(format!(
            "certificate {} does not verify against the trust store: {reason}",
            cert.subject
        ))
    })?;
    let new = NewCredential {
        participant: form.participant,
        cert,
        card_number: form.card_number.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        holder: holder.to_owned(),
        roles: Roles::new(form.roles),
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
    Ok(app.store.register_credential(&new, app.now(), &log).await?)
}

/// Disables a credential at once, with the reason.
pub async fn disable(app: &App, caller: &Caller, id: i64, reason: &str) -> Result<Credential> {
    caller.require(Role::ItBureau)?;
    let c = existing(app, id).await?;
    if c.id == caller.credential.id {
        return Err(ServiceError::InvalidField(format!(
            "credential {id} is the one you are using; disable it from another credential"
        )));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ServiceError::InvalidField("a reason is required to disable a credential".into()));
    }
    let log = credential_log(
        caller,
        LogAction::CredentialDisabled,
        &c,
        format!("credential {id} ({}) disabled: {reason}", c.subject),
    );
    app.store.set_credential_disabled(id, Some(reason), app.now(), &log).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(why) => ServiceError::InvalidField(format!(
            "{why}: the hub would be left without an operator; enable or register another it_bureau credential first"
        )),
        e => e.into(),
    })
}

pub async fn enable(app: &App, caller: &Caller, id: i64) -> Result<Credential> {
    caller.require(Role::ItBureau)?;
    let c = existing(app, id).await?;
    let log =
        credential_log(caller, LogAction::CredentialEnabled, &c, format!("credential {id} ({}) enabled", c.subject));
    Ok(app.store.set_credential_disabled(id, None, app.now(), &log).await?)
}

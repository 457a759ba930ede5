//! Who is calling (DESIGN §2): the client certificate maps to a credential,
//! the credential to a participant and roles; the source address must be in
//! the participant's allowlist, and the participant active.

use std::net::IpAddr;

use http::HeaderMap;

use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::participant::Participant;
use crate::domain::{ParticipantStatus, Role};
use crate::runtime::tls::ConnInfo;
use crate::service::app::App;
use crate::service::error::{Refusal, RefusalKind, ServiceError};
use crate::store::{AuthRecord, Credential};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub participant: Participant,
    pub credential: Credential,
    /// The client address as the hub saw it (after trusted-proxy handling).
    pub source_ip: IpAddr,
}

impl Caller {
    /// An exchange-log entry of something this caller did: participant,
    /// credential and source address filled in.
    pub fn log_entry(&self, action: LogAction, detail: impl Into<String>) -> NewLogEntry {
        NewLogEntry::new(action, detail)
            .participant(self.participant.code.to_string())
            .credential(self.credential.fingerprint.clone())
            .source_ip(self.source_ip)
    }

    pub fn has(&self, role: Role) -> bool {
        self.credential.roles.contains(role)
    }

    /// Refuses (`forbidden`, naming the role) unless the credential carries `role`.
    pub fn require(&self, role: Role) -> Result<(), ServiceError> {
        if self.has(role) {
            return Ok(());
        }
        Err(ServiceError::Auth(Refusal {
            kind: RefusalKind::Forbidden,
            detail: format!(
                "this action needs the '{role}' role; this credential has: {}",
                self.credential.roles.to_storage()
            ),
            participant: Some(self.participant.code.to_string()),
            credential: Some(self.credential.fingerprint.clone()),
            source_ip: self.source_ip,
        }))
    }
}

/// The client address of a request. The TCP peer (or PROXY-protocol source)
/// unless the peer is a trusted proxy and the configured header is present;
/// a client-supplied header from anyone else is ignored.
pub fn client_ip(app: &App, conn: &ConnInfo, headers: &HeaderMap) -> IpAddr {
    let peer = conn.peer.ip().to_canonical();
    let Some(header) = &app.config.proxy.client_ip_header else { return peer };
    let from_proxy = app.trusted_proxies.iter().any(|p| p.contains(conn.socket_peer.ip()));
    if !from_proxy {
        return peer;
    }
    headers
        .get_all(header.as_str())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .unwrap_or(peer)
}

/// Authenticates the request's certificate and source address.
pub async fn authenticate(app: &App, conn: &ConnInfo, source_ip: IpAddr) -> Result<Caller, Refusal> {
    let refuse = |kind, detail: String, participant: Option<String>, credential: Option<String>| Refusal {
        kind,
        detail,
        participant,
        credential,
        source_ip,
    };
    let Some(cert) = &conn.cert else {
        return Err(refuse(RefusalKind::CertificateRequired, "no client certificate was presented".into(), None, None));
    };
    let fp = Some(cert.fingerprint.clone());
    let now = app.now();

    // The handshake checked the chain, but an open or resumed session may
    // predate a CRL reload or outlive the certificate.
    let trust = app.tls.trust();
    if trust.is_revoked(&cert.issuer_der, &cert.serial) {
        let detail = format!("certificate {} (serial {}) is revoked", cert.subject, cert.serial);
        return Err(refuse(RefusalKind::CertificateRevoked, detail, None, fp));
    }
    if let Some(why) = trust.revocation_unknown(&cert.issuer_der, now) {
        let detail = format!(
            "certificate {}: {why}, so whether it is revoked cannot be checked; \
             refused until the IT bureau installs a current CRL",
            cert.subject
        );
        return Err(refuse(RefusalKind::RevocationUnknown, detail, None, fp));
    }
    drop(trust);
    if now > cert.not_after || now < cert.not_before {
        let detail = format!("certificate {} is valid from {} to {}", cert.subject, cert.not_before, cert.not_after);
        return Err(refuse(RefusalKind::CertificateExpired, detail, None, fp));
    }

    let store_err = |e: crate::store::StoreError| {
        tracing::error!(%e, "credential lookup failed");
        refuse(RefusalKind::UnknownCertificate, "the credential could not be looked up".into(), None, fp.clone())
    };
    let Some(AuthRecord { credential, participant, allowlist }) =
        app.store.kept_auth_record(&cert.fingerprint).await.map_err(store_err)?
    else {
        let detail = format!("certificate {} (SHA-256 {}) is not registered", cert.subject, cert.fingerprint);
        return Err(refuse(RefusalKind::UnknownCertificate, detail, None, fp));
    };
    let code = credential.participant.to_string();
    if !allowlist.iter().any(|r| r.contains(source_ip)) {
        let detail = format!("{source_ip} is not in the fixed-IP allowlist of {code}");
        return Err(refuse(RefusalKind::IpNotAllowed, detail, Some(code), fp));
    }
    if let Some(at) = credential.disabled_at {
        let reason = credential.disabled_reason.as_deref().unwrap_or("no reason recorded");
        let detail = format!("credential {} was disabled at {at}: {reason}", credential.id);
        return Err(refuse(RefusalKind::CredentialDisabled, detail, Some(code), fp));
    }
    if participant.status != ParticipantStatus::Active {
        let reason = participant.status_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        let detail = format!("participant {code} is {}{reason}", participant.status);
        return Err(refuse(RefusalKind::ParticipantSuspended, detail, Some(code), fp));
    }

    let stale = now - chrono::Duration::hours(1);
    if credential.last_used_at.is_none_or(|t| t < stale)
        && let Err(e) = app.store.touch_credential(credential.id, now, stale).await
    {
        tracing::warn!(%e, "cannot record credential use");
    }
    Ok(Caller { participant, credential, source_ip })
}

/// The caller as the hub sees it (`whoami`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub participant: Participant,
    pub credential: CredentialSummary,
    pub roles: crate::domain::Roles,
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
    pub not_after: chrono::DateTime<chrono::Utc>,
}

/// Who the caller is, with a warning when its certificate expires within
/// the configured days (DESIGN §2).
pub fn whoami(app: &App, caller: Caller) -> WhoAmI {
    let c = &caller.credential;
    let mut warnings = Vec::new();
    let days_left = (c.not_after - app.now()).num_days();
    if days_left <= i64::from(app.config.auth.expiry_warning_days) {
        warnings.push(format!(
            "certificate expires in {days_left} days ({} Taipei): renew the card",
            crate::domain::calendar::local_minute(c.not_after)
        ));
    }
    WhoAmI {
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
    }
}

/// The metrics are for the operator: from the hub's own machine (not
/// through a proxy), or with an IT bureau credential.
pub async fn may_read_metrics(app: &App, conn: &ConnInfo, headers: &HeaderMap) -> Result<(), ServiceError> {
    let socket_ip = conn.socket_peer.ip().to_canonical();
    if socket_ip.is_loopback() && !app.trusted_proxies.iter().any(|p| p.contains(socket_ip)) {
        return Ok(());
    }
    let ip = client_ip(app, conn, headers);
    authenticate(app, conn, ip).await?.require(Role::ItBureau)
}

//! The connected-user application workflow (§5, DESIGN §7): an
//! organisation with a trusted certificate applies; its supervising agency
//! (審核機關) approves, rejects or asks for correction; the IT bureau
//! (資訊局) activates; both sides are notified at every step.

use std::sync::Arc;

use crate::domain::application::{self, ApplicationForm, ApplicationKind, ApplicationState, FormError, Step};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::{ParticipantKind, Role};
use crate::pki::CertInfo;
use crate::runtime::tls::ConnInfo;
use crate::runtime::tls::PeerCert;
use crate::service::app::App;
use crate::service::caller;
use crate::service::caller::Caller;
use crate::service::error::ServiceError;
use crate::service::error::{Refusal, RefusalKind};
use crate::service::notify::notify;
use crate::service::participants::supervisor_of;
use crate::store::{Application, ApplicationEvent, ApplicationFilter, Notification, NotificationTo, StoreError};

/// Who is asking: a registered participant, or an organisation whose
/// certificate the trust store accepts but the hub does not know yet.
#[derive(Debug, Clone)]
pub enum Requester {
    Registered(Box<Caller>),
    Applicant { cert: PeerCert, source_ip: std::net::IpAddr },
}

impl Requester {
    pub fn fingerprint(&self) -> &str {
        match self {
            Requester::Registered(c) => &c.credential.fingerprint,
            Requester::Applicant { cert, .. } => &cert.fingerprint,
        }
    }

    pub fn participant(&self) -> Option<&str> {
        match self {
            Requester::Registered(c) => Some(c.participant.code.as_str()),
            Requester::Applicant { .. } => None,
        }
    }

    fn caller(&self) -> Option<&Caller> {
        match self {
            Requester::Registered(c) => Some(c),
            Requester::Applicant { .. } => None,
        }
    }

    /// The registered caller, for actions an applicant may not take.
    pub fn registered(&self) -> Result<&Caller, ServiceError> {
        self.caller().ok_or_else(|| ServiceError::NotRegistered("this action needs a registered certificate".into()))
    }

    fn has(&self, role: Role) -> bool {
        self.caller().is_some_and(|c| c.has(role))
    }

    fn log(&self, action: LogAction, detail: String) -> NewLogEntry {
        let mut e = NewLogEntry::new(action, detail).credential(self.fingerprint().to_owned());
        match self {
            Requester::Registered(c) => e = e.participant(c.participant.code.to_string()).source_ip(c.source_ip),
            Requester::Applicant { source_ip, .. } => e = e.source_ip(source_ip),
        }
        e
    }

    /// The applicant's own application (by its certificate or participant)?
    fn owns(&self, a: &Application) -> bool {
        a.certificate_fingerprint == self.fingerprint()
            || self.participant().is_some_and(|p| a.participant.as_deref() == Some(p))
    }
}

fn form_refusal(e: FormError) -> ServiceError {
    match e {
        FormError::TermsNotAccepted => ServiceError::TermsNotAccepted(e.to_string()),
        FormError::Invalid(i) => ServiceError::InvalidField(i.to_string()),
    }
}

/// Who is asking: registered callers are authenticated as everywhere
/// (allowlist, status); a trusted but unregistered certificate is an
/// applicant.
pub async fn identify(app: &App, conn: &ConnInfo, source_ip: std::net::IpAddr) -> Result<Requester, Refusal> {
    match caller::authenticate(app, conn, source_ip).await {
        Ok(caller) => Ok(Requester::Registered(Box::new(caller))),
        Err(r) if r.kind == RefusalKind::UnknownCertificate && conn.cert.is_some() => {
            Ok(Requester::Applicant { cert: conn.cert.clone().expect("checked"), source_ip })
        }
        Err(r) => Err(r),
    }
}

/// The notifications addressed to the requester (its participant or its
/// certificate), after the id `after`.
pub async fn notifications(
    app: &App,
    who: &Requester,
    after: i64,
    limit: i64,
) -> Result<Vec<Notification>, ServiceError> {
    Ok(app.store.notifications_for(who.participant(), Some(who.fingerprint()), after, limit).await?)
}

/// Notifies the supervising agency and the applicant of a step.
async fn tell_both(app: &Arc<App>, a: &Application, subject: &str, body: &str) {
    let supervisor = app.store.participant(&a.supervisor).await.ok().flatten();
    let to = [
        NotificationTo {
            participant: Some(a.supervisor.clone()),
            certificate: None,
            email: supervisor.and_then(|s| s.email),
        },
        NotificationTo {
            participant: a.participant.clone(),
            certificate: Some(a.certificate_fingerprint.clone()),
            email: Some(a.contact_email.clone()),
        },
    ];
    notify(app, &to, Some(&a.id), subject, body).await;
}

/// A notification's text, in the words of the application form, with the
/// time of the step in Taipei.
fn summary(a: &Application, at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "申請案號 {}\n申請項目 {}\n申請單位 {}（統一編號 {}）\n審核機關 {}\n狀態 {}\n時間 {}（臺北時間）{}",
        a.id,
        a.kind.zh(),
        a.organisation_name,
        a.unified_business_number,
        a.supervisor,
        a.state.zh(),
        crate::domain::calendar::local_minute(at),
        a.reason.as_deref().map(|r| format!("\n理由 {r}")).unwrap_or_default()
    )
}

pub async fn submit(app: &Arc<App>, who: &Requester, form: &ApplicationForm) -> Result<Application, ServiceError> {
    let form = form.validate().map_err(form_refusal)?;
    supervisor_of(app, &form.supervisor).await?;
    let (participant, cert) = match (form.kind, who) {
        (ApplicationKind::New, Requester::Applicant { cert, .. }) => {
            let info = CertInfo::from_pem(cert.pem.as_bytes()).map_err(|e| ServiceError::Internal(e.to_string()))?;
            if let Some(ubn) = &info.unified_business_number
                && ubn != form.ubn.as_str()
            {
                return Err(ServiceError::InvalidField(format!(
                    "the certificate carries 統一編號 {ubn}, the form says {}",
                    form.ubn
                )));
            }
            (None, info)
        }
        (ApplicationKind::New, Requester::Registered(c)) => {
            return Err(ServiceError::WrongState(format!(
                "this certificate is registered to {}; apply for a change instead",
                c.participant.code
            )));
        }
        (_, Requester::Applicant { .. }) => {
            return Err(ServiceError::Forbidden(
                "a change or cancellation is applied for with the certificate registered to the participant".into(),
            ));
        }
        (_, Requester::Registered(c)) => {
            let p = &c.participant;
            if p.kind != ParticipantKind::ConnectedUser {
                return Err(ServiceError::Forbidden(
                    "agencies apply to the IT bureau directly (§5-1), not through this form".into(),
                ));
            }
            if p.unified_business_number.as_ref().map(|u| u.as_str()) != Some(form.ubn.as_str()) {
                return Err(ServiceError::InvalidField(format!("{} is registered with another 統一編號", p.code)));
            }
            if p.supervisor.as_ref() != Some(&form.supervisor) {
                return Err(ServiceError::InvalidField(format!(
                    "the supervising agency of {} is {}",
                    p.code,
                    p.supervisor.as_ref().map(|s| s.as_str()).unwrap_or("none")
                )));
            }
            let info = CertInfo::from_pem(c.credential.certificate_pem.as_bytes())
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            (Some(p.code.to_string()), info)
        }
    };
    let open = app
        .store
        .applications(&ApplicationFilter { certificate: Some(cert.fingerprint.clone()), ..Default::default() })
        .await?;
    if let Some(o) = open.iter().find(|a| {
        matches!(
            a.state,
            ApplicationState::Submitted | ApplicationState::CorrectionRequested | ApplicationState::Approved
        )
    }) {
        return Err(ServiceError::WrongState(format!(
            "application {} with this certificate is still open ({})",
            o.id, o.state
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let log = who
        .log(
            LogAction::ApplicationSubmitted,
            format!(
                "application {id} ({}) of {} {} to {}",
                form.kind, form.organisation_name, form.ubn, form.supervisor
            ),
        )
        .counterpart(form.supervisor.to_string());
    let actor = who.participant().unwrap_or("applicant").to_owned();
    app.store.insert_application(&id, &form, participant.as_deref(), &cert, &actor, app.now(), &log).await?;
    let a = app.store.application(&id).await?.ok_or_else(|| ServiceError::Internal("lost application".into()))?;
    tell_both(app, &a, &format!("連線申請 {} 已送出", a.id), &summary(&a, app.now())).await;
    Ok(a)
}

/// What the requester may see: it_bureau all, a supervisor those naming it,
/// an applicant its own.
pub async fn list(
    app: &App,
    who: &Requester,
    state: Option<ApplicationState>,
) -> Result<Vec<Application>, ServiceError> {
    let state = state.map(|s| s.as_str().to_owned());
    let filter = if who.has(Role::ItBureau) {
        ApplicationFilter { state, ..Default::default() }
    } else if who.has(Role::Supervisor) {
        ApplicationFilter { supervisor: who.participant().map(str::to_owned), state, ..Default::default() }
    } else {
        ApplicationFilter {
            certificate: Some(who.fingerprint().to_owned()),
            participant: who.participant().map(str::to_owned),
            state,
            ..Default::default()
        }
    };
    Ok(app.store.applications(&filter).await?)
}

/// The application and its history, if the requester may see it.
pub async fn show(app: &App, who: &Requester, id: &str) -> Result<(Application, Vec<ApplicationEvent>), ServiceError> {
    let a = visible(app, who, id).await?;
    let events = app.store.application_events(id).await?;
    Ok((a, events))
}

async fn visible(app: &App, who: &Requester, id: &str) -> Result<Application, ServiceError> {
    match app.store.application(id).await? {
        Some(a)
            if who.owns(&a)
                || who.has(Role::ItBureau)
                || (who.has(Role::Supervisor) && who.participant() == Some(a.supervisor.as_str())) =>
        {
            Ok(a)
        }
        _ => Err(ServiceError::NotFound(format!("no application {id}"))),
    }
}

/// The applicant amends and resubmits after a correction request.
pub async fn amend(
    app: &Arc<App>,
    who: &Requester,
    id: &str,
    form: &ApplicationForm,
) -> Result<Application, ServiceError> {
    let a = visible(app, who, id).await?;
    if !who.owns(&a) {
        return Err(ServiceError::Forbidden(format!("only the applicant amends application {id}")));
    }
    let form = form.validate().map_err(form_refusal)?;
    if form.kind != a.kind || form.ubn.as_str() != a.unified_business_number {
        return Err(ServiceError::InvalidField("an amendment keeps the kind of application and the 統一編號".into()));
    }
    supervisor_of(app, &form.supervisor).await?;
    application::next_state(a.state, Step::Amend).map_err(|e| ServiceError::WrongState(e.to_string()))?;
    let log = who
        .log(LogAction::ApplicationAmended, format!("application {id} amended and resubmitted"))
        .counterpart(form.supervisor.to_string());
    if !app.store.amend_application(id, &form, app.now(), &log).await? {
        return Err(ServiceError::WrongState(format!("application {id} is not waiting for a correction")));
    }
    let a = app.store.application(id).await?.ok_or_else(|| ServiceError::Internal("lost application".into()))?;
    tell_both(app, &a, &format!("連線申請 {} 已補正送出", a.id), &summary(&a, app.now())).await;
    Ok(a)
}

/// The supervising agency approves, rejects (with reason) or asks for correction (with reason).
pub async fn review(
    app: &Arc<App>,
    who: &Requester,
    id: &str,
    step: Step,
    reason: Option<&str>,
) -> Result<Application, ServiceError> {
    let caller = who.registered()?;
    caller.require(Role::Supervisor)?;
    let a = match app.store.application(id).await? {
        Some(a) => a,
        None => return Err(ServiceError::NotFound(format!("no application {id}"))),
    };
    if a.supervisor != caller.participant.code.as_str() {
        return Err(ServiceError::Forbidden(format!(
            "application {id} is reviewed by {}, not by {}",
            a.supervisor, caller.participant.code
        )));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if matches!(step, Step::Reject | Step::RequestCorrection) && reason.is_none() {
        return Err(ServiceError::InvalidField(format!(
            "a reason is required when an application is {}",
            step.as_str()
        )));
    }
    let to = application::next_state(a.state, step).map_err(|e| ServiceError::WrongState(e.to_string()))?;
    let action = match step {
        Step::Approve => LogAction::ApplicationApproved,
        Step::Reject => LogAction::ApplicationRejected,
        _ => LogAction::ApplicationCorrectionRequested,
    };
    let detail = format!("application {id} {}{}", step.as_str(), reason.map(|r| format!(": {r}")).unwrap_or_default());
    let log = caller.log_entry(action, detail);
    if !app
        .store
        .set_application_state(id, a.state, to, reason, caller.participant.code.as_str(), app.now(), &log)
        .await?
    {
        return Err(ServiceError::WrongState(format!("application {id} changed meanwhile")));
    }
    let a = app.store.application(id).await?.ok_or_else(|| ServiceError::Internal("lost application".into()))?;
    let subject = match step {
        Step::Approve => format!("連線申請 {} 已經審核機關核准，送資訊局開通", a.id),
        Step::Reject => format!("連線申請 {} 未通過審核", a.id),
        _ => format!("連線申請 {} 請補正", a.id),
    };
    tell_both(app, &a, &subject, &summary(&a, app.now())).await;
    Ok(a)
}

/// The IT bureau applies an approved application.
pub async fn activate(app: &Arc<App>, who: &Requester, id: &str) -> Result<Application, ServiceError> {
    let caller = who.registered()?;
    caller.require(Role::ItBureau)?;
    let a = app.store.application(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no application {id}")))?;
    application::next_state(a.state, Step::Activate).map_err(|e| ServiceError::WrongState(e.to_string()))?;
    let code = match (&a.kind, &a.participant) {
        (ApplicationKind::New, _) => {
            let ubn = crate::domain::UnifiedBusinessNumber::parse(&a.unified_business_number)?;
            application::connected_user_code(&ubn).to_string()
        }
        (_, Some(p)) => p.clone(),
        (_, None) => return Err(ServiceError::Internal(format!("application {id} names no participant"))),
    };
    let cert = CertInfo::from_pem(a.certificate_pem.as_bytes()).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let log = caller
        .log_entry(LogAction::ApplicationActivated, format!("application {id} ({}) activated for {code}", a.kind))
        .counterpart(code.clone());
    match app.store.activate_application(&a, &code, &cert, caller.participant.code.as_str(), app.now(), &log).await {
        Ok(true) => {}
        Ok(false) => return Err(ServiceError::WrongState(format!("application {id} changed meanwhile"))),
        Err(StoreError::Conflict(m)) => return Err(ServiceError::WrongState(m)),
        Err(e) => return Err(e.into()),
    }
    let a = app.store.application(id).await?.ok_or_else(|| ServiceError::Internal("lost application".into()))?;
    let subject = match a.kind {
        ApplicationKind::New => format!("連線申請 {} 已開通：交換代碼 {code}", a.id),
        ApplicationKind::Change => format!("連線申請 {} 異動已生效", a.id),
        ApplicationKind::Cancel => format!("連線申請 {} 已註銷 {code}", a.id),
    };
    tell_both(app, &a, &subject, &summary(&a, app.now())).await;
    Ok(a)
}

//! Connected-user applications, their history, their activation (one
//! transaction creating or changing the participant, its credential and
//! allowlist), and notifications.

use chrono::{DateTime, NaiveDate, Utc};

use super::credentials::insert_credential;
use super::log::append_log;
use super::participants::{insert_allowlist_entry, insert_participant, set_participant_status, update_participant};
use super::{
    BeginWrite, NewCredential, NewParticipant, ParticipantUpdate, Result, Store, StoreError, stored_time, with_pool,
};
use crate::domain::application::{ApplicationKind, ApplicationState, ValidForm};
use crate::domain::log::NewLogEntry;
use crate::domain::{
    Capabilities, IpRange, ParticipantCode, ParticipantKind, ParticipantStatus, Roles, UnifiedBusinessNumber,
};
use crate::pki::CertInfo;

/// An application as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Application {
    pub id: String,
    pub kind: ApplicationKind,
    pub state: ApplicationState,
    /// The participant it concerns: the applicant's for a change or
    /// cancellation; the one created when a new one is activated.
    pub participant: Option<String>,
    pub capabilities: Capabilities,
    pub organisation_name: String,
    pub unified_business_number: String,
    pub card_number: String,
    pub card_activation_date: NaiveDate,
    pub fixed_ips: Vec<String>,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_fax: String,
    pub contact_email: String,
    pub supervisor: String,
    pub terms_accepted_at: DateTime<Utc>,
    /// SHA-256 of the certificate the application was made with.
    pub certificate_fingerprint: String,
    #[serde(skip)]
    pub certificate_pem: String,
    /// The reason given by the supervising agency for a rejection or a correction request.
    pub reason: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step in an application's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApplicationEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// Who: a participant code, or "applicant".
    pub actor: String,
    pub action: String,
    pub reason: Option<String>,
}

/// A notification to a participant, or to an applicant known only by its certificate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub application_id: Option<String>,
    pub subject: String,
    pub body: String,
    pub email_to: Option<String>,
    pub emailed_at: Option<DateTime<Utc>>,
    pub email_error: Option<String>,
}

/// Whom a notification goes to.
#[derive(Debug, Clone)]
pub struct NotificationTo {
    pub participant: Option<String>,
    pub certificate: Option<String>,
    pub email: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ApplicationRow {
    id: String,
    kind: String,
    state: String,
    participant_code: Option<String>,
    can_receive: bool,
    can_send: bool,
    organisation_name: String,
    ubn: String,
    card_number: String,
    card_activation_date: String,
    fixed_ips: String,
    contact_name: String,
    contact_phone: String,
    contact_fax: String,
    contact_email: String,
    supervisor_code: String,
    terms_accepted_at: DateTime<Utc>,
    certificate_fingerprint: String,
    certificate_pem: String,
    reason: Option<String>,
    submitted_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;
    fn try_from(r: ApplicationRow) -> Result<Self> {
        Ok(Application {
            id: r.id,
            kind: r.kind.parse()?,
            state: r.state.parse()?,
            participant: r.participant_code,
            capabilities: Capabilities { receive: r.can_receive, send: r.can_send },
            organisation_name: r.organisation_name,
            unified_business_number: r.ubn,
            card_number: r.card_number,
            card_activation_date: r
                .card_activation_date
                .parse()
                .map_err(|_| StoreError::Corrupt("card activation date".into()))?,
            fixed_ips: r.fixed_ips.split_whitespace().map(str::to_owned).collect(),
            contact_name: r.contact_name,
            contact_phone: r.contact_phone,
            contact_fax: r.contact_fax,
            contact_email: r.contact_email,
            supervisor: r.supervisor_code,
            terms_accepted_at: r.terms_accepted_at,
            certificate_fingerprint: r.certificate_fingerprint,
            certificate_pem: r.certificate_pem,
            reason: r.reason,
            submitted_at: r.submitted_at,
            updated_at: r.updated_at,
        })
    }
}

const APPLICATION_COLUMNS: &str = "id, kind, state, participant_code, can_receive, can_send, organisation_name, ubn, \
     card_number, card_activation_date, fixed_ips, contact_name, contact_phone, contact_fax, contact_email, \
     supervisor_code, terms_accepted_at, certificate_fingerprint, certificate_pem, reason, submitted_at, updated_at";

/// Which applications to list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub certificate: Option<String>,
    pub participant: Option<String>,
    pub supervisor: Option<String>,
    pub state: Option<String>,
}

/// Appends an event to application `$id` inside `$tx`.
macro_rules! application_event {
    ($tx:expr, $id:expr, $at:expr, $actor:expr, $action:expr, $reason:expr) => {{
        let (next,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM application_events WHERE application_id = $1")
            .bind($id)
            .fetch_one(&mut **$tx)
            .await?;
        sqlx::query("INSERT INTO application_events (application_id, seq, at, actor, action, reason) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind($id)
            .bind(next)
            .bind($at)
            .bind($actor)
            .bind($action)
            .bind($reason)
            .execute(&mut **$tx)
            .await?;
    }};
}

fn ips(form: &ValidForm) -> String {
    form.fixed_ips.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" ")
}

/// Binds the form's columns, `can_receive` to `supervisor_code`, in table
/// order: the insert and the amendment write the same fields.
macro_rules! bind_form {
    ($q:expr, $form:expr) => {{
        let form: &ValidForm = $form;
        $q.bind(form.capabilities.receive)
            .bind(form.capabilities.send)
            .bind(&form.organisation_name)
            .bind(form.ubn.as_str())
            .bind(&form.card_number)
            .bind(form.card_activation_date.to_string())
            .bind(ips(form))
            .bind(&form.contact_name)
            .bind(&form.contact_phone)
            .bind(&form.contact_fax)
            .bind(&form.contact_email)
            .bind(form.supervisor.as_str())
    }};
}

impl Store {
    pub async fn application(&self, id: &str) -> Result<Option<Application>> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1");
        let row: Option<ApplicationRow> =
            with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?);
        row.map(Application::try_from).transpose()
    }

    pub async fn applications(&self, f: &ApplicationFilter) -> Result<Vec<Application>> {
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE ($1 IS NULL OR certificate_fingerprint = $1 OR participant_code = $2) \
             AND ($2 IS NULL OR participant_code = $2 OR certificate_fingerprint = $1) \
             AND ($3 IS NULL OR supervisor_code = $3) AND ($4 IS NULL OR state = $4) ORDER BY submitted_at, id LIMIT 1000"
        );
        let rows: Vec<ApplicationRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&f.certificate)
                .bind(&f.participant)
                .bind(&f.supervisor)
                .bind(&f.state)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Application::try_from).collect()
    }

    pub async fn application_events(&self, id: &str) -> Result<Vec<ApplicationEvent>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, at, actor, action, reason FROM application_events WHERE application_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Stores a new application with its first event and log entry.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_application(
        &self,
        id: &str,
        form: &ValidForm,
        participant: Option<&str>,
        cert: &CertInfo,
        actor: &str,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<()> {
        let at = stored_time(at);
        let sql = format!(
            "INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES \
             ($1, $2, 'submitted', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, NULL, $16, $16)"
        );
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(form.kind.as_str()).bind(participant);
            bind_form!(q, form).bind(at).bind(&cert.fingerprint).bind(&cert.pem).execute(&mut **tx).await?;
            application_event!(tx, id, at, actor, "submitted", None::<String>);
            append_log!(tx, at, log);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Moves an application from `from` to `to` (with the reason, if any);
    /// false when it was no longer in `from`.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_application_state(
        &self,
        id: &str,
        from: ApplicationState,
        to: ApplicationState,
        reason: Option<&str>,
        actor: &str,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<bool> {
        let at = stored_time(at);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query(
                "UPDATE applications SET state = $3, reason = $4, updated_at = $5 WHERE id = $1 AND state = $2",
            )
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(reason)
            .bind(at)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n > 0 {
                application_event!(tx, id, at, actor, to.as_str(), reason);
                append_log!(tx, at, log);
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Replaces the form of an application waiting for correction and
    /// resubmits it; false when it was not waiting for correction.
    pub async fn amend_application(
        &self,
        id: &str,
        form: &ValidForm,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<bool> {
        let at = stored_time(at);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let q = sqlx::query(
                "UPDATE applications SET state = 'submitted', reason = NULL, can_receive = $2, can_send = $3, \
                 organisation_name = $4, ubn = $5, card_number = $6, card_activation_date = $7, fixed_ips = $8, \
                 contact_name = $9, contact_phone = $10, contact_fax = $11, contact_email = $12, supervisor_code = $13, \
                 updated_at = $14 WHERE id = $1 AND state = 'correction_requested'",
            )
            .bind(id);
            let n = bind_form!(q, form).bind(at).execute(&mut **tx).await?.rows_affected();
            if n > 0 {
                application_event!(tx, id, at, "applicant", "amended", None::<String>);
                append_log!(tx, at, log);
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Applies an approved application in one transaction: creates the
    /// participant with its credential and allowlist (new), changes them
    /// (change), or terminates it and disables its credentials (cancel).
    pub async fn activate_application(
        &self,
        a: &Application,
        code: &str,
        cert: &CertInfo,
        actor: &str,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<bool> {
        let at = stored_time(at);
        let ranges: Vec<IpRange> =
            a.fixed_ips.iter().map(|ip| IpRange::parse(ip)).collect::<std::result::Result<_, _>>()?;
        let mut roles = Vec::new();
        if a.capabilities.send {
            roles.push(crate::domain::Role::Sender);
        }
        if a.capabilities.receive {
            roles.push(crate::domain::Role::Receiver);
        }
        let roles = Roles::new(roles);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query("UPDATE applications SET state = 'activated', participant_code = $2, reason = NULL, updated_at = $3 WHERE id = $1 AND state = 'approved'")
                .bind(&a.id)
                .bind(code)
                .bind(at)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.commit().await?;
                return Ok(false);
            }
            match a.kind {
                ApplicationKind::New => {
                    let p = NewParticipant {
                        code: ParticipantCode::parse(code)?,
                        kind: ParticipantKind::ConnectedUser,
                        name: a.organisation_name.clone(),
                        unified_business_number: Some(UnifiedBusinessNumber::parse(&a.unified_business_number)?),
                        status: ParticipantStatus::Active,
                        capabilities: a.capabilities,
                        supervisor: Some(ParticipantCode::parse(&a.supervisor)?),
                        email: Some(a.contact_email.clone()),
                    };
                    insert_participant!(tx, at, &p);
                }
                ApplicationKind::Change => {
                    let u = ParticipantUpdate {
                        name: Some(a.organisation_name.clone()),
                        capabilities: Some(a.capabilities),
                        email: Some(a.contact_email.clone()),
                        ..Default::default()
                    };
                    update_participant!(tx, at, code, &u, format!("{code} changed by application {}", a.id));
                }
                ApplicationKind::Cancel => {
                    let reason = format!("cancelled by application {}", a.id);
                    set_participant_status!(tx, at, code, ParticipantStatus::Terminated, Some(reason.as_str()));
                    sqlx::query("UPDATE credentials SET disabled_at = $2, disabled_reason = 'participant cancelled' WHERE participant_code = $1 AND disabled_at IS NULL")
                        .bind(code)
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            if a.kind != ApplicationKind::Cancel {
                // The allowlist becomes exactly the fixed IPs of the form.
                sqlx::query("DELETE FROM allowlist WHERE participant_code = $1").bind(code).execute(&mut **tx).await?;
                let note = format!("application {}", a.id);
                for r in &ranges {
                    insert_allowlist_entry!(tx, at, code, r, Some(note.as_str()))?;
                }
                // The card the application was made with (kept if it is registered
                // already); its roles follow the capabilities.
                let card = NewCredential {
                    participant: ParticipantCode::parse(code)?,
                    cert: cert.clone(),
                    card_number: Some(a.card_number.clone()),
                    holder: a.contact_name.clone(),
                    roles: roles.clone(),
                };
                insert_credential!(tx, at, &card, "ON CONFLICT (fingerprint) DO NOTHING")?;
                sqlx::query("UPDATE credentials SET roles = $2 WHERE participant_code = $1 AND disabled_at IS NULL")
                    .bind(code)
                    .bind(roles.to_storage())
                    .execute(&mut **tx)
                    .await?;
            }
            application_event!(tx, &a.id, at, actor, "activated", None::<String>);
            append_log!(tx, at, log);
            tx.commit().await?;
            self.auth_changed();
            Ok(true)
        })
    }

    pub async fn insert_notification(
        &self,
        to: &NotificationTo,
        application: Option<&str>,
        subject: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        let (id,): (i64,) = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let row = sqlx::query_as(
                "INSERT INTO notifications (participant, certificate, application_id, at, subject, body, email_to) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&to.participant)
            .bind(&to.certificate)
            .bind(application)
            .bind(stored_time(at))
            .bind(subject)
            .bind(body)
            .bind(&to.email)
            .fetch_one(&mut **tx)
            .await?;
            tx.commit().await?;
            row
        });
        Ok(id)
    }

    pub async fn notifications_for(
        &self,
        participant: Option<&str>,
        certificate: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, application_id, subject, body, email_to, emailed_at, email_error FROM notifications \
                 WHERE ((participant IS NOT NULL AND participant = $1) OR (certificate IS NOT NULL AND certificate = $2)) \
                 AND id > $3 ORDER BY id LIMIT $4",
            )
            .bind(participant)
            .bind(certificate)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Records the outcome of e-mailing a notification.
    pub async fn notification_emailed(&self, id: i64, at: DateTime<Utc>, error: Option<&str>) -> Result<()> {
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            sqlx::query("UPDATE notifications SET emailed_at = CASE WHEN $3 IS NULL THEN $2 ELSE NULL END, email_error = $3 WHERE id = $1")
                .bind(id)
                .bind(stored_time(at))
                .bind(error)
                .execute(&mut **tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

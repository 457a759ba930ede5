//! Notifications (DESIGN §7): a record readable over the API for every
//! step of an application, for the supervising agency and the applicant,
//! and an e-mail when `[smtp]` is configured. Mail goes out after the
//! record is stored; its outcome is recorded on the notification.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::runtime::config::SmtpConfig;
use crate::service::app::App;
use crate::store::NotificationTo;

/// Stores a notification for each of `to` and e-mails those with an address.
pub async fn notify(
    app: &std::sync::Arc<App>,
    to: &[NotificationTo],
    application: Option<&str>,
    subject: &str,
    body: &str,
) {
    for recipient in to {
        let id = match app.store.insert_notification(recipient, application, subject, body, app.now()).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(%e, "cannot store a notification");
                continue;
            }
        };
        if let (Some(smtp), Some(address)) = (&app.config.smtp, &recipient.email) {
            let (app, smtp, address) = (app.clone(), smtp.clone(), address.clone());
            let (subject, body) = (subject.to_owned(), body.to_owned());
            tokio::spawn(async move {
                let outcome = send(&smtp, &address, &subject, &body).await;
                if let Err(e) = &outcome {
                    tracing::warn!(%e, to = %address, "notification e-mail failed");
                }
                let error = outcome.err().map(|e| e.to_string());
                if let Err(e) = app.store.notification_emailed(id, app.now(), error.as_deref()).await {
                    tracing::error!(%e, "cannot record the e-mail outcome");
                }
            });
        }
    }
}

async fn send(smtp: &SmtpConfig, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
    let message = Message::builder()
        .from(smtp.from.parse()?)
        .to(to.parse()?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())?;
    let mut transport = if smtp.starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
    }
    .port(smtp.port);
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    transport.build().send(message).await?;
    Ok(())
}

//! What the other nodes of the hub did, applied on this one (DESIGN §11):
//! new deliveries wake this node's long-polls of their recipients, and a
//! changed block list, calendar or trust store is read again at once (the
//! periodic refreshes stay, for an event lost with a connection), and
//! authentications kept in memory are read again after any change to
//! what they read (or a lost connection). On
//! PostgreSQL through `LISTEN/NOTIFY`; SQLite is one node.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::app::App;
use crate::store::events::{AUTH, BLOCKS, CALENDAR, Event, Events, TRUST};

/// Listens to the events of every node (PostgreSQL); the task that
/// applies them here until shutdown, to be spawned. Listening starts
/// before this returns, so a node that serves after it misses nothing.
pub async fn listen(
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Option<impl std::future::Future<Output = ()> + Send + 'static>> {
    use anyhow::Context;
    let events = app.store.listen().await.context("listen to the other nodes")?;
    Ok(events.map(|events| forward(app, events, shutdown)))
}

async fn forward(app: Arc<App>, mut events: Events, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            e = events.next() => match e {
                Ok(Event::Inbox(codes)) => {
                    for c in codes {
                        let _ = app.inbox_events.send(c);
                    }
                }
                Ok(Event::Changed(what)) => apply(&app, &what).await,
                Ok(Event::Lost) => {
                    tracing::warn!("the connection that hears the other nodes was lost; listening again");
                    app.store.auth_changed();
                }
                Err(e) => {
                    app.store.auth_changed();
                    tracing::warn!(%e, "the events of the other nodes are not heard; listening again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn apply(app: &App, what: &str) {
    let done = match what {
        BLOCKS => app.guard.reload(&app.store).await.map_err(|e| e.to_string()),
        AUTH => {
            app.store.auth_changed();
            Ok(())
        }
        CALENDAR => app.reload_calendar().await.map(|_| ()).map_err(|e| e.to_string()),
        TRUST => app
            .tls
            .reload()
            .map(|_| crate::service::trust::publish(&crate::service::trust::current(app), app.now()))
            .map_err(|e| e.to_string()),
        other => Err(format!("unknown change {other:?}")),
    };
    if let Err(e) = done {
        tracing::error!(%e, what, "cannot apply a change made on another node");
    }
}

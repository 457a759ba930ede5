//! 交換紀錄 (DESIGN §9, §8 查詢及列印): who reads which part of the exchange
//! log. A participant sees the entries that concern it; the IT bureau,
//! 政風處 and 研考會 see all.

use futures_util::Stream;

use crate::domain::Role;
use crate::domain::log::{LogAction, LogEntry};
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::Result;
use crate::store::{LogFilter, Store};

/// Whether the caller sees every participant's entries.
pub fn sees_all(caller: &Caller) -> bool {
    [Role::ItBureau, Role::Ethics, Role::Rdec].into_iter().any(|r| caller.has(r))
}

/// The selection the caller may make: about `participant` (ignored for a
/// caller who sees only its own), with one of `actions` (comma-separated
/// action names; all when empty), about `document`.
pub fn filter(
    caller: &Caller,
    participant: Option<&str>,
    actions: Option<&str>,
    document: Option<&str>,
) -> Result<LogFilter> {
    let participant =
        if sees_all(caller) { participant.map(str::to_owned) } else { Some(caller.participant.code.to_string()) };
    let actions: Vec<String> = match actions {
        Some(a) => a
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<LogAction>().map(|a| a.as_str().to_owned()))
            .collect::<std::result::Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(LogFilter { participant, actions, document: document.map(str::to_owned), ..Default::default() })
}

/// The entries of a selection made by [`filter`] (or the security view's).
pub async fn entries(app: &App, filter: &LogFilter) -> Result<Vec<LogEntry>> {
    Ok(app.store.log_entries(filter).await?)
}

/// Entries per batch of an export: about 400 KB of CSV.
const BATCH: i64 = 2000;

/// The whole selection, [`BATCH`] entries at a time, for an export that
/// never holds it all in memory.
pub fn batches(app: &App, filter: LogFilter) -> impl Stream<Item = Result<Vec<LogEntry>>> + Send + 'static {
    futures_util::stream::unfold(
        (Some(filter), app.store.clone()),
        |(state, store): (Option<LogFilter>, Store)| async move {
            let mut f = state?;
            f.limit = BATCH;
            match store.log_entries(&f).await {
                Ok(batch) => {
                    let more = batch.len() as i64 == f.limit;
                    f.after_seq = batch.last().map(|e| e.seq).or(f.after_seq);
                    Some((Ok(batch), (more.then_some(f), store)))
                }
                Err(e) => Some((Err(e.into()), (None, store))),
            }
        },
    )
}

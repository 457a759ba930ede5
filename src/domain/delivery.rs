//! A delivery: one document to one recipient, and the rules of its life
//! (DESIGN §4): delivered → fetched → confirmed or returned.

use chrono::{DateTime, Utc};

use super::participant::named_enum;

named_enum!(
    /// Where a delivery stands.
    DeliveryState, "delivery state" {
        /// In the recipient's inbox, not yet downloaded.
        Delivered = "delivered",
        /// Downloaded at least once.
        Fetched = "fetched",
        /// 確認: the recipient has received it.
        Confirmed = "confirmed",
        /// 退文: sent back with a reason (§13-5).
        Returned = "returned",
    }
);

impl DeliveryState {
    /// The state as clerks read it.
    pub fn zh(self) -> &'static str {
        match self {
            DeliveryState::Delivered => "未讀取",
            DeliveryState::Fetched => "已讀取未確認",
            DeliveryState::Confirmed => "已確認",
            DeliveryState::Returned => "已退文",
        }
    }

    /// Not yet confirmed or returned: the recipient must still act.
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryState::Delivered | DeliveryState::Fetched)
    }
}

/// What a recipient does with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Fetch,
    Confirm,
    Return,
}

/// Why an action is not possible now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the document has not been downloaded yet: fetch the package before confirming it")]
    NotFetched,
    #[error("the delivery was returned; it cannot be confirmed")]
    AlreadyReturned,
    #[error("the delivery was already confirmed; a confirmed document is returned on paper with the reason (§13-5)")]
    AlreadyConfirmed,
}

/// The state after `action`, or why it is refused. Fetching never changes a
/// final state; confirming twice is harmless (the first time counts).
pub fn transition(from: DeliveryState, action: Action) -> Result<DeliveryState, TransitionError> {
    use Action::*;
    use DeliveryState::*;
    match (from, action) {
        (Delivered, Fetch) => Ok(Fetched),
        (s, Fetch) => Ok(s),
        (Delivered, Confirm) => Err(TransitionError::NotFetched),
        (Fetched | Confirmed, Confirm) => Ok(Confirmed),
        (Returned, Confirm) => Err(TransitionError::AlreadyReturned),
        (Delivered | Fetched, Return) => Ok(Returned),
        (Confirmed, Return) => Err(TransitionError::AlreadyConfirmed),
        (Returned, Return) => Err(TransitionError::AlreadyReturned),
    }
}

/// Whether the sender may record a paper resend (§12-2): the recipient has
/// not confirmed, or returned the document.
pub fn paper_resend_allowed(state: DeliveryState) -> bool {
    state != DeliveryState::Confirmed
}

/// Whether a delivery is past the deadline its recipient had (§13-2): not
/// confirmed or returned by the receiver deadline, or by the
/// immediate-confirmation one (§10).
pub fn is_overdue(
    state: DeliveryState,
    receiver_deadline: Option<DateTime<Utc>>,
    immediate_deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    state.is_open() && [receiver_deadline, immediate_deadline].into_iter().flatten().any(|t| t <= now)
}

/// A return reason (退文原因): required, printable, bounded.
pub fn check_reason(reason: &str) -> Result<String, super::Invalid> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(super::Invalid::new("reason", "a return needs its reason (退文應敘明原因, §13-5)"));
    }
    if r.chars().count() > 1000 || r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(super::Invalid::new("reason", "at most 1000 printable characters"));
    }
    Ok(r.to_owned())
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::DeliveryState::*;
    use super::*;

    #[test]
    fn lifecycle() {
        assert_eq!(transition(Delivered, Fetch), Ok(Fetched));
        assert_eq!(transition(Confirmed, Fetch), Ok(Confirmed));
        assert_eq!(transition(Delivered, Confirm), Err(TransitionError::NotFetched));
        assert_eq!(transition(Fetched, Confirm), Ok(Confirmed));
        assert_eq!(transition(Confirmed, Confirm), Ok(Confirmed));
        assert_eq!(transition(Returned, Confirm), Err(TransitionError::AlreadyReturned));
        assert_eq!(transition(Delivered, Return), Ok(Returned));
        assert_eq!(transition(Confirmed, Return), Err(TransitionError::AlreadyConfirmed));
        assert!(paper_resend_allowed(Returned) && paper_resend_allowed(Fetched) && !paper_resend_allowed(Confirmed));
        assert!(check_reason("  ").is_err());
        assert_eq!(check_reason(" 非本機關業務 ").unwrap(), "非本機關業務");
    }
}

//! 機關 and 連線用戶: the participants of the exchange.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{Invalid, UnifiedBusinessNumber};

/// A participant's exchange code: the 10-character agency code (機關代碼,
/// e.g. `379130000C`) or the code the IT bureau gives a connected user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^[0-9A-Z]{10}$", example = "379130000C")]
pub struct ParticipantCode(String);

impl ParticipantCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.len() != 10 || !s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            return Err(Invalid::new(
                "participant code",
                format!("'{s}' must be 10 characters of digits and capital letters"),
            ));
        }
        Ok(ParticipantCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ParticipantCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParticipantCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ParticipantCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Declares a string-backed enum, stored, sent and documented by the text
/// of each variant (the OpenAPI schema is written here, not derived, so
/// that it lists exactly the strings the API sends).
macro_rules! named_enum {
    ($(#[doc = $doc:literal])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::Invalid;
            fn from_str(s: &str) -> Result<Self, $crate::domain::Invalid> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::Invalid::new($what, format!("unknown value '{s}'"))),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::Invalid;
            fn try_from(s: String) -> Result<Self, $crate::domain::Invalid> {
                s.parse()
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")))
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use named_enum;

named_enum!(
    /// Whether a participant is a government agency or a registered organisation.
    ParticipantKind, "participant kind" {
        /// 機關
        Agency = "agency",
        /// 連線用戶
        ConnectedUser = "connected_user",
    }
);

named_enum!(
    /// Lifecycle of a participant. Only `active` participants may act.
    ParticipantStatus, "participant status" {
        Pending = "pending",
        Active = "active",
        /// 暫停: reversible (§15).
        Suspended = "suspended",
        /// 終止: final.
        Terminated = "terminated",
    }
);

impl ParticipantStatus {
    /// The status as people read it.
    pub fn zh(self) -> &'static str {
        match self {
            ParticipantStatus::Pending => "待開通",
            ParticipantStatus::Active => "使用中",
            ParticipantStatus::Suspended => "暫停使用",
            ParticipantStatus::Terminated => "已終止",
        }
    }
}

impl ParticipantKind {
    pub fn zh(self) -> &'static str {
        match self {
            ParticipantKind::Agency => "機關",
            ParticipantKind::ConnectedUser => "連線用戶",
        }
    }
}

/// A change of the public roster (§5-4) as people say it.
pub fn roster_change_zh(change: &str) -> &str {
    match change {
        "registered" => "登錄",
        "changed" => "異動",
        "suspended" => "暫停使用",
        "reinstated" => "恢復使用",
        "activated" => "開通",
        "terminated" => "終止",
        other => other,
    }
}

/// What a participant may do with documents: receive (收文功能), send (發文功能).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Capabilities {
    pub receive: bool,
    pub send: bool,
}

/// A participant as the hub knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Participant {
    pub code: ParticipantCode,
    pub kind: ParticipantKind,
    /// 全銜: the full official name.
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub status: ParticipantStatus,
    /// Why the status was last changed (suspension reason and the like).
    pub status_reason: Option<String>,
    pub capabilities: Capabilities,
    /// 審核機關 of a connected user.
    pub supervisor: Option<ParticipantCode>,
    /// Where notifications are e-mailed, if anywhere.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A participant's full name, checked: not blank, no control characters, bounded.
pub fn check_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Invalid::new("name", "must be 1 to 200 printable characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(ParticipantCode::parse("379130000C").is_ok());
        assert!(ParticipantCode::parse("379130000c").is_err());
        assert!(ParticipantCode::parse("37913000C").is_err());
        assert!(ParticipantCode::parse("379130000C/").is_err());
    }

    #[test]
    fn enums_round_trip() {
        for s in ["pending", "active", "suspended", "terminated"] {
            assert_eq!(s.parse::<ParticipantStatus>().unwrap().as_str(), s);
        }
        assert!("gone".parse::<ParticipantStatus>().is_err());
        assert_eq!("connected_user".parse::<ParticipantKind>().unwrap(), ParticipantKind::ConnectedUser);
    }
}

/// An e-mail address, checked for shape only: one `@`, no spaces, bounded.
pub fn check_email(email: &str) -> Result<String, Invalid> {
    let e = email.trim();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && e.matches('@').count() == 1
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(Invalid::new("e-mail", format!("'{e}' is not an e-mail address")));
    }
    Ok(e.to_owned())
}

/// The status changes the IT bureau can make (§15): suspend an active
/// participant, reinstate a suspended one, terminate any not yet terminated,
/// activate a pending one.
pub fn status_change_allowed(from: ParticipantStatus, to: ParticipantStatus) -> bool {
    use ParticipantStatus::*;
    matches!(
        (from, to),
        (Active, Suspended) | (Suspended, Active) | (Pending, Active) | (Pending | Active | Suspended, Terminated)
    )
}

#[cfg(test)]
mod status_tests {
    use super::ParticipantStatus::*;
    use super::*;

    #[test]
    fn terminated_is_final_and_suspension_reversible() {
        assert!(status_change_allowed(Active, Suspended));
        assert!(status_change_allowed(Suspended, Active));
        assert!(!status_change_allowed(Terminated, Active));
        assert!(!status_change_allowed(Terminated, Terminated));
        assert!(!status_change_allowed(Pending, Suspended));
    }
}

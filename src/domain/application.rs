//! 連線用戶申請: a connected user's application (form 附件一, §5) and the
//! rules of its review: the supervising agency (審核機關) approves, rejects
//! or asks for correction; the IT bureau (資訊局) activates.

use chrono::NaiveDate;

use super::participant::{check_email, check_name, named_enum};
use super::{Capabilities, Invalid, IpRange, ParticipantCode, UnifiedBusinessNumber};

named_enum!(
    /// 申請項目: join (with 收文/發文 functions), change (異動), cancel (註銷).
    ApplicationKind, "application kind" {
        New = "new",
        Change = "change",
        Cancel = "cancel",
    }
);

named_enum!(
    /// Where an application stands.
    ApplicationState, "application state" {
        /// With the supervising agency.
        Submitted = "submitted",
        /// Sent back to the applicant to amend (補正).
        CorrectionRequested = "correction_requested",
        /// Approved by the supervising agency; with the IT bureau.
        Approved = "approved",
        Rejected = "rejected",
        /// Applied by the IT bureau: done.
        Activated = "activated",
    }
);

impl ApplicationKind {
    /// 申請項目 as the form names it.
    pub fn zh(self) -> &'static str {
        match self {
            ApplicationKind::New => "申請使用",
            ApplicationKind::Change => "異動",
            ApplicationKind::Cancel => "註銷",
        }
    }
}

impl ApplicationState {
    pub fn zh(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "待審核",
            ApplicationState::CorrectionRequested => "退回補正",
            ApplicationState::Approved => "已核准，待資訊局開通",
            ApplicationState::Rejected => "已駁回",
            ApplicationState::Activated => "已開通",
        }
    }
}

/// What someone does to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Approve,
    Reject,
    RequestCorrection,
    Amend,
    Activate,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Approve => "approved",
            Step::Reject => "rejected",
            Step::RequestCorrection => "correction requested",
            Step::Amend => "amended and resubmitted",
            Step::Activate => "activated",
        }
    }
}

/// The state after `step`, or why not.
pub fn next_state(from: ApplicationState, step: Step) -> Result<ApplicationState, Invalid> {
    use ApplicationState::*;
    match (from, step) {
        (Submitted, Step::Approve) => Ok(Approved),
        (Submitted, Step::Reject) => Ok(Rejected),
        (Submitted, Step::RequestCorrection) => Ok(CorrectionRequested),
        (CorrectionRequested, Step::Amend) => Ok(Submitted),
        (Approved, Step::Activate) => Ok(Activated),
        (from, step) => {
            Err(Invalid::new("application", format!("an application that is {from} cannot be {}", step.as_str())))
        }
    }
}

/// The application form, as the applicant fills it in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    pub kind: ApplicationKind,
    /// 收文功能 / 發文功能 (for `new` and `change`).
    pub capabilities: Capabilities,
    /// 申請機關（組織、團體）名稱
    pub organisation_name: String,
    /// 統一編號
    pub unified_business_number: String,
    /// XCA 憑證卡號
    pub card_number: String,
    /// 憑證啟用日期 (YYYY-MM-DD)
    pub card_activation_date: NaiveDate,
    /// 固定 IP 位址: the addresses it connects from (required).
    pub fixed_ips: Vec<String>,
    pub contact_name: String,
    pub contact_phone: String,
    #[serde(default)]
    pub contact_fax: String,
    pub contact_email: String,
    /// 審核機關: the agency code of its supervising agency.
    pub supervisor: String,
    /// 已閱讀及同意「臺北市政府公文電子交換中心管理規範」
    pub terms_accepted: bool,
}

/// A form that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidForm {
    pub kind: ApplicationKind,
    pub capabilities: Capabilities,
    pub organisation_name: String,
    pub ubn: UnifiedBusinessNumber,
    pub card_number: String,
    pub card_activation_date: NaiveDate,
    pub fixed_ips: Vec<IpRange>,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_fax: String,
    pub contact_email: String,
    pub supervisor: ParticipantCode,
}

/// Why a form is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the terms of use (管理規範同意書) must be accepted")]
    TermsNotAccepted,
    #[error("{0}")]
    Invalid(Invalid),
}

impl From<Invalid> for FormError {
    fn from(e: Invalid) -> Self {
        FormError::Invalid(e)
    }
}

fn required(what: &'static str, s: &str, max: usize) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(Invalid::new(what, format!("required, at most {max} printable characters")));
    }
    Ok(s.to_owned())
}

impl ApplicationForm {
    pub fn validate(&self) -> Result<ValidForm, FormError> {
        if !self.terms_accepted {
            return Err(FormError::TermsNotAccepted);
        }
        if self.kind != ApplicationKind::Cancel && !self.capabilities.receive && !self.capabilities.send {
            return Err(Invalid::new("申請項目", "ask for 收文功能, 發文功能 or both").into());
        }
        let fixed_ips = self.fixed_ips.iter().map(|ip| IpRange::parse(ip)).collect::<Result<Vec<_>, _>>()?;
        if fixed_ips.is_empty() && self.kind != ApplicationKind::Cancel {
            return Err(Invalid::new(
                "固定 IP 位址",
                "at least one fixed address; without one the exchange cannot be used",
            )
            .into());
        }
        let phone = required("聯絡電話", &self.contact_phone, 40)?;
        if !phone.chars().all(|c| c.is_ascii_digit() || "+-#() ".contains(c)) {
            return Err(Invalid::new("聯絡電話", format!("'{phone}' is not a telephone number")).into());
        }
        Ok(ValidForm {
            kind: self.kind,
            capabilities: self.capabilities,
            organisation_name: check_name(&self.organisation_name)?,
            ubn: UnifiedBusinessNumber::parse(&self.unified_business_number)?,
            card_number: required("XCA 憑證卡號", &self.card_number, 40)?,
            card_activation_date: self.card_activation_date,
            fixed_ips,
            contact_name: required("聯絡人姓名", &self.contact_name, 100)?,
            contact_phone: phone,
            contact_fax: self.contact_fax.trim().to_owned(),
            contact_email: check_email(&self.contact_email)?,
            supervisor: ParticipantCode::parse(&self.supervisor)?,
        })
    }
}

/// The exchange code a new connected user gets: `CU` and its 統一編號.
pub fn connected_user_code(ubn: &UnifiedBusinessNumber) -> ParticipantCode {
    ParticipantCode::parse(&format!("CU{ubn}")).expect("CU + 8 digits is a valid code")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ApplicationForm {
        ApplicationForm {
            kind: ApplicationKind::New,
            capabilities: Capabilities { receive: true, send: false },
            organisation_name: "社團法人臺北市新申請協會".into(),
            unified_business_number: "10450010".into(),
            card_number: "XCA1234567890".into(),
            card_activation_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            fixed_ips: vec!["203.0.113.7".into()],
            contact_name: "何申請".into(),
            contact_phone: "02-2720-8889#12".into(),
            contact_fax: String::new(),
            contact_email: "apply@example.org.tw".into(),
            supervisor: "379030000W".into(),
            terms_accepted: true,
        }
    }

    #[test]
    fn a_complete_form_validates() {
        let v = form().validate().unwrap();
        assert_eq!(v.ubn.as_str(), "10450010");
        assert_eq!(connected_user_code(&v.ubn).as_str(), "CU10450010");
    }

    #[test]
    fn refusals() {
        let bad = |f: &dyn Fn(&mut ApplicationForm)| {
            let mut x = form();
            f(&mut x);
            x.validate().unwrap_err().to_string()
        };
        assert!(bad(&|f| f.terms_accepted = false).contains("terms"));
        assert!(bad(&|f| f.unified_business_number = "10450011".into()).contains("check-digit"));
        assert!(bad(&|f| f.fixed_ips = vec![]).contains("固定 IP"));
        assert!(bad(&|f| f.fixed_ips = vec!["nowhere".into()]).contains("IP"));
        assert!(bad(&|f| f.capabilities = Capabilities { receive: false, send: false }).contains("收文"));
        assert!(bad(&|f| f.contact_email = "nobody".into()).contains("e-mail"));
        assert!(bad(&|f| f.contact_phone = "call me".into()).contains("telephone"));
    }

    #[test]
    fn review_flow() {
        use ApplicationState::*;
        assert_eq!(next_state(Submitted, Step::RequestCorrection), Ok(CorrectionRequested));
        assert_eq!(next_state(CorrectionRequested, Step::Amend), Ok(Submitted));
        assert_eq!(next_state(Submitted, Step::Approve), Ok(Approved));
        assert_eq!(next_state(Approved, Step::Activate), Ok(Activated));
        assert!(next_state(Submitted, Step::Activate).is_err());
        assert!(next_state(Rejected, Step::Approve).is_err());
        assert!(next_state(Submitted, Step::Amend).is_err());
    }
}

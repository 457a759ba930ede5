//! 統一編號: the 8-digit unified business number of an organisation.

use super::Invalid;
use std::fmt;

/// A unified business number whose check digit is valid.
///
/// The Ministry of Finance rule: multiply the digits by 1,2,1,2,1,2,4,1, add
/// the digits of each product; the sum must be divisible by 5 (the rule since
/// 2023; numbers issued earlier are divisible by 10 and still pass). When the
/// seventh digit is 7, its product 28 may count as 10 or 1 (the "+1" rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct UnifiedBusinessNumber(String);

impl UnifiedBusinessNumber {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("統一編號", format!("'{s}' must be exactly 8 digits")));
        }
        if !checksum_ok(s.as_bytes()) {
            return Err(Invalid::new("統一編號", format!("'{s}' fails the check-digit rule")));
        }
        Ok(UnifiedBusinessNumber(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn checksum_ok(digits: &[u8]) -> bool {
    const WEIGHTS: [u32; 8] = [1, 2, 1, 2, 1, 2, 4, 1];
    let mut sum = 0;
    for (d, w) in digits.iter().zip(WEIGHTS) {
        let p = u32::from(d - b'0') * w;
        sum += p / 10 + p % 10;
    }
    sum % 5 == 0 || (digits[6] == b'7' && (sum + 1) % 5 == 0)
}

impl fmt::Display for UnifiedBusinessNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for UnifiedBusinessNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_numbers() {
        // Published numbers of well-known organisations.
        for n in ["04595257", "22099131", "10458575", "03244509"] {
            assert!(UnifiedBusinessNumber::parse(n).is_ok(), "{n}");
        }
        // Seventh digit 7, valid only through the +1 rule.
        assert!(UnifiedBusinessNumber::parse("12345670").is_ok());
    }

    #[test]
    fn refuses_bad_numbers() {
        assert!(UnifiedBusinessNumber::parse("04595258").is_err());
        assert!(UnifiedBusinessNumber::parse("1234567").is_err());
        assert!(UnifiedBusinessNumber::parse("1234567a").is_err());
        let e = UnifiedBusinessNumber::parse("12345678").unwrap_err();
        assert!(e.to_string().contains("check-digit"), "{e}");
    }
}

//! Value objects: parse, don't validate. A value of one of these types is valid
//! by construction, so code past the edge never re-checks it.

use crate::validate::Invalid;
use chrono::NaiveDate;
use std::fmt;

/// Counts characters (not bytes) after trimming, and rejects control characters,
/// which have no place in names and titles and can smuggle terminal escapes into logs.
fn bounded_text(raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(Invalid::new(if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min} characters")
        }));
    }
    if n > max {
        return Err(Invalid::new(format!("must be at most {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Invalid::new("must not contain control characters"));
    }
    Ok(s.to_owned())
}

macro_rules! text_value {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                bounded_text(raw, $min, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_value!(
    /// A tenant's display name.
    TenantName, 1, 100
);
text_value!(
    /// A user's display name.
    DisplayName, 1, 100
);
text_value!(ProjectName, 1, 200);
text_value!(TaskTitle, 1, 300);
text_value!(
    /// Free text attached to a project or task.
    Description, 0, 10_000
);
// generate: values

/// An email address, lower-cased so that sign-in is case-insensitive.
///
/// Deliberately permissive (one `@`, a dotted domain, no spaces): the only real
/// validation of an address is a message that arrives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_lowercase();
        let bad = || Invalid::new("must be a valid email address");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(bad());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's URL-safe handle: 3–63 lower-case letters, digits and inner hyphens
/// (a DNS label, so it can become a subdomain later).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        let n = s.len();
        if !(3..=63).contains(&n) {
            return Err(Invalid::new("must be 3 to 63 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Invalid::new(
                "may contain only lower-case letters, digits and hyphens",
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(Invalid::new("must not start or end with a hyphen"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: 10 to 128 characters, no composition rules (NIST SP 800-63B).
/// Not `Display`, and its `Debug` is redacted, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(Invalid::new(format!(
                "must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Task priority, 0 (none) to 4 (urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Priority(i16);

impl Priority {
    pub const MIN: i16 = 0;
    pub const MAX: i16 = 4;

    pub fn parse(raw: i32) -> Result<Self, Invalid> {
        if (i32::from(Self::MIN)..=i32::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as i16))
        } else {
            Err(Invalid::new(format!(
                "must be between {} and {}",
                Self::MIN,
                Self::MAX
            )))
        }
    }
    pub fn value(self) -> i16 {
        self.0
    }
}

/// A task's due date: a calendar date within a sane window, so a typo such as
/// year 20260 is caught instead of stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DueDate(NaiveDate);

impl DueDate {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map_err(|_| Invalid::new("must be a date in the form YYYY-MM-DD"))?;
        Self::new(date)
    }
    pub fn new(date: NaiveDate) -> Result<Self, Invalid> {
        let lo = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let hi = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
        if date < lo || date > hi {
            return Err(Invalid::new("must be between 1970-01-01 and 9999-12-31"));
        }
        Ok(Self(date))
    }
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// A client-chosen key that makes a create safe to retry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key a create was given, if any, reported at `idempotencyKey`.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when the key does not parse.
    pub fn parse_optional(raw: Option<&str>) -> crate::Result<Option<Self>> {
        use crate::validate::AtField;
        Ok(raw.map(Self::parse).transpose().at("idempotencyKey")?)
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.is_empty() || s.len() > 128 || !s.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Invalid::new("must be 1 to 128 printable ASCII characters"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text search term for list filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm(String);

impl SearchTerm {
    /// `None` for a blank term: searching for nothing filters nothing.
    pub fn parse(raw: &str) -> Result<Option<Self>, Invalid> {
        let s = raw.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.chars().count() > 100 {
            return Err(Invalid::new("must be at most 100 characters"));
        }
        Ok(Some(Self(s.to_lowercase())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_trimmed() {
        assert_eq!(
            Email::parse("  Ada@Acme.Test ").unwrap().as_str(),
            "ada@acme.test"
        );
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@acme.test",
            "ada@acme",
            "a da@acme.test",
            "ada@.acme.test",
            "ada@acme..test",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn slug_accepts_dns_labels_only() {
        assert!(TenantSlug::parse("acme-2").is_ok());
        for bad in [
            "ac",
            "Acme",
            "acme_co",
            "-acme",
            "acme-",
            "ac me",
            &"a".repeat(64),
        ] {
            assert!(
                TenantSlug::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn names_count_characters_not_bytes() {
        assert!(TaskTitle::parse(&"é".repeat(300)).is_ok());
        assert!(TaskTitle::parse(&"é".repeat(301)).is_err());
        assert!(TaskTitle::parse("   ").is_err());
        assert!(ProjectName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn description_may_be_empty() {
        assert_eq!(Description::parse("  ").unwrap().as_str(), "");
    }

    #[test]
    fn password_length_is_the_only_rule() {
        assert!(Password::parse("aaaaaaaaaa").is_ok());
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("correct horse").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn priority_range_is_zero_to_four() {
        assert!(Priority::parse(0).is_ok());
        assert!(Priority::parse(4).is_ok());
        assert!(Priority::parse(5).is_err());
        assert!(Priority::parse(-1).is_err());
    }

    #[test]
    fn due_date_needs_iso_format_and_sane_year() {
        assert!(DueDate::parse("2026-12-01").is_ok());
        assert!(DueDate::parse("01/12/2026").is_err());
        assert!(DueDate::parse("1969-12-31").is_err());
    }

    #[test]
    fn blank_search_is_no_search() {
        assert_eq!(SearchTerm::parse("  ").unwrap(), None);
        assert_eq!(
            SearchTerm::parse(" Docs ").unwrap().unwrap().as_str(),
            "docs"
        );
    }
}

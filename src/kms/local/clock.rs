//! The one clock every time-based KMS behaviour reads (deletion windows, rotation periods,
//! audit timestamps). `ANGOU_FAKE_NOW` (RFC 3339) moves it, so tests can cross a 30-day
//! deletion window in milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::KmsError;

/// Environment variable that fixes the KMS clock (RFC 3339, e.g. `2030-01-01T00:00:00Z`).
pub(crate) const FAKE_NOW_VAR: &str = "ANGOU_FAKE_NOW";

/// A source of the current time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (tests, `ANGOU_FAKE_NOW`).
    Fixed(OffsetDateTime),
}

impl Clock {
    /// `Fixed` from `ANGOU_FAKE_NOW` when set, else `System`.
    ///
    /// # Errors
    /// [`KmsError::Validation`] if the variable is set but not RFC 3339.
    pub fn from_env() -> Result<Clock, KmsError> {
        match std::env::var(FAKE_NOW_VAR) {
            Ok(text) => parse_time(&text).map(Clock::Fixed),
            Err(_) => Ok(Clock::System),
        }
    }

    /// The current instant, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// Parses an RFC 3339 timestamp.
///
/// # Errors
/// [`KmsError::Validation`] naming the expected form.
pub fn parse_time(text: &str) -> Result<OffsetDateTime, KmsError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| KmsError::Validation {
        reason: format!("{text:?} is not an RFC 3339 time such as 2030-01-01T00:00:00Z"),
    })
}

/// Formats an instant as RFC 3339 in UTC.
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

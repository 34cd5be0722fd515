//! Budgets of the operations anyone can call or that cost real work (an
//! argon2 hash, a tenant, an email): each a GCRA limiter behind the
//! [`RateLimiter`] port, keyed by whoever spends it, refused with
//! [`Error::RateLimited`] and the wait.

use crate::error::{Error, Result};
use crate::ports::{RateDecision, RateLimiter};

/// One limiter per budget. Construction decides where they live (Redis or
/// in-process) and their quotas.
#[derive(Clone, Copy)]
pub struct Budgets<'a> {
    /// Sign-in attempts per account (the email as typed, registered or not).
    /// Spent only by attempts the client's own budget admitted, so a client
    /// already refused cannot keep someone else's account locked.
    pub sign_in_per_account: &'a dyn RateLimiter,
    /// Sign-in attempts per client address.
    pub sign_in_per_client: &'a dyn RateLimiter,
    /// Sign-ups per client address.
    pub sign_up_per_client: &'a dyn RateLimiter,
    /// Password changes per user.
    pub password_change_per_user: &'a dyn RateLimiter,
    /// Refresh-token exchanges per session.
    pub refresh_per_session: &'a dyn RateLimiter,
    /// Tenants created per user.
    pub tenant_creation_per_user: &'a dyn RateLimiter,
    /// Invitations sent per tenant.
    pub invitations_per_tenant: &'a dyn RateLimiter,
}

impl<'a> Budgets<'a> {
    /// Every budget from one limiter: for tools and tests that do not limit.
    #[must_use]
    pub fn all(limiter: &'a dyn RateLimiter) -> Self {
        Self {
            sign_in_per_account: limiter,
            sign_in_per_client: limiter,
            sign_up_per_client: limiter,
            password_change_per_user: limiter,
            refresh_per_session: limiter,
            tenant_creation_per_user: limiter,
            invitations_per_tenant: limiter,
        }
    }
}

/// Spends one unit of `key`'s budget, or says how long to wait.
///
/// # Errors
/// [`Error::RateLimited`] with the wait in whole seconds (at least 1).
pub async fn spend(limiter: &dyn RateLimiter, key: &str) -> Result<()> {
    match limiter.check(key).await {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after } => Err(limited(retry_after)),
    }
}

/// Spends the budgets in order, stopping at the first refusal: a later
/// budget is charged only when every earlier one admitted the attempt.
///
/// # Errors
/// The first refusal's [`Error::RateLimited`].
pub async fn spend_in_order(budgets: &[(&dyn RateLimiter, &str)]) -> Result<()> {
    for (limiter, key) in budgets {
        spend(*limiter, key).await?;
    }
    Ok(())
}

fn limited(wait: std::time::Duration) -> Error {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Error::RateLimited {
        retry_after_secs: secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use futures::executor::block_on;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Admits the keys it was told to; records every key it was asked about.
    struct Recording {
        admit: &'static [&'static str],
        asked: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl RateLimiter for Recording {
        async fn check_n(&self, key: &str, _cost: u32) -> RateDecision {
            self.asked.lock().unwrap().push(key.to_owned());
            if self.admit.contains(&key) {
                RateDecision::Allowed
            } else {
                RateDecision::Limited {
                    retry_after: Duration::from_millis(1_500),
                }
            }
        }
    }

    fn recording(admit: &'static [&'static str]) -> Recording {
        Recording {
            admit,
            asked: Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn a_refused_first_budget_leaves_the_second_untouched() {
        let client = recording(&[]);
        let account = recording(&["victim@example.test"]);
        let got = block_on(spend_in_order(&[
            (&client, "203.0.113.9"),
            (&account, "victim@example.test"),
        ]));
        assert!(matches!(
            got,
            Err(Error::RateLimited {
                retry_after_secs: 2
            })
        ));
        assert!(account.asked.lock().unwrap().is_empty());
    }

    #[test]
    fn an_admitted_first_budget_charges_the_second() {
        let client = recording(&["203.0.113.9"]);
        let account = recording(&["victim@example.test"]);
        block_on(spend_in_order(&[
            (&client, "203.0.113.9"),
            (&account, "victim@example.test"),
        ]))
        .unwrap();
        assert_eq!(*account.asked.lock().unwrap(), ["victim@example.test"]);
    }
}

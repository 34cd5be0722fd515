//! Tokens of an external OpenID Connect provider: which user here a token
//! names, and how signing out of such a session lasts.
//!
//! A subject (issuer, `sub`) is linked to a user the first time one of its
//! tokens carries an email the provider verified; from then on the link alone
//! decides, whatever the email claim says. Signing out records an instant
//! against the subject: its tokens issued at or before it are refused for
//! good, and tokens the provider issues afterwards (the person signed in there
//! again) are accepted.

use crate::auth::{Auth, SESSION_ENDED};
use crate::error::{Error, Result};
use crate::identity::{AccessClaims, ExternalSession};
use crate::ids::{SessionId, UserId};
use crate::ports::{ExternalClaims, ExternalIdentities, ExternalIdentity, ExternalTokenVerifier};
use crate::values::Email;
use chrono::{DateTime, Utc};

/// An external provider whose tokens are accepted too, and the links from
/// its subjects to users here.
#[derive(Clone, Copy)]
pub struct ExternalProvider<'a> {
    pub verifier: &'a dyn ExternalTokenVerifier,
    pub identities: &'a dyn ExternalIdentities,
}

/// How a provider's token finds its user here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// The subject is linked: its user, whatever the email claim says now.
    Linked(ExternalIdentity),
    /// Not linked, and the provider verified this email: its user, to be linked.
    VerifiedEmail(Email),
    /// Neither: the token names nobody here.
    Refused,
}

impl Mapping {
    /// An email the provider does not vouch for could be anyone's, so it
    /// finds nobody; a linked subject never moves to another user because
    /// its email claim changed.
    pub fn of(linked: Option<ExternalIdentity>, claims: &ExternalClaims) -> Self {
        if let Some(identity) = linked {
            return Self::Linked(identity);
        }
        claims
            .email
            .as_deref()
            .filter(|_| claims.email_verified)
            .and_then(|e| Email::parse(e).ok())
            .map_or(Self::Refused, Self::VerifiedEmail)
    }
}

impl ExternalIdentity {
    /// Whether the subject's sign-out refuses a token issued at `issued_at`.
    pub fn refuses(&self, issued_at: DateTime<Utc>) -> bool {
        self.signed_out_at.is_some_and(|at| issued_at <= at)
    }
}

/// The instant a sign-out records: now, or the token's own `iat` when the
/// provider's clock runs ahead of ours, so the token signed out with is
/// refused whatever the skew.
pub fn sign_out_instant(now: DateTime<Utc>, session: &ExternalSession) -> DateTime<Utc> {
    now.max(session.issued_at)
}

impl Auth<'_> {
    /// A provider's token names a user (see [`Mapping`]) and a tenant by a
    /// claim; the membership is checked by the caller like any other.
    pub(crate) async fn external_claims(
        &self,
        provider: ExternalProvider<'_>,
        token: &str,
    ) -> Result<AccessClaims> {
        // One answer for every refusal: it never tells whether an email is registered.
        let bad = || Error::Unauthenticated("invalid or expired access token");
        let c = provider.verifier.verify(token).await?;
        let tenant_id = c.tenant_id.ok_or_else(bad)?;
        let linked = provider.identities.find(&c.issuer, &c.subject).await?;
        let identity = match Mapping::of(linked, &c) {
            Mapping::Linked(identity) => identity,
            Mapping::VerifiedEmail(email) => {
                let (user, _) = self.identity.credentials(&email).await?.ok_or_else(bad)?;
                provider
                    .identities
                    .link(&c.issuer, &c.subject, user.id)
                    .await?
            }
            Mapping::Refused => return Err(bad()),
        };
        if identity.refuses(c.issued_at) {
            return Err(Error::Unauthenticated(SESSION_ENDED));
        }
        // No session of ours: a stable id per subject, for what keys on a session.
        let name = format!("{}|{}", c.issuer, c.subject);
        let session_id = SessionId::from_uuid(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            name.as_bytes(),
        ));
        Ok(AccessClaims {
            user_id: identity.user_id,
            tenant_id,
            session_id,
            expires_at: c.expires_at,
            actor: None,
            external: Some(ExternalSession {
                issuer: c.issuer,
                subject: c.subject,
                issued_at: c.issued_at,
            }),
        })
    }

    /// Signs out of a provider's session: that subject, or with `all` every
    /// subject linked to the user. Our own sessions are the caller's to end.
    pub(crate) async fn sign_out_external(
        &self,
        user: UserId,
        session: Option<&ExternalSession>,
        all: bool,
    ) -> Result<()> {
        let Some(provider) = self.external else {
            return Ok(());
        };
        let now = Utc::now();
        let at = session.map_or(now, |s| sign_out_instant(now, s));
        if all {
            provider.identities.sign_out_user(user, at).await
        } else if let Some(s) = session {
            provider
                .identities
                .sign_out(&s.issuer, &s.subject, at)
                .await
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn claims(email: Option<&str>, verified: bool) -> ExternalClaims {
        let now = Utc::now();
        ExternalClaims {
            issuer: "https://idp.example/".into(),
            subject: "s-1".into(),
            email: email.map(str::to_owned),
            email_verified: verified,
            tenant_id: None,
            issued_at: now,
            expires_at: now + Duration::minutes(5),
        }
    }

    fn linked(signed_out_at: Option<DateTime<Utc>>) -> ExternalIdentity {
        ExternalIdentity {
            user_id: UserId::generate(),
            signed_out_at,
        }
    }

    #[test]
    fn an_unverified_email_names_nobody() {
        assert_eq!(
            Mapping::of(None, &claims(Some("ada@acme.test"), false)),
            Mapping::Refused
        );
        assert_eq!(Mapping::of(None, &claims(None, true)), Mapping::Refused);
        assert_eq!(
            Mapping::of(None, &claims(Some("not an email"), true)),
            Mapping::Refused
        );
    }

    #[test]
    fn a_verified_email_names_its_user_until_the_subject_is_linked() {
        assert_eq!(
            Mapping::of(None, &claims(Some("ada@acme.test"), true)),
            Mapping::VerifiedEmail(Email::parse("ada@acme.test").unwrap())
        );
    }

    #[test]
    fn a_linked_subject_keeps_its_user_whatever_the_email_says() {
        let ada = linked(None);
        for c in [
            claims(Some("bob@acme.test"), true),
            claims(Some("bob@acme.test"), false),
            claims(None, false),
        ] {
            assert_eq!(
                Mapping::of(Some(ada.clone()), &c),
                Mapping::Linked(ada.clone())
            );
        }
    }

    #[test]
    fn a_sign_out_refuses_tokens_issued_at_or_before_it_and_only_those() {
        let at = Utc::now();
        let identity = linked(Some(at));
        assert!(identity.refuses(at - Duration::hours(1)));
        assert!(identity.refuses(at));
        assert!(!identity.refuses(at + Duration::seconds(1)));
        // Time passing changes nothing: an old token stays refused.
        assert!(identity.refuses(at - Duration::days(30)));
        assert!(!linked(None).refuses(at));
    }

    #[test]
    fn signing_out_covers_the_token_even_from_a_provider_clock_ahead_of_ours() {
        let now = Utc::now();
        let session = |issued_at| ExternalSession {
            issuer: "i".into(),
            subject: "s".into(),
            issued_at,
        };
        let ahead = session(now + Duration::seconds(20));
        assert_eq!(sign_out_instant(now, &ahead), ahead.issued_at);
        let behind = session(now - Duration::minutes(3));
        assert_eq!(sign_out_instant(now, &behind), now);
        assert!(linked(Some(sign_out_instant(now, &ahead))).refuses(ahead.issued_at));
    }
}

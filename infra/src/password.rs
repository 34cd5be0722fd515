//! argon2id password hashing with OWASP's recommended parameters.

use argon2::password_hash::{
    PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use domain::values::Password;
use domain::{Error, Result};

/// Cost parameters. The default is OWASP's first recommendation for argon2id:
/// 19 MiB of memory, 2 iterations, 1 lane.
#[derive(Debug, Clone, Copy)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            lanes: 1,
        }
    }
}

pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    /// Verified against when an email is unknown, so that path costs the same.
    dummy_hash: String,
}

impl Argon2Hasher {
    /// # Errors
    /// When the parameters are out of argon2's range.
    pub fn new(p: Argon2Params) -> Result<Self> {
        let params =
            Params::new(p.memory_kib, p.iterations, p.lanes, None).map_err(Error::unexpected)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon2
            .hash_password(b"not a real password; only spends time", &salt)
            .map_err(Error::unexpected)?
            .to_string();
        Ok(Self { argon2, dummy_hash })
    }
}

#[async_trait]
impl domain::ports::PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<String> {
        let argon2 = self.argon2.clone();
        let password = password.expose().to_owned();
        // Tens of milliseconds of CPU: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await
        .map_err(Error::unexpected)?
        .map_err(Error::unexpected)
    }

    async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let argon2 = self.argon2.clone();
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || {
            // A stored hash carries its own parameters, so old hashes keep verifying after a change.
            PasswordHash::new(&hash)
                .map(|h| argon2.verify_password(password.as_bytes(), &h).is_ok())
        })
        .await
        .map_err(Error::unexpected)?
        .map_err(Error::unexpected)?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::PasswordHasher;

    fn fast() -> Argon2Hasher {
        Argon2Hasher::new(Argon2Params {
            memory_kib: 64,
            iterations: 1,
            lanes: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = fast();
        let pw = Password::parse("correct horse battery").unwrap();
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            h.verify("correct horse battery", Some(&hash))
                .await
                .unwrap()
        );
        assert!(!h.verify("wrong horse battery", Some(&hash)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let h = fast();
        assert!(
            !h.verify("not a real password; only spends time", None)
                .await
                .unwrap()
        );
    }
}

//! Credentials: argon2id password hashes, HS256 access tokens, opaque refresh tokens (only
//! their SHA-256 is stored).
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            ttl,
        }
    }

    /// A fresh access token for the user and the moment it expires.
    pub fn issue(
        &self,
        user_id: &str,
        roles: Vec<String>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let expires_at = now + chrono::Duration::from_std(self.ttl)?;
        let claims = Claims {
            sub: user_id.to_owned(),
            roles,
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::now_v7().simple().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// The claims of a token signed by us with HS256 that has not expired; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// Hashes a password with argon2id (the crate's default parameters: 19 MiB, 2 passes).
/// CPU-heavy: call it from `spawn_blocking`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the stored hash. CPU-heavy: call it from `spawn_blocking`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a password nobody knows, verified when an email is unknown so that a login
/// attempt takes the same time whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token(24)).unwrap_or_default())
}

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of a refresh token, hex: what the database keeps instead of the token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            &SecretString::from("a-test-secret-that-is-long-enough-000".to_owned()),
            Duration::from_secs(900),
        )
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
    }

    #[test]
    fn a_garbage_hash_never_verifies() {
        assert!(!verify_password("not a hash", "anything"));
        assert!(!verify_password(dummy_hash(), "anything"));
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let (token, expires) = keys()
            .issue("usr_x", vec!["BUYER".into()], Utc::now())
            .expect("issue");
        let claims = keys().verify(&token).expect("valid");
        assert_eq!(claims.sub, "usr_x");
        assert_eq!(claims.exp, expires.timestamp());
        assert_eq!(claims.roles, vec!["BUYER".to_owned()]);
    }

    #[test]
    fn an_expired_token_is_rejected() {
        let issued = Utc::now() - chrono::Duration::hours(1);
        let (token, _) = keys().issue("usr_x", vec![], issued).expect("issue");
        assert!(keys().verify(&token).is_none());
    }

    #[test]
    fn a_token_signed_with_another_key_is_rejected() {
        let other = JwtKeys::new(
            &SecretString::from("another-secret-that-is-long-enough-111".to_owned()),
            Duration::from_secs(900),
        );
        let (token, _) = other.issue("usr_x", vec![], Utc::now()).expect("issue");
        assert!(keys().verify(&token).is_none());
    }

    #[test]
    fn refresh_token_digests_are_stable_and_distinct() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_ne!(token_digest(&a), token_digest(&b));
        assert_eq!(token_digest(&a).len(), 64);
    }
}

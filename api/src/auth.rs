//! Credentials: argon2id password hashes, HS256 access tokens, opaque refresh tokens (only
//! their SHA-256 is stored).
use std::time::Duration;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
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

/// A job for the password threads.
type PasswordJob = Box<dyn FnOnce() + Send>;

/// Password hashing and checking on a few threads of their own. Each argon2 hash holds
/// 19 MiB while it runs: on the blocking pool a burst of 60 concurrent registrations took the
/// server from 33 MiB to 975 MiB RSS, and the freed blocks stayed in as many malloc arenas.
/// Here at most `threads` hashes run at once, their memory lives in `threads` arenas, and a
/// burst beyond the queue is refused at once instead of growing without bound.
#[derive(Clone)]
pub struct PasswordWorkers {
    jobs: std::sync::mpsc::SyncSender<PasswordJob>,
}

/// The password threads' queue is full.
#[derive(Debug)]
pub struct Busy;

impl PasswordWorkers {
    /// Jobs that may wait for a password thread.
    pub const QUEUE: usize = 256;

    pub fn start(threads: usize) -> std::io::Result<PasswordWorkers> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<PasswordJob>(Self::QUEUE);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || loop {
                    let lock = || {
                        queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                    };
                    let mut next = lock().try_recv();
                    if matches!(next, Err(std::sync::mpsc::TryRecvError::Empty)) {
                        // Idle: the working memory goes back until the next job. A burst
                        // reuses it; an idle server does not keep 19 MiB per thread.
                        release_argon2_memory();
                        next = lock()
                            .recv()
                            .map_err(|_| std::sync::mpsc::TryRecvError::Disconnected);
                    }
                    let Ok(job) = next else {
                        return; // every sender is gone: the server stopped
                    };
                    // A panicking job loses its answer (the caller sees an error), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                })?;
        }
        Ok(PasswordWorkers { jobs })
    }

    /// Runs `work` on a password thread.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }
}

thread_local! {
    /// This thread's argon2 working memory (19 MiB with the default parameters), allocated by
    /// the first hash of a burst, reused by the burst's later ones and freed when the thread
    /// finds no more work: the crate's own `hash_password` allocates and frees it each time,
    /// and glibc kept those blocks in ever more arenas (30 sequential logins took an idle
    /// server from 33 MiB to 465 MiB RSS); mimalloc gives a freed block this size back to the
    /// system.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Frees this thread's argon2 working memory (the next hash allocates it again) and has the
/// allocator return it to the system now: mimalloc purges freed memory lazily, at later
/// allocations, which an idle thread does not make.
fn release_argon2_memory() {
    let held = ARGON2_MEMORY.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    if held.capacity() > 0 {
        drop(held);
        // SAFETY: `mi_collect` takes no pointers; it only walks this thread's own heap (and
        // the arenas under their locks). With another global allocator (tests built without
        // the binary's) it has nothing of this thread's to collect.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

/// argon2 of `password` and `salt` with `argon2`'s parameters, `len` bytes long, computed in
/// this thread's reused memory.
fn argon2_output(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    len: usize,
) -> password_hash::Result<Output> {
    ARGON2_MEMORY.with(|cell| {
        let mut memory = cell.borrow_mut();
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        Output::init_with(len, |out| {
            Ok(
                argon2.hash_password_into_with_memory(
                    password,
                    salt,
                    out,
                    &mut memory[..blocks],
                )?,
            )
        })
    })
}

/// Hashes a password with argon2id (the crate's default parameters: 19 MiB, 2 passes) into
/// a PHC string. CPU- and memory-heavy: run it on [`PasswordWorkers`].
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt_bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let params = Params::default();
    let argon2 = Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = argon2_output(
        &argon2,
        &params,
        password.as_bytes(),
        &salt_bytes,
        Params::DEFAULT_OUTPUT_LEN,
    )
    .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
    let hash = PasswordHash {
        algorithm: Argon2Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// True when `password` matches the stored PHC hash (with the algorithm, version and
/// parameters it names). CPU- and memory-heavy: run it on [`PasswordWorkers`].
pub fn verify_password(hash: &str, password: &str) -> bool {
    let check = || -> password_hash::Result<bool> {
        let parsed = PasswordHash::new(hash)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let algorithm = Argon2Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let computed = argon2_output(
            &argon2,
            &params,
            password.as_bytes(),
            salt_bytes,
            expected.len(),
        )?;
        // `Output` compares in constant time.
        Ok(computed == expected)
    };
    check().unwrap_or(false)
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

/// The refresh token that replaces `spent` when it is rotated: derived from it with a key only
/// the server holds, so a second presentation of `spent` within the grace window can be
/// answered with the same successor although the database keeps only digests.
pub fn successor_token(secret: &SecretString, spent: &str) -> String {
    use hmac::{Hmac, Mac};
    let digest = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map(|mut mac| {
            mac.update(b"marketplace refresh successor v1\0");
            mac.update(spent.as_bytes());
            mac.finalize().into_bytes().to_vec()
        })
        // HMAC takes a key of any length; keep a random token should that ever change.
        .unwrap_or_else(|_| random_token(32).into_bytes());
    format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
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
    fn hashes_match_the_crates_own_phc_hashing_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Stored by the crate's own API (as every hash before the reused memory was).
        let salt = SaltString::encode_b64(b"sixteen byte slt").expect("salt");
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_password(&theirs, "correct horse"));
        assert!(!verify_password(&theirs, "correct horsE"));
        // Ours, checked by the crate's verifier.
        let ours = hash_password("correct horse").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong", &parsed)
            .is_err());
        // Other parameters in a stored hash are honoured (and need more memory).
        let params = Params::new(32 * 1024, 1, 1, None).expect("params");
        let bigger = Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_password(&bigger, "pw"));
        assert!(!verify_password(&bigger, "pW"));
    }

    /// Keeps the (one) password thread busy until `release` is sent.
    async fn occupy(
        workers: &PasswordWorkers,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), Busy>>,
    ) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocker = workers.clone();
        let blocked = tokio::spawn(async move {
            blocker
                .run(move || {
                    let _ = wait.recv();
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        (release, blocked)
    }

    #[tokio::test]
    async fn password_workers_answer_and_refuse_when_their_queue_is_full() {
        let workers = PasswordWorkers::start(1).expect("threads");
        assert_eq!(workers.run(|| 6 * 7).await.expect("answer"), 42);
        // A blocked worker and a full queue: the next job is refused at once.
        let (release, blocked) = occupy(&workers).await;
        let mut queued = Vec::new();
        for _ in 0..PasswordWorkers::QUEUE {
            let w = workers.clone();
            queued.push(tokio::spawn(async move { w.run(|| 1).await }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(workers.run(|| 1).await.is_err(), "the queue is full");
        release.send(()).expect("release");
        assert!(blocked.await.expect("join").is_ok());
        for job in queued {
            assert_eq!(job.await.expect("join").expect("ran"), 1);
        }
        // A panicking job loses its answer, not the thread.
        assert!(workers.run(|| panic!("boom")).await.is_err());
        assert_eq!(workers.run(|| 7).await.expect("still serving"), 7);
    }

    /// A burst of hashes reuses one working memory; a thread with no more work frees it.
    #[tokio::test]
    async fn password_threads_keep_argon2_memory_for_a_burst_and_free_it_when_idle() {
        let workers = PasswordWorkers::start(1).expect("threads");
        let held = || ARGON2_MEMORY.with(|m| m.borrow().len());
        let (release, blocked) = occupy(&workers).await;
        // Queued behind the blocker: a hash, then a look at the memory, back to back.
        let hasher = workers.clone();
        let hashed = tokio::spawn(async move { hasher.run(|| hash_password("pw")).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let looker = workers.clone();
        let in_burst = tokio::spawn(async move { looker.run(held).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).expect("release");
        assert!(blocked.await.expect("join").is_ok());
        assert!(hashed.await.expect("join").expect("ran").is_ok());
        assert!(
            in_burst.await.expect("join").expect("ran") > 0,
            "kept within a burst"
        );
        // Nothing queued: the thread frees it before it waits.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(workers.run(held).await.expect("ran"), 0, "freed when idle");
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

//! Persisted queries: Apollo's automatic persisted queries (APQ) and, optionally, an allowlist.
//!
//! APQ: a client sends `extensions.persistedQuery = { version: 1, sha256Hash }` with no query;
//! an unknown hash answers `PERSISTED_QUERY_NOT_FOUND` and the client sends the text once with
//! its hash, which is checked and kept (in a bounded cache). The text is put back into the
//! request before it runs, so a persisted operation passes every limit, cost and budget check
//! a written-out one does (async-graphql's own APQ extension hands the executor a parsed
//! document instead, which skips the parse-time limits: not used for that reason).
//!
//! Allowlist (`PERSISTED_QUERIES_ALLOWLIST`, a JSON file): only operations whose text hashes
//! to an entry run, whether sent by hash or in full; nothing new is learned.
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_graphql::Request;
use sha2::{Digest, Sha256};

/// Distinct texts the APQ cache keeps; the oldest goes first (a client whose text was dropped
/// gets NOT_FOUND and sends it again).
pub const CACHE_ENTRIES: usize = 10_000;

pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const NOT_ALLOWED: &str = "PERSISTED_QUERY_NOT_ALLOWED";

/// Why a request cannot run as sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// 200 for NOT_FOUND (clients retry with the text, as Apollo's link expects), else 400.
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    fn bad(message: impl Into<String>) -> Refused {
        Refused {
            status: 400,
            code: "BAD_REQUEST",
            message: message.into(),
        }
    }
}

#[derive(Default)]
struct Cache {
    texts: HashMap<String, Arc<str>>,
    order: VecDeque<String>,
}

pub struct PersistedQueries {
    cache: Mutex<Cache>,
    allowlist: Option<HashMap<String, Arc<str>>>,
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl PersistedQueries {
    pub fn new(allowlist: Option<HashMap<String, Arc<str>>>) -> Self {
        Self {
            cache: Mutex::new(Cache::default()),
            allowlist,
        }
    }

    /// Reads an allowlist: a JSON object `{ "<sha256 hex>": "<query>" }`, or an Apollo
    /// persisted-query manifest `{ "operations": [{ "body": "<query>", … }] }`. Every hash is
    /// computed from the text (a stated hash that differs is refused as a broken file).
    pub fn load_allowlist(path: &Path) -> anyhow::Result<HashMap<String, Arc<str>>> {
        let raw = std::fs::read_to_string(path)
            .with_context(|| format!("reading the allowlist {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&raw)
            .with_context(|| format!("the allowlist {} is not JSON", path.display()))?;
        let mut list = HashMap::new();
        let mut add = |stated: Option<&str>, body: &str| -> anyhow::Result<()> {
            let hash = sha256_hex(body);
            if let Some(stated) = stated.filter(|s| !s.eq_ignore_ascii_case(&hash)) {
                anyhow::bail!("allowlist entry {stated} does not hash to its text ({hash})");
            }
            list.insert(hash, Arc::from(body));
            Ok(())
        };
        match &value {
            serde_json::Value::Object(map) if map.contains_key("operations") => {
                let operations = map["operations"]
                    .as_array()
                    .context("the manifest's operations is not a list")?;
                for op in operations {
                    let body = op["body"]
                        .as_str()
                        .context("a manifest operation without a body")?;
                    add(op["id"].as_str().filter(|id| id.len() == 64), body)?;
                }
            }
            serde_json::Value::Object(map) => {
                for (hash, body) in map {
                    add(
                        Some(hash),
                        body.as_str().context("an allowlist value is not a query")?,
                    )?;
                }
            }
            _ => anyhow::bail!("the allowlist must be a JSON object"),
        }
        anyhow::ensure!(
            !list.is_empty(),
            "the allowlist {} is empty",
            path.display()
        );
        Ok(list)
    }

    pub fn allowlist_len(&self) -> Option<usize> {
        self.allowlist.as_ref().map(HashMap::len)
    }

    /// The request with its query text in place, or why it cannot run.
    pub fn resolve(&self, mut request: Request) -> Result<Request, Refused> {
        let persisted = request.extensions.remove("persistedQuery");
        let stated = match persisted {
            None => None,
            Some(value) => Some(Self::hash_of(value)?),
        };
        match (&self.allowlist, stated) {
            (Some(list), stated) => {
                let hash = if request.query.is_empty() {
                    stated.ok_or_else(|| Refused::bad("the request has no query"))?
                } else {
                    let hash = sha256_hex(&request.query);
                    if stated.as_ref().is_some_and(|s| *s != hash) {
                        return Err(Refused::bad("provided sha does not match query"));
                    }
                    hash
                };
                let text = list.get(&hash).ok_or_else(|| Refused {
                    status: 400,
                    code: NOT_ALLOWED,
                    message: "this server runs only the operations on its allowlist".to_owned(),
                })?;
                request.query = text.to_string();
                Ok(request)
            }
            (None, None) => Ok(request),
            (None, Some(hash)) if request.query.is_empty() => {
                let text = self
                    .cache
                    .lock()
                    .ok()
                    .and_then(|cache| cache.texts.get(&hash).cloned())
                    .ok_or_else(|| Refused {
                        status: 200,
                        code: NOT_FOUND,
                        message: "PersistedQueryNotFound".to_owned(),
                    })?;
                request.query = text.to_string();
                Ok(request)
            }
            (None, Some(hash)) => {
                if sha256_hex(&request.query) != hash {
                    return Err(Refused::bad("provided sha does not match query"));
                }
                self.remember(hash, &request.query);
                Ok(request)
            }
        }
    }

    /// The lower-case hash of a `persistedQuery` extension of version 1.
    fn hash_of(value: async_graphql::Value) -> Result<String, Refused> {
        let json = value
            .into_json()
            .map_err(|_| Refused::bad("persistedQuery must be an object"))?;
        if json["version"].as_i64() != Some(1) {
            return Err(Refused::bad("only persistedQuery version 1 is supported"));
        }
        let hash = json["sha256Hash"]
            .as_str()
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| Refused::bad("persistedQuery.sha256Hash must be 64 hex digits"))?;
        Ok(hash.to_ascii_lowercase())
    }

    fn remember(&self, hash: String, text: &str) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.texts.contains_key(&hash) {
            return;
        }
        while cache.texts.len() >= CACHE_ENTRIES {
            match cache.order.pop_front() {
                Some(oldest) => {
                    cache.texts.remove(&oldest);
                }
                None => break,
            }
        }
        cache.texts.insert(hash.clone(), Arc::from(text));
        cache.order.push_back(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            "persistedQuery".to_owned(),
            async_graphql::Value::from_json(
                serde_json::json!({ "version": 1, "sha256Hash": hash }),
            )
            .expect("value"),
        );
        request
    }

    #[test]
    fn apq_learns_a_text_by_its_hash_and_refuses_a_wrong_one() {
        let apq = PersistedQueries::new(None);
        let text = "{ listings { totalCount } }";
        let hash = sha256_hex(text);
        assert_eq!(
            apq.resolve(with_hash("", &hash))
                .map(|_| ())
                .unwrap_err()
                .code,
            NOT_FOUND
        );
        assert_eq!(
            apq.resolve(with_hash(text, &"0".repeat(64)))
                .map(|_| ())
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            apq.resolve(with_hash(text, &hash)).expect("learned").query,
            text
        );
        assert_eq!(
            apq.resolve(with_hash("", &hash)).expect("known").query,
            text
        );
        assert_eq!(apq.resolve(Request::new(text)).expect("plain").query, text);
    }

    #[test]
    fn the_apq_cache_is_bounded() {
        let apq = PersistedQueries::new(None);
        for i in 0..CACHE_ENTRIES + 5 {
            let text = format!("{{ a{i}: listings {{ totalCount }} }}");
            apq.resolve(with_hash(&text, &sha256_hex(&text)))
                .expect("learned");
        }
        let cache = apq.cache.lock().expect("cache");
        assert_eq!(cache.texts.len(), CACHE_ENTRIES);
        assert!(!cache
            .texts
            .contains_key(&sha256_hex("{ a0: listings { totalCount } }")));
    }

    #[test]
    fn an_allowlist_runs_only_its_operations() {
        let text = "{ listings { totalCount } }";
        let hash = sha256_hex(text);
        let list = HashMap::from([(hash.clone(), Arc::<str>::from(text))]);
        let apq = PersistedQueries::new(Some(list));
        assert_eq!(
            apq.resolve(with_hash("", &hash)).expect("by hash").query,
            text
        );
        assert_eq!(
            apq.resolve(Request::new(text)).expect("by text").query,
            text
        );
        let other = "{ viewer { id } }";
        assert_eq!(
            apq.resolve(Request::new(other))
                .map(|_| ())
                .unwrap_err()
                .code,
            NOT_ALLOWED
        );
        assert_eq!(
            apq.resolve(with_hash(other, &sha256_hex(other)))
                .map(|_| ())
                .unwrap_err()
                .code,
            NOT_ALLOWED
        );
    }
}

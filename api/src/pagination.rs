//! Keyset pagination shared by every list: opaque cursors over a (sort key, id) pair, `first`
//! bounded to 1..=100 (default 30), one row fetched beyond the page to learn whether another
//! page follows.
use base64::Engine;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PAGE_SIZE: u64 = 30;
pub const MAX_PAGE_SIZE: u64 = 100;
const CURSOR_VERSION: &str = "c1.";

/// A validated page request: how many rows and the key to start after.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    pub first: u64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    pub fn parse(first: Option<i32>, after: Option<&str>) -> ApiResult<Self> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n >= 0 && (n as u64) <= MAX_PAGE_SIZE => n as u64,
            Some(n) => {
                return Err(ApiError::BadInput(format!(
                    "first must be between 0 and {MAX_PAGE_SIZE}, got {n}"
                )))
            }
        };
        let after = after.map(decode_cursor).transpose()?;
        Ok(PageRequest { first, after })
    }

    /// Rows to fetch: one more than the page, to know whether a next page exists.
    pub fn fetch_limit(&self) -> u64 {
        self.first + 1
    }
}

/// One page of rows in order, with what a connection needs to know about its neighbours.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub total_count: u64,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with [`PageRequest::fetch_limit`].
    pub fn from_overfetch<K>(mut rows: Vec<T>, request: &PageRequest<K>, total_count: u64) -> Self {
        let has_next_page = rows.len() as u64 > request.first;
        rows.truncate(request.first as usize);
        Page {
            items: rows,
            has_next_page,
            has_previous_page: request.after.is_some(),
            total_count,
        }
    }
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    format!(
        "{CURSOR_VERSION}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    )
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> ApiResult<K> {
    let bad = || ApiError::BadInput("the cursor is not valid for this list".to_owned());
    if cursor.len() > 1024 {
        return Err(bad());
    }
    let body = cursor.strip_prefix(CURSOR_VERSION).ok_or_else(bad)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| bad())?;
    serde_json::from_slice(&json).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Key {
        price: i64,
        id: String,
    }

    #[test]
    fn a_cursor_round_trips() {
        let key = Key {
            price: 1200,
            id: "lst_1".into(),
        };
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor::<Key>(&cursor).expect("decodes"), key);
    }

    #[test]
    fn a_tampered_cursor_is_rejected() {
        assert!(decode_cursor::<Key>("c1.!!!").is_err());
        assert!(decode_cursor::<Key>("garbage").is_err());
        let other = encode_cursor(&"just a string");
        assert!(decode_cursor::<Key>(&other).is_err());
    }

    #[test]
    fn first_defaults_to_30_and_is_bounded_to_100() {
        let req = PageRequest::<Key>::parse(None, None).expect("ok");
        assert_eq!(req.first, 30);
        assert!(PageRequest::<Key>::parse(Some(100), None).is_ok());
        assert!(PageRequest::<Key>::parse(Some(101), None).is_err());
        assert!(PageRequest::<Key>::parse(Some(-1), None).is_err());
    }

    #[test]
    fn an_overfetched_row_means_a_next_page() {
        let req = PageRequest::<Key>::parse(Some(2), None).expect("ok");
        let page = Page::from_overfetch(vec![1, 2, 3], &req, 10);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.has_next_page);
        assert!(!page.has_previous_page);
        let last = Page::from_overfetch(vec![1, 2], &req, 10);
        assert!(!last.has_next_page);
    }
}

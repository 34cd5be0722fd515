//! Parsed documents, cached by their text, and Automatic Persisted Queries.
//!
//! A client sends the same few documents over and over; parsing one costs
//! more than the rest of a small request's GraphQL work, so each is parsed
//! once and its tree cloned for each request (cheaper than parsing it again).
//! With Apollo's `persistedQuery` extension a client may send only the
//! document's sha256: a hash the server has not seen is answered
//! `PERSISTED_QUERY_NOT_FOUND`, and the client sends the document with its
//! hash, which is checked before the document is kept.
//!
//! The cache is bounded by weight (about the memory a parsed document
//! takes), so no client can grow it; a client that sends many different
//! documents only evicts others', which then parse again.

use super::error::code;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, Value};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A document, parsed; the text is kept to serve a hash lookup.
struct Parsed {
    text: Arc<str>,
    doc: ExecutableDocument,
}

/// What a parsed document is taken to weigh: its text several times over
/// (a tree of names, positions and vectors), plus a fixed part.
#[derive(Clone)]
struct Weight;

impl<K> Weighter<K, Arc<Parsed>> for Weight {
    fn weight(&self, _: &K, v: &Arc<Parsed>) -> u64 {
        1024 + 16 * v.text.len() as u64
    }
}

pub struct Documents {
    by_text: Cache<Arc<str>, Arc<Parsed>, Weight>,
    by_hash: Cache<[u8; 32], Arc<Parsed>, Weight>,
}

fn refusal(message: &str, c: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", c);
    e
}

/// The `persistedQuery` extension's hash, if the request carries one.
fn persisted_hash(request: &mut async_graphql::Request) -> Result<Option<[u8; 32]>, ServerError> {
    let Some(ext) = request.extensions.remove("persistedQuery") else {
        return Ok(None);
    };
    let bad = || {
        refusal(
            "`persistedQuery` takes {\"version\": 1, \"sha256Hash\": \"<64 hex digits>\"}",
            code::BAD_USER_INPUT,
        )
    };
    let Value::Object(fields) = ext else {
        return Err(bad());
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => return Err(bad()),
    }
    let Some(Value::String(hex)) = fields.get("sha256Hash") else {
        return Err(bad());
    };
    // Checked as bytes first: slicing text of other characters could split one.
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        *byte = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(Some(hash))
}

impl Documents {
    /// A cache holding about `bytes` of parsed documents (0: none kept).
    pub fn new(bytes: u64) -> Self {
        // Half for each way in; a document sent both ways sits in both.
        let items = (bytes / 4096).max(16) as usize;
        Self {
            by_text: Cache::with_weighter(items, (bytes / 2).max(1), Weight),
            by_hash: Cache::with_weighter(items, (bytes / 2).max(1), Weight),
        }
    }

    /// Gives the request its parsed document from the cache (or parses and
    /// keeps it), resolving a persisted query's hash to its document first.
    /// A document that does not parse is left for the engine to report.
    ///
    /// # Errors
    /// `PERSISTED_QUERY_NOT_FOUND` for a hash not seen yet (or evicted);
    /// `BAD_USER_INPUT` for a malformed extension or a hash that is not the
    /// document's.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Result<(), ServerError> {
        self.prepare_within(request, usize::MAX)
    }

    /// [`Self::prepare`] for a document of at most `max_bytes`; a longer one
    /// is left untouched for the cost gate to refuse (never parsed or kept).
    ///
    /// # Errors
    /// As [`Self::prepare`].
    pub fn prepare_within(
        &self,
        request: &mut async_graphql::Request,
        max_bytes: usize,
    ) -> Result<(), ServerError> {
        if request.query.len() > max_bytes {
            return Ok(());
        }
        let hash = persisted_hash(request)?;
        match hash {
            Some(h) if request.query.is_empty() => {
                let parsed = self.by_hash.get(&h).ok_or_else(|| {
                    refusal("PersistedQueryNotFound", code::PERSISTED_QUERY_NOT_FOUND)
                })?;
                request.query = parsed.text.to_string();
                request.set_parsed_query(parsed.doc.clone());
                Ok(())
            }
            Some(h) => {
                if Sha256::digest(request.query.as_bytes())[..] != h[..] {
                    return Err(refusal(
                        "`persistedQuery.sha256Hash` is not the sha256 of the query",
                        code::BAD_USER_INPUT,
                    ));
                }
                if let Some(parsed) = self.parsed(request) {
                    self.by_hash.insert(h, parsed);
                }
                Ok(())
            }
            None => {
                self.parsed(request);
                Ok(())
            }
        }
    }

    /// The request's document from the cache by its text, or parsed now and kept.
    fn parsed(&self, request: &mut async_graphql::Request) -> Option<Arc<Parsed>> {
        if let Some(parsed) = self.by_text.get(request.query.as_str()) {
            request.set_parsed_query(parsed.doc.clone());
            return Some(parsed);
        }
        let doc = request.parsed_query().ok()?.clone();
        let text: Arc<str> = Arc::from(request.query.as_str());
        let parsed = Arc::new(Parsed {
            text: text.clone(),
            doc,
        });
        self.by_text.insert(text, parsed.clone());
        Some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Request;

    const QUERY: &str = "{ tasks(first: 2) { edges { node { id } } } }";

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut r = Request::new(query);
        r.extensions.insert(
            "persistedQuery".into(),
            async_graphql::value!({ "version": 1, "sha256Hash": hash }),
        );
        r
    }

    fn hex(query: &str) -> String {
        Sha256::digest(query.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn code_of(e: &ServerError) -> Option<Value> {
        e.extensions.as_ref()?.get("code").cloned()
    }

    #[test]
    fn a_hash_is_found_once_its_document_was_sent_with_it() {
        let docs = Documents::new(1 << 20);
        let err = docs.prepare(&mut with_hash("", &hex(QUERY))).unwrap_err();
        assert_eq!(
            code_of(&err),
            Some(Value::from(code::PERSISTED_QUERY_NOT_FOUND))
        );
        docs.prepare(&mut with_hash(QUERY, &hex(QUERY))).unwrap();
        let mut only_hash = with_hash("", &hex(QUERY));
        docs.prepare(&mut only_hash).unwrap();
        assert_eq!(only_hash.query, QUERY);
        assert_eq!(
            only_hash.parsed_query().unwrap().operations.iter().count(),
            1
        );
    }

    #[test]
    fn a_hash_that_is_not_the_documents_is_refused_and_not_kept() {
        let docs = Documents::new(1 << 20);
        let other = hex("{ projects { totalCount } }");
        let err = docs.prepare(&mut with_hash(QUERY, &other)).unwrap_err();
        assert_eq!(code_of(&err), Some(Value::from(code::BAD_USER_INPUT)));
        assert!(docs.prepare(&mut with_hash("", &other)).is_err());
        for hash in ["abc".to_owned(), "é".repeat(32), "g".repeat(64)] {
            let bad = docs.prepare(&mut with_hash(QUERY, &hash)).unwrap_err();
            assert_eq!(code_of(&bad), Some(Value::from(code::BAD_USER_INPUT)));
        }
    }

    #[test]
    fn a_document_is_parsed_once_and_a_broken_one_left_to_the_engine() {
        let docs = Documents::new(1 << 20);
        let mut first = Request::new(QUERY);
        docs.prepare(&mut first).unwrap();
        assert!(docs.by_text.get(QUERY).is_some());
        let mut broken = Request::new("{ tasks(");
        docs.prepare(&mut broken).unwrap();
        assert!(broken.parsed_query().is_err());
        assert_eq!(docs.by_text.len(), 1);
    }

    #[test]
    fn the_cache_stays_within_its_weight() {
        let docs = Documents::new(64 * 1024);
        for i in 0..1000 {
            docs.prepare(&mut Request::new(format!(
                "{{ a{i}: tasks {{ totalCount }} }}"
            )))
            .unwrap();
        }
        assert!(
            docs.by_text.weight() <= 32 * 1024,
            "{}",
            docs.by_text.weight()
        );
    }
}

//! Giving every error a code: parse, validation and limit errors come from
//! the engine without one. (The limits themselves are `cost::Gate`'s.)

use super::error::code;
use async_graphql::{ServerError, Value};

fn set_code(e: &mut ServerError, c: &str) {
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", c);
}

fn code_of(e: &ServerError) -> Option<String> {
    match e.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Gives engine errors a code, and internal errors the request id so that a
/// user's report can be matched with the log.
pub fn finish_errors(errors: &mut [ServerError], request_id: &str) {
    for e in errors {
        match code_of(e).as_deref() {
            None => {
                let m = e.message.as_str();
                let limit = m.contains("too complex")
                    || m.contains("nested too deep")
                    || m.contains("too many");
                set_code(
                    e,
                    if limit {
                        code::QUERY_TOO_COMPLEX
                    } else {
                        code::BAD_USER_INPUT
                    },
                );
            }
            Some(code::INTERNAL_SERVER_ERROR) => {
                e.message = format!("internal server error (request id {request_id})");
                e.extensions
                    .get_or_insert_with(Default::default)
                    .set("requestId", request_id);
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_get_the_request_id_and_engine_errors_a_code() {
        let mut errs = vec![
            ServerError::new("Query is too complex.", None),
            ServerError::new("Unknown field", None),
        ];
        let mut internal = ServerError::new("internal server error", None);
        set_code(&mut internal, code::INTERNAL_SERVER_ERROR);
        errs.push(internal);
        finish_errors(&mut errs, "req-1");
        assert_eq!(code_of(&errs[0]).as_deref(), Some(code::QUERY_TOO_COMPLEX));
        assert_eq!(code_of(&errs[1]).as_deref(), Some(code::BAD_USER_INPUT));
        assert!(errs[2].message.contains("req-1"));
    }
}

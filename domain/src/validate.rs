//! Collecting every invalid field of an input at once, so a client learns all of
//! them from one `BAD_USER_INPUT` answer instead of fixing them one by one.

use crate::error::{Error, FieldError};

/// Why a single value was rejected; becomes a [`FieldError`] once its field is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Attach a field name to a value's validation result.
pub trait AtField<T> {
    fn at(self, field: &str) -> Result<T, FieldError>;
}

impl<T> AtField<T> for Result<T, Invalid> {
    fn at(self, field: &str) -> Result<T, FieldError> {
        self.map_err(|Invalid(message)| FieldError::new(field, message))
    }
}

/// Turns a tuple of per-field results into a tuple of values, or one
/// [`Error::Invalid`] listing every failed field.
pub trait AllValid {
    type Output;
    fn all_valid(self) -> Result<Self::Output, Error>;
}

macro_rules! all_valid_tuple {
    ($($t:ident),+) => {
        impl<$($t),+> AllValid for ($(Result<$t, FieldError>,)+) {
            type Output = ($($t,)+);
            #[allow(non_snake_case)]
            fn all_valid(self) -> Result<Self::Output, Error> {
                let ($($t,)+) = self;
                let mut errors = Vec::new();
                $(let $t = $t.map_err(|e| errors.push(e)).ok();)+
                if errors.is_empty() {
                    // Every element is `Some` when no error was pushed.
                    Ok(($($t.expect("no error was recorded"),)+))
                } else {
                    Err(Error::Invalid(errors))
                }
            }
        }
    };
}

all_valid_tuple!(A);
all_valid_tuple!(A, B);
all_valid_tuple!(A, B, C);
all_valid_tuple!(A, B, C, D);
all_valid_tuple!(A, B, C, D, E);
all_valid_tuple!(A, B, C, D, E, F);
all_valid_tuple!(A, B, C, D, E, F, G);
all_valid_tuple!(A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_valid_reports_every_failed_field() {
        let r = (
            Ok::<_, FieldError>(1),
            Err::<u8, _>(FieldError::new("a", "bad")),
            Err::<u8, _>(FieldError::new("b", "worse")),
        )
            .all_valid();
        match r {
            Err(Error::Invalid(errs)) => {
                assert_eq!(
                    errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
                    ["a", "b"]
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn all_valid_returns_values_when_all_pass() {
        let r = (Ok::<_, FieldError>(1), Ok::<_, FieldError>("x")).all_valid();
        assert_eq!(r.unwrap(), (1, "x"));
    }
}

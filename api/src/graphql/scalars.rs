//! Enums and scalars of the public schema, and their domain counterparts.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;
use domain::page::Direction;

/// A calendar date, `YYYY-MM-DD`. Checked by the domain, so a bad one is
/// `BAD_USER_INPUT` naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Date(pub String);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Date(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d.format("%Y-%m-%d").to_string())
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
}

impl From<TaskStatus> for domain::task::TaskStatus {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Todo => Self::Todo,
            TaskStatus::InProgress => Self::InProgress,
            TaskStatus::Done => Self::Done,
        }
    }
}

impl From<domain::task::TaskStatus> for TaskStatus {
    fn from(s: domain::task::TaskStatus) -> Self {
        use domain::task::TaskStatus as D;
        match s {
            D::Todo => Self::Todo,
            D::InProgress => Self::InProgress,
            D::Done => Self::Done,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Isolation {
    Row,
    Schema,
    Database,
}

impl From<Isolation> for domain::Isolation {
    fn from(i: Isolation) -> Self {
        match i {
            Isolation::Row => Self::Row,
            Isolation::Schema => Self::Schema,
            Isolation::Database => Self::Database,
        }
    }
}

impl From<domain::Isolation> for Isolation {
    fn from(i: domain::Isolation) -> Self {
        match i {
            domain::Isolation::Row => Self::Row,
            domain::Isolation::Schema => Self::Schema,
            domain::Isolation::Database => Self::Database,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    Asc,
    #[default]
    Desc,
}

impl From<OrderDirection> for Direction {
    fn from(d: OrderDirection) -> Self {
        match d {
            OrderDirection::Asc => Direction::Asc,
            OrderDirection::Desc => Direction::Desc,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum ProjectOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
}

impl From<ProjectOrderField> for domain::project::ProjectOrderField {
    fn from(f: ProjectOrderField) -> Self {
        match f {
            ProjectOrderField::CreatedAt => Self::CreatedAt,
            ProjectOrderField::UpdatedAt => Self::UpdatedAt,
            ProjectOrderField::Name => Self::Name,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum TaskOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Priority,
    DueDate,
    Title,
}

impl From<TaskOrderField> for domain::task::TaskOrderField {
    fn from(f: TaskOrderField) -> Self {
        match f {
            TaskOrderField::CreatedAt => Self::CreatedAt,
            TaskOrderField::UpdatedAt => Self::UpdatedAt,
            TaskOrderField::Priority => Self::Priority,
            TaskOrderField::DueDate => Self::DueDate,
            TaskOrderField::Title => Self::Title,
        }
    }
}

/// An id as clients see it: the UUID, hyphenated, lower case; written
/// straight into its buffer (a page formats two per row).
pub fn to_id(uuid: uuid::Uuid) -> async_graphql::ID {
    let mut buf = uuid::Uuid::encode_buffer();
    async_graphql::ID(uuid.hyphenated().encode_lower(&mut buf).to_owned())
}

/// Parses an opaque id; `None` when it is not one of ours (callers decide
/// whether that is `NOT_FOUND` or `BAD_USER_INPUT`).
pub fn parse_id<T: std::str::FromStr>(id: &async_graphql::ID) -> Option<T> {
    id.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_the_uuid_as_display_writes_it_and_parses_back() {
        let id = domain::TaskId::generate();
        let gql = to_id(id.as_uuid());
        assert_eq!(gql.as_str(), id.to_string());
        assert_eq!(parse_id::<domain::TaskId>(&gql), Some(id));
    }
}

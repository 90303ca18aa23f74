//! What can go wrong for a request, said without HTTP: the layers below the
//! endpoints (the domain's rules, the store) refuse with a [`Failure`], and
//! `http::error` alone decides how each is answered (a status, a code, a
//! `Retry-After`).

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum Failure {
    /// Input that breaks a rule, with the messages of each field.
    Invalid(FieldErrors),
    /// Not allowed for this user (a quota, a right).
    Forbidden(String),
    NotFound(String),
    /// A bounded resource is in use: come back after `retry_after_secs`.
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// A part the request needs (the database) is away.
    Unavailable(String),
    /// Anything unexpected: logged in full, answered without detail.
    Internal(String),
}

impl Failure {
    /// The input of one field breaks a rule.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::Invalid(errors)
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    /// What a failed statement means for the request (one error may answer
    /// several requests: a batch of votes).
    pub fn database(error: &sqlx::Error) -> Self {
        if database_unavailable(error) {
            tracing::error!(%error, "database unavailable");
            return Self::Unavailable("The database is unavailable, try again shortly".into());
        }
        Self::internal(error)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Self::database(&error)
    }
}

/// Whether PostgreSQL is away rather than the request wrong: no connection,
/// or the server refusing work while it shuts down, restarts or is full
/// (SQLSTATE classes 08 and 57P, and 53300).
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P") || code == "53300"),
        _ => false,
    }
}

/// The messages of each refused field, by field name.
#[derive(Debug, Default, Serialize)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// Adds `message` to `field`'s messages.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_default().push(message.into());
    }

    /// Adds every message of `other`.
    pub fn extend(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// `Ok(())` when nothing was refused.
    pub fn into_result(self) -> Result<(), Failure> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Failure::Invalid(self))
        }
    }
}

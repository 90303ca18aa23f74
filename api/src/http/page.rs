//! `?page=&per_page=` of the paginated lists, parsed once: a page the
//! database could not reach (`OFFSET` overflowing, negative) is a 422, never
//! a query.

use crate::http::error::{ApiError, ApiResult};
use salvo::oapi::ToSchema;
use salvo::prelude::*;
use serde::Serialize;

/// Deep enough for any real list; far from where `OFFSET` would overflow.
const MAX_PAGE: i64 = 1_000_000;
const MAX_PER_PAGE: i64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Pagination {
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    pub last_page: i64,
}

/// A page of a list: `{data: […], pagination: {…}}` beside the envelope's
/// fields (`RoomList.vue`, `stores/playlist.js`).
#[derive(Serialize, ToSchema)]
pub struct Listed<T: ToSchema + 'static> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// A page of a list read newest first by id, from `rows` read one past
/// `limit` (that one says whether there is another page): the page, and the
/// id the next, older page begins before — `None` on the last.
pub fn keyset<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_before = if more { rows.last().map(id) } else { None };
    (rows, next_before)
}

impl Page {
    pub fn from_query(req: &Request, default_per_page: i64) -> ApiResult<Self> {
        Self::parse(
            req.query::<String>("page").as_deref(),
            req.query::<String>("per_page").as_deref(),
            default_per_page,
        )
    }

    pub fn parse(page: Option<&str>, per_page: Option<&str>, default_per_page: i64) -> ApiResult<Self> {
        let page = match page.map(str::trim).filter(|p| !p.is_empty()) {
            None => 1,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(ApiError::field(
                        "page",
                        format!("The page must be a whole number between 1 and {MAX_PAGE}."),
                    ))
                }
            },
        };
        let per_page = match per_page.map(str::trim).filter(|p| !p.is_empty()) {
            None => default_per_page,
            Some(raw) => raw.parse::<i64>().map_err(|_| {
                ApiError::field(
                    "per_page",
                    format!("per_page must be a whole number up to {MAX_PER_PAGE}."),
                )
            })?,
        }
        .clamp(1, MAX_PER_PAGE);
        Ok(Self { page, per_page })
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    pub fn describe(&self, total: i64) -> Pagination {
        Pagination {
            page: self.page,
            per_page: self.per_page,
            total,
            last_page: (total + self.per_page - 1) / self.per_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_and_clamps() {
        assert_eq!(Page::parse(None, None, 20).unwrap(), Page { page: 1, per_page: 20 });
        assert_eq!(Page::parse(Some("3"), Some("1000"), 20).unwrap().per_page, 100);
        assert_eq!(Page::parse(Some("2"), Some("0"), 20).unwrap().offset(), 1);
    }

    #[test]
    fn impossible_pages_are_refused_by_field() {
        for raw in ["0", "-1", "9223372036854775807", "x", "1e3"] {
            assert!(
                matches!(Page::parse(Some(raw), None, 20), Err(ApiError::Validation(_))),
                "{raw}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_accepted_page_has_a_representable_offset(page in any::<String>(), per in any::<String>()) {
            if let Ok(p) = Page::parse(Some(&page), Some(&per), 20) {
                prop_assert!(p.offset() >= 0);
                prop_assert!(p.per_page >= 1 && p.per_page <= MAX_PER_PAGE);
            }
        }
    }
}

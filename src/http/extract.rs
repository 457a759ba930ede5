//! Extractors whose rejections are problem+json like every other error.

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// A JSON body; a malformed one is refused `invalid-request` with serde's reason.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rej) => Err(Problem::invalid_request(rej.status(), rej.body_text())),
        }
    }
}

/// Query parameters, refused the same way.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rej) => Err(Problem::invalid_request(rej.status(), rej.body_text())),
        }
    }
}

/// `limit` and `cursor` of a paginated list (DESIGN §10).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// At most this many items (1–1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(100).clamp(1, 1000))
    }
}

/// A numeric cursor (`next_cursor` of an id- or sequence-ordered list).
pub fn numeric_cursor(cursor: Option<&str>) -> Result<Option<i64>, Problem> {
    cursor.map(|c| c.parse::<i64>().map_err(|_| Problem::invalid_field(format!("bad cursor '{c}'")))).transpose()
}

/// One page of a list, with the cursor of the next page when there is one.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> PageOf<T> {
    /// `items` was fetched with `limit`; a full page means there may be more.
    pub fn new(items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() as i64 == limit { items.last().map(cursor) } else { None };
        PageOf { items, next_cursor }
    }
}

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

/// A JSON body that may be left out: an empty body is `T::default()`; a
/// malformed one is refused `invalid-request` (422).
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let body = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|rej| Problem::invalid_request(rej.status(), rej.body_text()))?;
        if body.is_empty() {
            return Ok(OptionalBody(T::default()));
        }
        serde_json::from_slice(&body)
            .map(OptionalBody)
            .map_err(|e| Problem::invalid_request(http::StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
    }
}

/// Path parameters; one that does not parse (an id that is not a number)
/// is refused `invalid-request` too.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
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

/// The most items one page of a list holds.
pub const MAX_LIMIT: u32 = 1000;

/// `limit` of a paginated list: 1 to [`MAX_LIMIT`]; anything else is
/// refused `invalid-request`, not quietly cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl utoipa::PartialSchema for Limit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        integer_schema("At most this many items.", 1, u64::from(MAX_LIMIT))
    }
}

impl utoipa::ToSchema for Limit {}

/// An integer between `min` and `max`, as the OpenAPI document states it.
pub fn integer_schema(
    description: &str,
    min: u64,
    max: u64,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some(description))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .into()
}

impl Limit {
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }

    /// The limit given, or `default`.
    pub fn or(limit: Option<Limit>, default: u32) -> i64 {
        limit.map_or(i64::from(default), Limit::get)
    }
}

impl<'de> serde::Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        if !(1..=MAX_LIMIT).contains(&n) {
            return Err(serde::de::Error::custom(format!("limit {n}: a page holds 1 to {MAX_LIMIT} items")));
        }
        Ok(Limit(n))
    }
}

/// `limit` and `cursor` of a paginated list (DESIGN §10).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// At most this many items (1–1000, default 100).
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> i64 {
        Limit::or(self.limit, 100)
    }
}

/// A numeric cursor (`next_cursor` of an id- or sequence-ordered list);
/// empty means the first page.
pub fn numeric_cursor(cursor: Option<&str>) -> Result<Option<i64>, Problem> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| c.parse::<i64>().map_err(|_| Problem::invalid_field(format!("bad cursor '{c}'"))))
        .transpose()
}

/// The schema of a numeric cursor's text.
pub fn numeric_cursor_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("The `next_cursor` of the previous page."))
        .pattern(Some("^[0-9]{0,18}$"))
        .build()
}

/// The schema of an address or CIDR block, IPv4 or IPv6.
pub fn ip_range_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaFormat, Type};
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let v4_cidr = "^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/(3[0-2]|[12]?[0-9])$";
    AnyOfBuilder::new()
        .item(text().format(Some(SchemaFormat::Custom("ipv4".into()))))
        .item(text().format(Some(SchemaFormat::Custom("ipv6".into()))))
        .item(text().pattern(Some(v4_cidr)))
        .description(Some("An IPv4/IPv6 address or an IPv4 CIDR block."))
        .into()
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

//! One module per page group; each handler asks the services for the view
//! the CLI prints and renders it.

pub mod agents;
pub mod mail;
pub mod mq;
pub mod overview;
pub mod trail;
pub mod work;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

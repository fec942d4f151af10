//! Errors of the HTTP API as RFC 9457 problem details, each with a stable
//! machine `code`, and the outcome document's HTTP status.

use airlock::report::{Code, Report, Status};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};

/// A response body: whole, or streamed (Server-Sent Events).
pub type Body = BoxBody<Bytes, std::convert::Infallible>;

/// `bytes` as a whole response body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A problem with the request itself (not with a run): `code` is stable,
/// `detail` is one line for people.
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response<Body> {
    let body = serde_json::json!({
        "type": format!("urn:airlock:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "code": code,
        "detail": airlock::rules::doc::one_line(detail),
    });
    let mut response = json_response(status, &body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// `value` as a JSON response.
pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|e| {
        format!("{{\"code\":\"internal\",\"detail\":\"cannot encode the response: {e}\"}}")
            .into_bytes()
    });
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The HTTP status an outcome document is sent with: 200 for a run that
/// ran, whatever its end (the document's `status` says it); the status of
/// the refusal or fault otherwise.
pub fn status_of(report: &Report) -> StatusCode {
    match (report.status, report.code) {
        (Status::Ok | Status::ActionError | Status::Limit, _) => StatusCode::OK,
        (_, Some(Code::UnknownAction)) => StatusCode::NOT_FOUND,
        (_, Some(Code::BadInput)) => StatusCode::UNPROCESSABLE_ENTITY,
        (_, Some(Code::AuditBusy | Code::AuditUnavailable)) => StatusCode::SERVICE_UNAVAILABLE,
        (Status::Refused, Some(Code::BadPolicy)) => StatusCode::INTERNAL_SERVER_ERROR,
        (Status::Refused, _) => StatusCode::FORBIDDEN,
        (Status::HostFault, _) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

//! `http-hello`: what the `hello` plugin does, answered over `wasi:http`:
//! read `{"name": …}` from the request body, reply with the greeting and
//! the count of vowels as JSON.

use serde::{Deserialize, Serialize};
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    greeting: String,
    vowels: usize,
}

struct Hello;

impl Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let (status, body) = match read(request).and_then(|bytes| answer(&bytes)) {
            Ok(json) => (200, json),
            Err(why) => (400, why.into_bytes()),
        };
        let headers = Fields::new();
        let _ = headers.set("content-type", &[b"application/json".to_vec()]);
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(status);
        let Ok(outgoing) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = outgoing.write() {
            let _ = stream.blocking_write_and_flush(&body);
        }
        let _ = OutgoingBody::finish(outgoing, None);
    }
}

/// The request's body, whole.
fn read(request: IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request.consume().map_err(|()| "no body".to_owned())?;
    let stream = body.stream().map_err(|()| "no body stream".to_owned())?;
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn answer(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let input: Input = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if input.name.trim().is_empty() {
        return Err("`name` is empty".into());
    }
    let vowels = input
        .name
        .chars()
        .filter(|c| "aeiouAEIOU".contains(*c))
        .count();
    let output = Output {
        greeting: format!("Hello, {}!", input.name),
        vowels,
    };
    serde_json::to_vec(&output).map_err(|e| e.to_string())
}

wasi::http::proxy::export!(Hello);

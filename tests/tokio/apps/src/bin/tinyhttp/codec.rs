//! The HTTP/1.1 framing of `tinyhttp`: a decoder that cuts requests (request line and
//! headers, no body) out of the byte stream, and an encoder that writes responses with
//! `Server`, `Content-Length`, `Date` and their own headers.

use std::io;

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Most headers accepted in one request.
const MAX_HEADERS: usize = 16;
/// Longest request head accepted (request line + headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One parsed request (the routes only look at the path).
#[allow(dead_code)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// One response: status code and reason, extra headers, body.
pub struct Response {
    status: (u16, &'static str),
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

impl Response {
    pub fn ok(content_type: &'static str, body: String) -> Response {
        Response { status: (200, "OK"), headers: vec![("content-type", content_type)], body }
    }

    pub fn not_found() -> Response {
        Response { status: (404, "Not Found"), headers: Vec::new(), body: String::new() }
    }
}

/// The codec.
pub struct Http;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Decoder for Http {
    type Item = Request;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Request>> {
        let Some(end) = src.windows(4).position(|w| w == b"\r\n\r\n") else {
            if src.len() > MAX_HEAD_BYTES {
                return Err(invalid("request head too long"));
            }
            return Ok(None);
        };
        let head = src.split_to(end + 4);
        let text = std::str::from_utf8(&head[..end]).map_err(|_| invalid("request head is not UTF-8"))?;
        let mut lines = text.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let (Some(method), Some(path), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(format!("failed to parse http request: {request_line:?}")));
        };
        if version != "HTTP/1.1" {
            return Err(invalid("only HTTP/1.1 accepted"));
        }
        if method.is_empty() || !path.starts_with('/') {
            return Err(invalid(format!("failed to parse http request: {request_line:?}")));
        }
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or_else(|| invalid(format!("bad header {line:?}")))?;
            if headers.len() == MAX_HEADERS {
                return Err(invalid("too many headers"));
            }
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(Some(Request { method: method.to_string(), path: path.to_string(), headers }))
    }
}

impl Encoder<Response> for Http {
    type Error = io::Error;

    fn encode(&mut self, item: Response, dst: &mut BytesMut) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 {} {}\r\nServer: Example\r\nContent-Length: {}\r\nDate: {}\r\n",
            item.status.0,
            item.status.1,
            item.body.len(),
            crate::date::http_date_now(),
        );
        dst.put_slice(head.as_bytes());
        for (name, value) in &item.headers {
            dst.put_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        dst.put_slice(b"\r\n");
        dst.put_slice(item.body.as_bytes());
        Ok(())
    }
}

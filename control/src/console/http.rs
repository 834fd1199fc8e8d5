//! The console's HTTP/1.1, bounded: one request per connection, its head parsed by `httparse`
//! (at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] headers), a body only with `Content-Length`
//! (at most [`MAX_BODY`] bytes), the whole request within [`REQUEST_DEADLINE`]. tiny_http (the
//! metrics endpoint's server) has none of these limits: it reads header lines of any length
//! and waits on a silent client for ever, which a console facing operators' networks cannot.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The most bytes of request line and headers.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most headers.
pub const MAX_HEADERS: usize = 32;
/// The largest body (an action is a few hundred bytes of JSON).
pub const MAX_BODY: usize = 16 * 1024;
/// How long a client has to send its whole request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// A parsed request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Header names (lower case) and values (headers that are not UTF-8 are left out).
    pub headers: Vec<(String, String)>,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
}

impl Request {
    /// Return the first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request was refused before it was looked at; each maps to a status code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    /// Not HTTP/1.x, or a broken request line or header.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] headers.
    #[error("request head too large (at most {MAX_HEAD} bytes, {MAX_HEADERS} headers)")]
    HeadTooLarge,
    /// The body is longer than [`MAX_BODY`].
    #[error("request body too large (at most {MAX_BODY} bytes)")]
    BodyTooLarge,
    /// A body without `Content-Length` (chunked).
    #[error("a body needs Content-Length (chunked bodies are not taken)")]
    LengthRequired,
    /// The client did not send its request in time.
    #[error("request not received within {}s", REQUEST_DEADLINE.as_secs())]
    Timeout,
    /// The client closed the connection, or it failed: nothing to answer.
    #[error("connection closed")]
    Closed,
}

impl HttpError {
    /// The status code to answer with.
    pub const fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::Closed => 400,
            Self::HeadTooLarge => 431,
            Self::BodyTooLarge => 413,
            Self::LengthRequired => 411,
            Self::Timeout => 408,
        }
    }
}

/// Read one request from `stream`, giving up at `deadline`.
///
/// # Errors
///
/// See [`HttpError`].
pub fn read_request(stream: &mut TcpStream, deadline: Instant) -> Result<Request, HttpError> {
    read_from(&mut |buf: &mut [u8]| {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::Timeout);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| HttpError::Closed)?;
        match stream.read(buf) {
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(HttpError::Timeout)
            }
            Err(_) => Err(HttpError::Closed),
        }
    })
}

/// The parser over any source of bytes (`read` returns 0 at the end), for tests.
pub fn read_from(
    read: &mut dyn FnMut(&mut [u8]) -> Result<usize, HttpError>,
) -> Result<Request, HttpError> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    let (mut req, head_len) = loop {
        if len == buf.len() {
            return Err(HttpError::HeadTooLarge);
        }
        let n = read(&mut buf[len..])?;
        if n == 0 {
            return Err(if len == 0 {
                HttpError::Closed
            } else {
                HttpError::Malformed("the request ended inside its head".into())
            });
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf[..len]) {
            Ok(httparse::Status::Partial) => {}
            Ok(httparse::Status::Complete(head_len)) => {
                let path = parsed.path.unwrap_or("/");
                let req = Request {
                    method: parsed.method.unwrap_or("").to_owned(),
                    path: path.split('?').next().unwrap_or("").to_owned(),
                    headers: parsed
                        .headers
                        .iter()
                        .filter_map(|h| {
                            std::str::from_utf8(h.value)
                                .ok()
                                .map(|v| (h.name.to_ascii_lowercase(), v.trim().to_owned()))
                        })
                        .collect(),
                    body: Vec::new(),
                };
                break (req, head_len);
            }
            Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
            Err(e) => return Err(HttpError::Malformed(e.to_string())),
        }
    };
    if req.header("transfer-encoding").is_some() {
        return Err(HttpError::LengthRequired);
    }
    let want = match req.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| HttpError::Malformed(format!("Content-Length \"{v}\"")))?,
    };
    if want > MAX_BODY {
        return Err(HttpError::BodyTooLarge);
    }
    let mut body = buf[head_len..len].to_vec();
    if body.len() > want {
        // Pipelining is not offered (one request per connection): extra bytes are an error.
        return Err(HttpError::Malformed(
            "more bytes than Content-Length".into(),
        ));
    }
    let mut chunk = [0u8; 4096];
    while body.len() < want {
        let room = (want - body.len()).min(chunk.len());
        let n = read(&mut chunk[..room])?;
        if n == 0 {
            return Err(HttpError::Malformed(
                "the body is shorter than Content-Length".into(),
            ));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    req.body = body;
    Ok(req)
}

/// A response; every one closes the connection and forbids caching and framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// JSON, UTF-8.
pub const JSON: &str = "application/json";
/// Plain text, UTF-8.
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    /// A response with `body`.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A plain-text error: `message` and a newline.
    pub fn text(status: u16, message: &str) -> Self {
        Self::new(status, TEXT, format!("{message}\n"))
    }

    /// A JSON body.
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Self::new(status, JSON, v.to_string())
    }

    /// Add a header.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Write the response (errors ignored: a client that left is its own problem).
    pub fn write_to(&self, w: &mut dyn Write) {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n\
             Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = w.write_all(head.as_bytes());
        let _ = w.write_all(&self.body);
        let _ = w.flush();
    }
}

const fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], step: usize) -> Result<Request, HttpError> {
        let mut at = 0;
        read_from(&mut |buf: &mut [u8]| {
            let n = step.min(buf.len()).min(bytes.len() - at);
            buf[..n].copy_from_slice(&bytes[at..at + n]);
            at += n;
            Ok(n)
        })
    }

    #[test]
    fn test_parses_a_post_in_small_pieces() {
        let raw = b"POST /api/action?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-CSRF-Token: t\r\n\r\nhello";
        for step in [1, 7, raw.len()] {
            let r = parse(raw, step).expect("parses");
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, "/api/action");
            assert_eq!(r.header("x-csrf-token"), Some("t"));
            assert_eq!(r.body, b"hello");
        }
    }

    #[test]
    fn test_refuses_what_is_too_large_or_malformed() {
        let mut big = b"GET / HTTP/1.1\r\nX-A: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(parse(&big, 1000), Err(HttpError::HeadTooLarge));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many, 4096), Err(HttpError::HeadTooLarge));
        let body = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(parse(body.as_bytes(), 4096), Err(HttpError::BodyTooLarge));
        assert_eq!(
            parse(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                4096
            ),
            Err(HttpError::LengthRequired)
        );
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 4096),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                4096
            ),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 4096),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\n", 4096),
            Err(HttpError::Malformed(_))
        ));
        assert_eq!(parse(b"", 4096), Err(HttpError::Closed));
        assert_eq!(HttpError::HeadTooLarge.status(), 431);
        assert_eq!(HttpError::BodyTooLarge.status(), 413);
    }

    #[test]
    fn test_a_silent_client_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let client = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\n").expect("write");
            std::thread::sleep(Duration::from_millis(800));
            drop(s);
        });
        let (mut s, _) = l.accept().expect("accept");
        let t = Instant::now();
        let r = read_request(&mut s, Instant::now() + Duration::from_millis(300));
        assert_eq!(r, Err(HttpError::Timeout));
        assert!(
            t.elapsed() < Duration::from_millis(700),
            "{:?}",
            t.elapsed()
        );
        client.join().expect("client");
    }
}

//! Static and firmware files over HTTP: the response body type, single
//! `Range` requests (RFC 9110 §14: 206 with `Content-Range`, 416 when
//! unsatisfiable; multi-range requests get the whole file, which the RFC
//! allows) and streaming from disk.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

/// Response body: bytes in memory or a file region streamed from disk.
pub enum RespBody {
    /// In memory (profiles, errors, metrics).
    Full(Option<Bytes>),
    /// `remaining` bytes of an open file, in chunks.
    File {
        /// The file, positioned at the first byte to send.
        file: tokio::fs::File,
        /// Bytes still to send.
        remaining: u64,
    },
}

impl RespBody {
    /// An in-memory body.
    pub fn full(b: impl Into<Bytes>) -> RespBody {
        RespBody::Full(Some(b.into()))
    }
    /// No body.
    pub fn empty() -> RespBody {
        RespBody::Full(None)
    }
}

const CHUNK: usize = 64 * 1024;

impl Body for RespBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            RespBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RespBody::File { file, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = (*remaining).min(CHUNK as u64) as usize;
                let mut buf = BytesMut::zeroed(want);
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(file).poll_read(cx, &mut rb) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            return Poll::Ready(Some(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "file shrank while being sent",
                            ))));
                        }
                        *remaining -= n as u64;
                        buf.truncate(n);
                        Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RespBody::Full(b) => b.as_ref().is_none_or(|b| b.is_empty()),
            RespBody::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RespBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RespBody::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

/// A parsed `Range` header against a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeReq {
    /// No (usable) range: send everything.
    Whole,
    /// Inclusive byte range.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n`. Multiple ranges and other
/// units are ignored (whole file).
pub fn parse_range(header: Option<&str>, len: u64) -> RangeReq {
    let Some(h) = header else {
        return RangeReq::Whole;
    };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeReq::Whole;
    };
    if spec.contains(',') {
        return RangeReq::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeReq::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => RangeReq::Whole,
        (true, false) => match parse(b) {
            Some(0) => RangeReq::Unsatisfiable,
            Some(n) if len > 0 => RangeReq::Part(len.saturating_sub(n), len - 1),
            Some(_) => RangeReq::Unsatisfiable,
            None => RangeReq::Whole,
        },
        (false, _) => {
            let Some(start) = parse(a) else {
                return RangeReq::Whole;
            };
            let end = if b.is_empty() {
                Some(u64::MAX)
            } else {
                parse(b)
            };
            match end {
                None => RangeReq::Whole,
                Some(end) if end < start => RangeReq::Whole,
                Some(_) if start >= len => RangeReq::Unsatisfiable,
                Some(end) => RangeReq::Part(start, end.min(len - 1)),
            }
        }
    }
}

/// Builds the response for a file (already resolved inside its root).
pub async fn file_response(
    path: &Path,
    range: Option<&str>,
    head: bool,
) -> io::Result<http::Response<RespBody>> {
    let mut file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let builder = http::Response::builder()
        .header(http::header::ACCEPT_RANGES, "bytes")
        .header(http::header::CONTENT_TYPE, "application/octet-stream");
    let resp = match parse_range(range, len) {
        RangeReq::Unsatisfiable => builder
            .status(http::StatusCode::RANGE_NOT_SATISFIABLE)
            .header(http::header::CONTENT_RANGE, format!("bytes */{len}"))
            .body(RespBody::empty()),
        RangeReq::Whole => builder
            .header(http::header::CONTENT_LENGTH, len)
            .body(if head {
                RespBody::empty()
            } else {
                RespBody::File {
                    file,
                    remaining: len,
                }
            }),
        RangeReq::Part(a, b) => {
            file.seek(io::SeekFrom::Start(a)).await?;
            let n = b - a + 1;
            builder
                .status(http::StatusCode::PARTIAL_CONTENT)
                .header(http::header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"))
                .header(http::header::CONTENT_LENGTH, n)
                .body(if head {
                    RespBody::empty()
                } else {
                    RespBody::File { file, remaining: n }
                })
        }
    };
    Ok(resp.expect("static headers are valid"))
}

/// A short plain-text answer (errors and refusals).
pub fn simple(status: http::StatusCode, text: &'static str) -> http::Response<RespBody> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(RespBody::full(Bytes::from_static(text.as_bytes())))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc9110() {
        use RangeReq::*;
        assert_eq!(parse_range(None, 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Part(0, 3));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-4"), 10), Part(6, 9));
        assert_eq!(parse_range(Some("bytes=-40"), 10), Part(0, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=3-1"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
    }
}

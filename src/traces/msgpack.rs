//! Decoding of the tracers' msgpack payloads: `/v0.4/traces` (an array of traces, each an
//! array of span maps) and `/v0.5/traces` (`[string table, traces]`, spans as 12-element
//! arrays of string-table indices). A minimal reader with bounds checks: a length that cannot
//! fit in what remains, a bad index or a wrong type is an error, never a panic or a huge
//! allocation.

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

use super::proto::Span;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload ends early")]
    Eof,
    #[error("expected {expected} at byte {at}, found marker 0x{marker:02x}")]
    Type {
        expected: &'static str,
        marker: u8,
        at: usize,
    },
    #[error("string is not UTF-8")]
    Utf8,
    #[error("length {0} is larger than the payload")]
    Length(usize),
    #[error("string table index {0} is out of range")]
    Index(u64),
    #[error("v0.5 span has {0} fields, expected 12")]
    Fields(usize),
    #[error("nesting too deep")]
    Depth,
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn peek(&self) -> R<u8> {
        self.buf.get(self.pos).copied().ok_or(DecodeError::Eof)
    }

    fn byte(&mut self) -> R<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Length(n))?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Eof)?;
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> R<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn wrong(&self, expected: &'static str, marker: u8) -> DecodeError {
        DecodeError::Type {
            expected,
            marker,
            at: self.pos.saturating_sub(1),
        }
    }

    /// A collection length, checked against the bytes left (every element takes ≥ 1 byte).
    fn checked(&self, len: usize) -> R<usize> {
        if len > self.buf.len() - self.pos {
            Err(DecodeError::Length(len))
        } else {
            Ok(len)
        }
    }

    pub fn array_len(&mut self) -> R<usize> {
        self.collection_len(0x90, 0xdc, "array")
    }

    pub fn map_len(&mut self) -> R<usize> {
        self.collection_len(0x80, 0xde, "map")
    }

    /// Length of an array or map: a fix form (`fix..fix+15`), 16- and 32-bit forms (`wide`,
    /// `wide+1`), or nil as empty.
    fn collection_len(&mut self, fix: u8, wide: u8, expected: &'static str) -> R<usize> {
        let m = self.byte()?;
        let len = match m {
            _ if (fix..=fix + 0x0f).contains(&m) => usize::from(m & 0x0f),
            _ if m == wide => self.be(2)? as usize,
            _ if m == wide + 1 => self.be(4)? as usize,
            0xc0 => 0,
            _ => return Err(self.wrong(expected, m)),
        };
        self.checked(len)
    }

    /// Raw bytes of a str or bin value (nil → empty).
    pub fn bytes(&mut self) -> R<&'a [u8]> {
        let m = self.byte()?;
        let len = match m {
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 | 0xc4 => self.be(1)? as usize,
            0xda | 0xc5 => self.be(2)? as usize,
            0xdb | 0xc6 => self.be(4)? as usize,
            0xc0 => 0,
            _ => return Err(self.wrong("string", m)),
        };
        self.take(len)
    }

    pub fn str(&mut self) -> R<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Utf8)
    }

    /// Any number as f64.
    pub fn f64(&mut self) -> R<f64> {
        let m = self.byte()?;
        Ok(match m {
            0x00..=0x7f => f64::from(m),
            0xe0..=0xff => f64::from(m as i8),
            0xcc => self.be(1)? as f64,
            0xcd => self.be(2)? as f64,
            0xce => self.be(4)? as f64,
            0xcf => self.be(8)? as f64,
            0xd0 => f64::from(self.be(1)? as u8 as i8),
            0xd1 => f64::from(self.be(2)? as u16 as i16),
            0xd2 => f64::from(self.be(4)? as u32 as i32),
            0xd3 => self.be(8)? as i64 as f64,
            0xca => f64::from(f32::from_bits(self.be(4)? as u32)),
            0xcb => f64::from_bits(self.be(8)?),
            0xc0 => 0.0,
            _ => return Err(self.wrong("number", m)),
        })
    }

    /// An integer as u64 (negative values wrap, as ids are unsigned on the wire; floats cast).
    pub fn u64(&mut self) -> R<u64> {
        let m = self.peek()?;
        match m {
            0xcf => {
                self.pos += 1;
                self.be(8)
            }
            0xd3 => {
                self.pos += 1;
                self.be(8)
            }
            0xca | 0xcb => Ok(self.f64()? as u64),
            _ => Ok(self.f64()? as i64 as u64),
        }
    }

    pub fn i64(&mut self) -> R<i64> {
        let m = self.peek()?;
        match m {
            0xcf | 0xd3 => {
                self.pos += 1;
                Ok(self.be(8)? as i64)
            }
            _ => Ok(self.f64()? as i64),
        }
    }

    /// Skips one value of any type.
    pub fn skip(&mut self) -> R<()> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: usize) -> R<()> {
        if depth > 64 {
            return Err(DecodeError::Depth);
        }
        let m = self.peek()?;
        match m {
            0x90..=0x9f | 0xdc | 0xdd => {
                for _ in 0..self.array_len()? {
                    self.skip_depth(depth + 1)?;
                }
            }
            0x80..=0x8f | 0xde | 0xdf => {
                for _ in 0..self.map_len()? * 2 {
                    self.skip_depth(depth + 1)?;
                }
            }
            0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => {
                self.bytes()?;
            }
            0xc2 | 0xc3 | 0xc0 => self.pos += 1,
            0xd4 => self.pos = self.pos.saturating_add(3),
            0xd5 => self.pos = self.pos.saturating_add(4),
            0xd6 => self.pos = self.pos.saturating_add(6),
            0xd7 => self.pos = self.pos.saturating_add(10),
            0xd8 => self.pos = self.pos.saturating_add(18),
            0xc7..=0xc9 => {
                self.pos += 1;
                let n = self.be(usize::from(1u8 << (m - 0xc7)))? as usize;
                self.take(n + 1)?;
            }
            _ => {
                self.f64()?;
            }
        }
        if self.pos > self.buf.len() {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }
}

/// Decodes a `/v0.4/traces` body.
pub fn decode_v04(body: &[u8]) -> Result<Vec<Vec<Span>>, DecodeError> {
    let mut out = Vec::new();
    decode_v04_each(body, |t| out.push(t))?;
    Ok(out)
}

/// Decodes a `/v0.4/traces` body one trace at a time, handing each to `each` as soon as it is
/// decoded (so a large body never exists decoded all at once). On an error, the traces before
/// it have been handed over.
pub fn decode_v04_each(body: &[u8], each: impl FnMut(Vec<Span>)) -> Result<(), DecodeError> {
    let mut r = Reader::new(body);
    traces(&mut r, span_v04, each)
}

/// The `[[span, …], …]` layout both versions share; `span` decodes one span.
fn traces<'a>(
    r: &mut Reader<'a>,
    mut span: impl FnMut(&mut Reader<'a>) -> Result<Span, DecodeError>,
    mut each: impl FnMut(Vec<Span>),
) -> Result<(), DecodeError> {
    let traces = r.array_len()?;
    for _ in 0..traces {
        let n = r.array_len()?;
        let mut trace = Vec::with_capacity(n);
        for _ in 0..n {
            trace.push(span(r)?);
        }
        each(trace);
    }
    Ok(())
}

fn span_v04(r: &mut Reader<'_>) -> Result<Span, DecodeError> {
    let mut s = Span::default();
    for _ in 0..r.map_len()? {
        match r.str()? {
            "service" => s.service = r.str()?.to_string(),
            "name" => s.name = r.str()?.to_string(),
            "resource" => s.resource = r.str()?.to_string(),
            "type" => s.r#type = r.str()?.to_string(),
            "trace_id" => s.trace_id = r.u64()?,
            "span_id" => s.span_id = r.u64()?,
            "parent_id" => s.parent_id = r.u64()?,
            "start" => s.start = r.i64()?,
            "duration" => s.duration = r.i64()?,
            "error" => s.error = r.i64()? as i32,
            "meta" => {
                let n = r.map_len()?;
                s.meta.reserve(n);
                for _ in 0..n {
                    let k = r.str()?.to_string();
                    s.meta.insert(k, r.str()?.to_string());
                }
            }
            "metrics" => {
                let n = r.map_len()?;
                s.metrics.reserve(n);
                for _ in 0..n {
                    let k = r.str()?.to_string();
                    s.metrics.insert(k, r.f64()?);
                }
            }
            "meta_struct" => {
                for _ in 0..r.map_len()? {
                    let k = r.str()?.to_string();
                    s.meta_struct.insert(k, r.bytes()?.to_vec());
                }
            }
            _ => r.skip()?,
        }
    }
    Ok(s)
}

/// Decodes a `/v0.5/traces` body.
pub fn decode_v05(body: &[u8]) -> Result<Vec<Vec<Span>>, DecodeError> {
    let mut out = Vec::new();
    decode_v05_each(body, |t| out.push(t))?;
    Ok(out)
}

/// [`decode_v04_each`] for `/v0.5/traces` (string table first).
pub fn decode_v05_each(body: &[u8], each: impl FnMut(Vec<Span>)) -> Result<(), DecodeError> {
    let mut r = Reader::new(body);
    if r.array_len()? != 2 {
        return Err(DecodeError::Fields(0));
    }
    let n = r.array_len()?;
    let mut table: Vec<&str> = Vec::with_capacity(n);
    for _ in 0..n {
        table.push(r.str()?);
    }
    let s = |r: &mut Reader<'_>| -> Result<String, DecodeError> {
        let i = r.u64()?;
        table
            .get(i as usize)
            .map(|s| s.to_string())
            .ok_or(DecodeError::Index(i))
    };
    traces(
        &mut r,
        |r| {
            let fields = r.array_len()?;
            if fields != 12 {
                return Err(DecodeError::Fields(fields));
            }
            let mut span = Span {
                service: s(r)?,
                name: s(r)?,
                resource: s(r)?,
                ..Default::default()
            };
            span.trace_id = r.u64()?;
            span.span_id = r.u64()?;
            span.parent_id = r.u64()?;
            span.start = r.i64()?;
            span.duration = r.i64()?;
            span.error = r.i64()? as i32;
            let m = r.map_len()?;
            let mut meta = HashMap::with_capacity(m);
            for _ in 0..m {
                meta.insert(s(r)?, s(r)?);
            }
            span.meta = meta;
            for _ in 0..r.map_len()? {
                let k = s(r)?;
                span.metrics.insert(k, r.f64()?);
            }
            span.r#type = s(r)?;
            Ok(span)
        },
        each,
    )
}

#[cfg(test)]
mod tests;

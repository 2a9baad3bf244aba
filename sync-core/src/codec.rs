//! A compact binary form of a record's merge state, for storing one row per
//! record. Decoding checks every byte and never panics: a stored state is
//! input like any other.
//!
//! Layout (version 1): `0x01`, then a varint count of registers, each being
//! the field code, `0`/`1` plus a 16-byte element UUID for set members, a
//! varint count of heads (24-byte HLC, 16-byte author, value), and a varint
//! count of superseded marks (24-byte HLCs). A value is a tag: 0 null, 1 false,
//! 2 true, 3 integer (zigzag varint), 4 text (varint length, UTF-8 bytes).
//!
//! Version 2 (only when the state holds keys this version of the schema does
//! not know, kept for forward compatibility): `0x02`, the version 1 body,
//! then a varint count of unknown registers, each a varint length and the
//! UTF-8 key name, then heads and marks as above (values are JSON texts).

use std::sync::Arc;

use uuid::Uuid;

use crate::hlc::Hlc;
use crate::merge::{Head, RecordState, Register};
use crate::schema::{Field, Key};
use crate::value::Value;

const VERSION: u8 = 1;
const VERSION_WITH_UNKNOWN: u8 = 2;

/// Why stored bytes are not a record state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("unknown state format version {0}")]
    Version(u8),
    #[error("state ends early")]
    Truncated,
    #[error("state holds an unknown field code {0}")]
    Field(u8),
    #[error("state holds an invalid value tag {0}")]
    Tag(u8),
    #[error("state holds an out-of-range clock")]
    Clock,
    #[error("state holds text that is not UTF-8")]
    Text,
    #[error("state has {0} bytes left over")]
    Trailing(usize),
}

/// Encodes a record's merge state.
pub fn encode(state: &RecordState) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let unknown: Vec<_> = state.unknown_registers().collect();
    out.push(if unknown.is_empty() {
        VERSION
    } else {
        VERSION_WITH_UNKNOWN
    });
    let registers: Vec<_> = state.registers().collect();
    put_varint(&mut out, registers.len() as u64);
    for (key, register) in registers {
        out.push(key.field.code());
        match key.member {
            Some(id) => {
                out.push(1);
                out.extend_from_slice(id.as_bytes());
            }
            None => out.push(0),
        }
        put_register(&mut out, register);
    }
    if !unknown.is_empty() {
        put_varint(&mut out, unknown.len() as u64);
        for (name, register) in unknown {
            put_varint(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
            put_register(&mut out, register);
        }
    }
    out
}

fn put_register(out: &mut Vec<u8>, register: &Register) {
    put_varint(out, register.heads().len() as u64);
    for head in register.heads() {
        out.extend_from_slice(&head.hlc.to_bytes());
        out.extend_from_slice(head.author.as_bytes());
        put_value(out, &head.value);
    }
    put_varint(out, register.superseded().len() as u64);
    for mark in register.superseded() {
        out.extend_from_slice(&mark.to_bytes());
    }
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<RecordState, DecodeError> {
    let mut r = Reader(bytes);
    let version = r.byte()?;
    if version != VERSION && version != VERSION_WITH_UNKNOWN {
        return Err(DecodeError::Version(version));
    }
    let count = r.count()?;
    let mut registers = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let code = r.byte()?;
        let field = Field::from_code(code).ok_or(DecodeError::Field(code))?;
        let key = match r.byte()? {
            0 => Key::field(field),
            1 => Key::member(field, Uuid::from_bytes(r.array()?)),
            tag => return Err(DecodeError::Tag(tag)),
        };
        registers.push((key, r.register()?));
    }
    let mut unknown = Vec::new();
    if version == VERSION_WITH_UNKNOWN {
        for _ in 0..r.count()? {
            let len = r.count()?;
            let name = std::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::Text)?;
            let name = name.to_owned();
            unknown.push((name, r.register()?));
        }
    }
    if !r.0.is_empty() {
        return Err(DecodeError::Trailing(r.0.len()));
    }
    Ok(RecordState::from_parts(registers, unknown))
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(0),
        Value::Bool(false) => out.push(1),
        Value::Bool(true) => out.push(2),
        Value::Int(i) => {
            out.push(3);
            put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        }
        Value::Text(s) => {
            out.push(4);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(DecodeError::Truncated)
    }

    /// A count of items that must each take at least one byte, so a corrupt
    /// count cannot make the decoder reserve more than the input could hold.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or(DecodeError::Truncated)
    }

    fn register(&mut self) -> Result<Register, DecodeError> {
        let heads_len = self.count()?;
        let mut heads = Vec::with_capacity(heads_len.min(64));
        for _ in 0..heads_len {
            let hlc = self.hlc()?;
            let author = Uuid::from_bytes(self.array()?);
            let value = self.value()?;
            heads.push(Head { hlc, value, author });
        }
        let marks_len = self.count()?;
        let mut marks = Vec::with_capacity(marks_len.min(4096));
        for _ in 0..marks_len {
            marks.push(self.hlc()?);
        }
        Ok(Register::from_parts(heads, marks))
    }

    fn hlc(&mut self) -> Result<Hlc, DecodeError> {
        Hlc::from_bytes(self.array()?).ok_or(DecodeError::Clock)
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        match self.byte()? {
            0 => Ok(Value::Null),
            1 => Ok(Value::Bool(false)),
            2 => Ok(Value::Bool(true)),
            3 => {
                let z = self.varint()?;
                Ok(Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64)))
            }
            4 => {
                let len = self.count()?;
                let text = std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::Text)?;
                Ok(Value::Text(Arc::from(text)))
            }
            tag => Err(DecodeError::Tag(tag)),
        }
    }
}

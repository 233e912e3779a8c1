//! Record encoding: a format-version byte, then postcard.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The record format version written by this build.
pub const FORMAT_VERSION: u8 = 1;

/// Why a stored record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(
        "record written by an unknown format version {0} (this build reads version {FORMAT_VERSION}); run idgraph backup with the newer build and restore"
    )]
    Version(u8),
    #[error("empty record")]
    Empty,
    #[error("corrupt record: {0}")]
    Corrupt(#[from] postcard::Error),
    #[error("corrupt compressed record: {0}")]
    Compressed(String),
    #[error("record compressed with dictionary {0}, which this space does not hold")]
    Dictionary(u32),
    #[error("corrupt event bundle: {0}")]
    Bundle(&'static str),
}

/// Encodes a record.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT_VERSION);
    encode_into(value, out)
}

/// Decodes a record, checking its version.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_VERSION, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&other, _)) => Err(CodecError::Version(other)),
    }
}

/// Decodes a record body that has no version byte of its own (an event inside a bundle,
/// whose record carries the version), borrowing strings from `bytes`.
pub fn decode_body<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(bytes)?)
}

/// Appends the postcard bytes of `value` to `out`: a record body without the version byte
/// (see [`decode_body`]) when `out` is empty. Callers that can guess the size reserve it, so
/// that a large record is not copied as it grows.
pub fn encode_into<T: Serialize>(value: &T, out: Vec<u8>) -> Vec<u8> {
    // postcard only fails on writer errors, which a Vec never returns.
    postcard::to_extend(value, out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Profile, ProfileId};

    #[test]
    fn round_trips_and_checks_version() {
        let p = Profile::new(ProfileId(4), 10);
        let bytes = encode(&p);
        assert_eq!(decode::<Profile>(&bytes).unwrap(), p);
        let mut wrong = bytes.clone();
        wrong[0] = 9;
        assert!(matches!(
            decode::<Profile>(&wrong),
            Err(CodecError::Version(9))
        ));
        assert!(decode::<Profile>(&bytes[..3]).is_err());
    }
}

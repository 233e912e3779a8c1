//! Identifier values kept in fewer bytes than their text: a UUID (anonymous ids, most
//! device ids) is 36 characters of text but 16 bytes of value, and a store of 1M people
//! indexes millions of them.

use std::ops::Deref;

/// Length of a UUID's text: 32 hex digits and 4 hyphens (8-4-4-4-12).
pub const UUID_TEXT_LEN: usize = 36;

/// Where a UUID's text has its hyphens.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Where a UUID's text has its 32 hex digits, in order.
fn digit_places() -> impl Iterator<Item = usize> {
    (0..UUID_TEXT_LEN).filter(|at| !HYPHENS.contains(at))
}

/// A UUID's 16 bytes and whether its text spells the hex digits in upper case, when `text`
/// is a UUID in one case (one that mixes cases is not packed: it would not read back the
/// same).
pub fn pack_uuid(text: &str) -> Option<([u8; 16], bool)> {
    let bytes = text.as_bytes();
    if bytes.len() != UUID_TEXT_LEN || HYPHENS.iter().any(|&at| bytes[at] != b'-') {
        return None;
    }
    let (mut lower, mut upper) = (false, false);
    let mut nibbles = [0u8; 32];
    for (slot, at) in nibbles.iter_mut().zip(digit_places()) {
        *slot = match bytes[at] {
            b @ b'0'..=b'9' => b - b'0',
            b @ b'a'..=b'f' => {
                lower = true;
                b - b'a' + 10
            }
            b @ b'A'..=b'F' => {
                upper = true;
                b - b'A' + 10
            }
            _ => return None,
        };
    }
    if lower && upper {
        return None;
    }
    let mut packed = [0u8; 16];
    for (byte, pair) in packed.iter_mut().zip(nibbles.chunks_exact(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    Some((packed, upper))
}

/// The text [`pack_uuid`] packed.
pub fn unpack_uuid(packed: &[u8; 16], upper: bool) -> [u8; UUID_TEXT_LEN] {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut text = [b'-'; UUID_TEXT_LEN];
    let nibbles = packed.iter().flat_map(|byte| [byte >> 4, byte & 0xf]);
    for (at, nibble) in digit_places().zip(nibbles) {
        text[at] = digits[usize::from(nibble)];
    }
    text
}

/// The text of an index entry: borrowed from the index, or a packed value written out.
#[derive(Debug, Clone, Copy)]
pub enum Text<'a> {
    Kept(&'a str),
    Uuid([u8; UUID_TEXT_LEN]),
}

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Kept(text) => text,
            // Hex digits and hyphens: always UTF-8.
            Text::Uuid(text) => std::str::from_utf8(text).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_in_one_case_read_back_as_they_came() {
        for text in [
            "9f8c2e4a-1b3d-4c5e-8f70-a1b2c3d4e5f6",
            "E621E1F8-C36C-495A-93FC-0C247A3E6E5F",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let (packed, upper) = pack_uuid(text).unwrap();
            assert_eq!(&*Text::Uuid(unpack_uuid(&packed, upper)), text);
        }
    }

    #[test]
    fn other_texts_are_not_packed() {
        for text in [
            "9f8c2e4a-1b3d-4c5e-8f70-A1B2C3D4E5F6",
            "9f8c2e4a1b3d4c5e8f70a1b2c3d4e5f6",
            "9f8c2e4a-1b3d-4c5e-8f70-a1b2c3d4e5f",
            "9f8c2e4a-1b3d-4c5e-8f70-a1b2c3d4e5fg",
            "9f8c2e4a-1b3d-4c5e-8f70-a1b2c3d4e5f6 ",
            "9f8c2e4a+1b3d-4c5e-8f70-a1b2c3d4e5f6",
            "9f8c2e4a-1b3d-4c5e-8f70-a1b2c3d4e5é",
        ] {
            assert_eq!(pack_uuid(text), None, "{text}");
        }
    }
}

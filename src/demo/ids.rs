//! Identifier values: random UUID-like ids drawn from the generator's rng, and codes derived
//! from a person's index that never collide between two people of one data set.

use rand::Rng;

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// A random version-4 UUID, lower- or upper-case (iOS clients send upper-case ones).
pub(crate) fn uuid<R: Rng + ?Sized>(rng: &mut R, upper: bool) -> String {
    let mut out = String::with_capacity(36);
    push_uuid(rng, upper, &mut out);
    out
}

/// Appends a random version-4 UUID to `out`.
pub(crate) fn push_uuid<R: Rng + ?Sized>(rng: &mut R, upper: bool, out: &mut String) {
    let digits = if upper { HEX_UPPER } else { HEX_LOWER };
    let (a, b) = (rng.next_u64(), rng.next_u64());
    for i in 0..32 {
        let word = if i < 16 { a } else { b };
        let nibble = match i {
            12 => 4,                                        // version 4
            16 => 8 | ((word >> ((i % 16) * 4)) & 3) as u8, // RFC 4122 variant
            _ => ((word >> ((i % 16) * 4)) & 0xf) as u8,
        };
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(digits[usize::from(nibble)] as char);
    }
}

/// `len` random lower-case hex digits.
pub(crate) fn hex<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    let mut out = String::with_capacity(len);
    push_hex(rng, len, &mut out);
    out
}

/// Appends `len` random lower-case hex digits to `out`.
pub(crate) fn push_hex<R: Rng + ?Sized>(rng: &mut R, len: usize, out: &mut String) {
    let mut word = 0u64;
    for i in 0..len {
        if i % 16 == 0 {
            word = rng.next_u64();
        }
        out.push(HEX_LOWER[((word >> ((i % 16) * 4)) & 0xf) as usize] as char);
    }
}

/// Collision-free codes for the people of one data set: a bijection of the person index,
/// keyed by the seed, so codes look random but two people never share one.
#[derive(Clone, Debug)]
pub(crate) struct Codes {
    key: u64,
    tag_modulus: u64,
    tag_width: usize,
}

const CODE_BITS: u32 = 40;
const CODE_MASK: u64 = (1 << CODE_BITS) - 1;
const PHONE_MODULUS: u64 = 10_000_000;

impl Codes {
    /// Codes for `people` people under `seed`.
    pub(crate) fn new(seed: u64, people: u64) -> Codes {
        let mut tag_width = 4;
        while 10u64.pow(tag_width as u32) < people.max(1) {
            tag_width += 1;
        }
        Codes {
            key: splitmix(seed),
            tag_modulus: 10u64.pow(tag_width as u32),
            tag_width,
        }
    }

    /// An opaque code in base 36 (8 characters), unique per `(index, salt)` within a salt.
    pub(crate) fn opaque(&self, index: u64, salt: u64) -> String {
        let key = splitmix(self.key ^ salt) & CODE_MASK;
        let mixed = (index.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & CODE_MASK) ^ key;
        base36(mixed, 8)
    }

    /// A fixed-width decimal tag unique per person index (for e-mail local parts).
    pub(crate) fn tag(&self, index: u64) -> String {
        let value = self.decimal(index, self.tag_modulus);
        format!("{value:0width$}", width = self.tag_width)
    }

    /// A 7-digit phone subscriber number, unique per person index below ten million.
    pub(crate) fn subscriber(&self, index: u64) -> String {
        format!("{:07}", self.decimal(index ^ 0x55, PHONE_MODULUS))
    }

    fn decimal(&self, index: u64, modulus: u64) -> u64 {
        // x -> (x * A + C) mod m is a bijection when A is coprime with m (a power of ten).
        const A: u128 = 7_654_321;
        let c = u128::from(self.key % modulus);
        ((u128::from(index % modulus) * A + c) % u128::from(modulus)) as u64
    }
}

/// SplitMix64 finaliser: spreads a seed over all bits.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn base36(mut value: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;

    #[test]
    fn uuids_have_the_v4_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let id = uuid(&mut rng, false);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id.matches('-').count(), 4);
        assert!(
            uuid(&mut rng, true)
                .chars()
                .all(|c| !c.is_ascii_lowercase())
        );
        assert_eq!(hex(&mut rng, 40).len(), 40);
    }

    #[test]
    fn codes_never_collide() {
        let codes = Codes::new(9, 20_000);
        let mut tags = HashSet::new();
        let mut opaque = HashSet::new();
        let mut phones = HashSet::new();
        for i in 0..20_000 {
            assert!(tags.insert(codes.tag(i)));
            assert!(opaque.insert(codes.opaque(i, 1)));
            assert!(phones.insert(codes.subscriber(i)));
        }
        assert_eq!(codes.tag(3).len(), 5);
        assert_ne!(codes.opaque(3, 1), codes.opaque(3, 2));
    }
}

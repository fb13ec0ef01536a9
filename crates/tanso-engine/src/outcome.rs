//! The stored form of a rejection (kept outside the chains, bound to its command id):
//! `u32 count`, then per failure `u16 code` and a `u16`-length UTF-8 message.

use tanso_core::checks::{Code, Failure, Rejection};
use tanso_core::encode::{Dec, Enc};

pub fn encode_rejection(r: &Rejection) -> Vec<u8> {
    let mut e = Enc::new();
    e.len(r.failures.len());
    for f in &r.failures {
        e.u16(f.code.0);
        e.str(&f.message);
    }
    e.buf
}

/// Decodes a stored rejection; a damaged record decodes as a storage fault (7001) rather than
/// failing the caller.
pub fn decode_rejection(b: &[u8]) -> Rejection {
    let mut d = Dec::new(b);
    let parse = |d: &mut Dec| -> Result<Rejection, tanso_core::encode::DecodeError> {
        let n = d.count()?;
        let mut failures = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            failures.push(Failure {
                code: Code(d.u16()?),
                message: d.str()?.to_owned(),
            });
        }
        Ok(Rejection { failures })
    };
    parse(&mut d).unwrap_or_else(|e| Rejection::one(Code::STORAGE_UNAVAILABLE, e.to_string()))
}

//! HMAC-SHA256 request signatures, as Slack and GitHub both use them: the hex digest of the
//! secret over some parts of the request, compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn mac(secret: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac
}

/// The lowercase hex HMAC-SHA256 of `parts`, in order, with `secret`.
pub fn hex_digest(secret: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(mac(secret, parts).finalize().into_bytes())
}

/// Whether `hex_sig` is the HMAC-SHA256 of `parts` with `secret`, compared in constant time.
pub fn matches(secret: &[u8], parts: &[&[u8]], hex_sig: &str) -> bool {
    hex::decode(hex_sig.trim()).is_ok_and(|sig| mac(secret, parts).verify_slice(&sig).is_ok())
}

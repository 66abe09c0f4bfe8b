//! Discord's signing of HTTP interactions: Ed25519 over `timestamp + body` with the
//! application's public key (`DISCORD_PUBLIC_KEY`), checked by serenity's verifier; the
//! timestamp must also be within five minutes of now (serenity does not check its age), against
//! replays. Discord sends deliberately bad signatures to see that they are refused.

use serenity::interactions_endpoint::Verifier;

use crate::chat::signing::fresh;
pub use crate::chat::signing::{SignatureError, WINDOW_SECS};

/// The application's public key, as the developer portal shows it (64 hex digits).
pub struct Key(Verifier);

impl Key {
    pub fn parse(hex_key: &str) -> Result<Key, String> {
        let bytes = hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or("DISCORD_PUBLIC_KEY is not 64 hex digits")?;
        Verifier::try_new(bytes)
            .map(Key)
            .map_err(|e| format!("DISCORD_PUBLIC_KEY is not an Ed25519 public key: {e}"))
    }

    /// Checks a request; `now` is seconds since the epoch.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let (ts, sig) = fresh(timestamp, signature, now)?;
        self.0
            .verify(sig, ts, body)
            .map_err(|()| SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(key: &SigningKey, ts: i64, body: &[u8]) -> String {
        let message = [ts.to_string().as_bytes(), body].concat();
        hex::encode(key.sign(&message).to_bytes())
    }

    #[test]
    fn a_signed_request_passes_and_forged_stale_or_missing_ones_do_not() {
        let signer = SigningKey::from_bytes(&[7u8; 32]);
        let key = Key::parse(&hex::encode(signer.verifying_key().to_bytes())).unwrap();
        let body = br#"{"type":1}"#;
        let now = 1_764_547_200;
        let good = signed(&signer, now, body);
        let ts = now.to_string();
        assert_eq!(key.verify(Some(&good), Some(&ts), body, now + 10), Ok(()));
        // Another body, another key, a flipped bit: refused.
        assert_eq!(
            key.verify(Some(&good), Some(&ts), br#"{"type":2}"#, now),
            Err(SignatureError::Mismatch)
        );
        let other = SigningKey::from_bytes(&[9u8; 32]);
        assert_eq!(
            key.verify(Some(&signed(&other, now, body)), Some(&ts), body, now),
            Err(SignatureError::Mismatch)
        );
        let mut flipped = good.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            key.verify(Some(&flipped), Some(&ts), body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.verify(Some("not hex"), Some(&ts), body, now),
            Err(SignatureError::Mismatch)
        );
        // A replay past the window, a timestamp that is not one, a missing header.
        assert_eq!(
            key.verify(Some(&good), Some(&ts), body, now + WINDOW_SECS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            key.verify(Some(&good), Some("soon"), body, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            key.verify(None, Some(&ts), body, now),
            Err(SignatureError::Missing)
        );
        assert!(Key::parse("abc").is_err());
    }
}

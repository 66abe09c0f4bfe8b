//! Slack request signing: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret,
//! accepted only within five minutes of the request's timestamp (against replays).

use crate::chat::signing::fresh;
pub use crate::chat::signing::{SignatureError, WINDOW_SECS};
use crate::http::hmac;

/// Checks a request. `now` is seconds since the epoch (injected so the documented example,
/// years old, can be checked).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (ts, sig) = fresh(timestamp, signature, now)?;
    let expected = sig.strip_prefix("v0=").ok_or(SignatureError::Mismatch)?;
    let parts: [&[u8]; 4] = [b"v0:", ts.as_bytes(), b":", body];
    if hmac::matches(secret, &parts, expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs a request as Slack does (for tests and local tools).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let prefix = format!("v0:{timestamp}:");
    format!(
        "v0={}",
        hmac::hex_digest(secret, &[prefix.as_bytes(), body])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example ("Verifying requests from Slack").
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        let now = 1531420618 + 10;
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY.as_bytes(), now),
            Ok(())
        );
        assert_eq!(sign(SECRET, 1531420618, BODY.as_bytes()), SIG);
    }

    #[test]
    fn forged_stale_and_missing_signatures_fail() {
        let now = 1531420618;
        let mut forged = BODY.as_bytes().to_vec();
        forged[0] = b'T';
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), &forged, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(TS), Some(SIG), BODY.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                SECRET,
                Some(TS),
                Some(SIG),
                BODY.as_bytes(),
                now + WINDOW_SECS + 1
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, Some(SIG), BODY.as_bytes(), now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some("v0=zz"), BODY.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
    }
}

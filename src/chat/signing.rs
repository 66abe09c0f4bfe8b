//! What every signed chat request shares (Slack's HMAC, Discord's Ed25519): both headers
//! present, and a timestamp within five minutes of now, against replays. Each adapter's
//! `signature` module checks the signature itself.

/// How far a request's timestamp may be from now, in seconds.
pub const WINDOW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature or timestamp header")]
    Missing,
    #[error("request timestamp is not a number")]
    BadTimestamp,
    #[error("request timestamp is outside the {WINDOW_SECS}-second window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// The timestamp and signature, trimmed, when both are there and the timestamp is within
/// the window of `now` (seconds since the epoch).
pub fn fresh<'a>(
    timestamp: Option<&'a str>,
    signature: Option<&'a str>,
    now: i64,
) -> Result<(&'a str, &'a str), SignatureError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let ts = ts.trim();
    let t: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
    if now.abs_diff(t) > WINDOW_SECS as u64 {
        return Err(SignatureError::Stale);
    }
    Ok((ts, sig.trim()))
}

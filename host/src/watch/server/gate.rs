//! Which deliveries are this watch's: the channel they must name and their token, compared in
//! constant time.

use sha2::{Digest, Sha256};

/// The channel a delivery must name and a digest of its token.
#[derive(Clone)]
pub struct Gate {
    pub channel_id: String,
    token_digest: [u8; 32],
}

impl Gate {
    pub fn new(channel_id: &str, token: &str) -> Gate {
        Gate { channel_id: channel_id.to_string(), token_digest: Sha256::digest(token.as_bytes()).into() }
    }

    /// Compares digests byte by byte without stopping early: the time taken says nothing about
    /// how much of a guessed token was right, nor its length.
    pub(super) fn admits(&self, channel_id: &str, token: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let differences = given.iter().zip(self.token_digest.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (differences == 0) & (channel_id == self.channel_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_only_the_channels_own_token() {
        let gate = Gate::new("1000000068001", "s3cret-token");
        assert!(gate.admits("1000000068001", "s3cret-token"));
        for (channel, token) in [("1000000068001", "s3cret-tokeN"), ("1000000068001", ""), ("1000000068001", "s3cret-token "), ("1000000068002", "s3cret-token"), ("", "s3cret-token")] {
            assert!(!gate.admits(channel, token), "{channel} {token}");
        }
    }
}

//! Message authentication used by the dialects: request signatures, webhook signatures
//! and return codes. Comparisons of secrets are constant-time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};

/// Lowercase hex HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Lowercase hex HMAC-SHA512 of `message` under `key` (QR Money's notifications).
pub fn hmac_sha512_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// True when `signature_hex` (either case) is the HMAC-SHA256 of `message` under `key`;
/// compared in constant time.
pub fn verify_hmac_sha256_hex(key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(signature) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(&signature).is_ok()
}

/// Lowercase hex MD5 of `text` (PayRequest's return codes; not a secret-keeping hash).
pub fn md5_hex(text: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn hmac_sha512_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_sha512_hex(b"Jefe", b"what do ya want for nothing?"),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let sig = hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(verify_hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?", &sig.to_uppercase()));
        assert!(!verify_hmac_sha256_hex(b"Jefe", b"what do ya want for something?", &sig));
        assert!(!verify_hmac_sha256_hex(b"Jefe", b"x", "not hex"));
    }
}

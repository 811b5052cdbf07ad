//! The signing key, made afresh at every start, and what a broker needs to verify with it.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use rand::{TryRngCore, rngs::OsRng};
use rsa::{
    RsaPrivateKey,
    pkcs1::EncodeRsaPrivateKey,
    pkcs8::{EncodePublicKey, LineEnding},
};

use crate::{config::SigningAlg, error::TokenServiceError};

/// Bytes in an HS256 secret.
const HS256_SECRET_BYTES: usize = 32;
/// Bits in an RS256 modulus.
const RSA_BITS: usize = 2048;

/// What a broker needs to verify the service's tokens. `Debug` never shows the HS256 secret.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyKey {
    /// HS256: the shared secret, base64url without padding, i.e. a JWK `k`. A secret: never log
    /// it. For RabbitMQ's `advanced.config`:
    /// `{map, #{<<"kty">> => <<"oct">>, <<"alg">> => <<"HS256">>, <<"k">> => <<"SECRET">>}}`.
    Hs256 {
        /// The secret, base64url, no padding.
        secret_base64url: String,
    },
    /// RS256: the public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for RabbitMQ's
    /// `{pem, <<"...">>}` or `pem_file` signing keys.
    Rs256 {
        /// The public key, PEM.
        public_key_pem: String,
    },
}

impl VerifyKey {
    /// The file name [`VerifyKey::write_to_dir`] uses: `hs256.key` or `rs256.pub.pem`.
    pub fn file_name(&self) -> &'static str {
        match self {
            VerifyKey::Hs256 { .. } => "hs256.key",
            VerifyKey::Rs256 { .. } => "rs256.pub.pem",
        }
    }

    /// Writes the key to `dir/`[`file_name`](VerifyKey::file_name) and returns the path:
    /// the HS256 secret (base64url and a newline) with mode 0600, the RS256 public PEM with
    /// mode 0644. Replaces an existing file.
    pub fn write_to_dir(&self, dir: &Path) -> Result<PathBuf, TokenServiceError> {
        let path = dir.join(self.file_name());
        let (contents, mode) = match self {
            VerifyKey::Hs256 { secret_base64url } => (format!("{secret_base64url}\n"), 0o600),
            VerifyKey::Rs256 { public_key_pem } => (public_key_pem.clone(), 0o644),
        };
        write_with_mode(&path, contents.as_bytes(), mode).map_err(|source| {
            TokenServiceError::WriteKey {
                path: path.clone(),
                source,
            }
        })?;
        Ok(path)
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyKey::Hs256 { .. } => f
                .debug_struct("Hs256")
                .field("secret_base64url", &"[redacted]")
                .finish(),
            VerifyKey::Rs256 { public_key_pem } => f
                .debug_struct("Rs256")
                .field("public_key_pem", public_key_pem)
                .finish(),
        }
    }
}

/// Creates (or truncates) `path` with `mode`, and sets `mode` again in case the file existed.
fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(mode);
        let mut file = options.open(path)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        let mut file = options.open(path)?;
        file.write_all(contents)?;
        file.sync_all()
    }
}

/// A signing key and its verification half. `Debug` shows neither secret.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(crate) alg: SigningAlg,
    pub(crate) encoding: EncodingKey,
    pub(crate) verify: VerifyKey,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("alg", &self.alg)
            .field("encoding", &"[redacted]")
            .field("verify", &self.verify)
            .finish()
    }
}

impl Keys {
    /// A fresh key for `alg`. RS256 key generation is CPU-bound (a fraction of a second
    /// optimised): call it off the async runtime.
    pub(crate) fn generate(alg: SigningAlg) -> Result<Keys, TokenServiceError> {
        match alg {
            SigningAlg::Hs256 => {
                let mut secret = [0u8; HS256_SECRET_BYTES];
                OsRng.try_fill_bytes(&mut secret).map_err(|e| {
                    TokenServiceError::KeyGeneration(format!("no OS randomness: {e}"))
                })?;
                let keys = Keys {
                    alg,
                    encoding: EncodingKey::from_secret(&secret),
                    verify: VerifyKey::Hs256 {
                        secret_base64url: URL_SAFE_NO_PAD.encode(secret),
                    },
                };
                secret.fill(0);
                Ok(keys)
            }
            SigningAlg::Rs256 => {
                let failed = |what: &str, e: &dyn fmt::Display| {
                    TokenServiceError::KeyGeneration(format!("{what}: {e}"))
                };
                let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                    .map_err(|e| failed("RSA key generation failed", &e))?;
                // jsonwebtoken's RustCrypto backend reads private keys as PKCS#1 DER.
                let der = private
                    .to_pkcs1_der()
                    .map_err(|e| failed("cannot encode the private key", &e))?;
                let public_key_pem = private
                    .to_public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|e| failed("cannot encode the public key", &e))?;
                Ok(Keys {
                    alg,
                    encoding: EncodingKey::from_rsa_der(der.as_bytes()),
                    verify: VerifyKey::Rs256 { public_key_pem },
                })
            }
        }
    }
}

/// Random bytes from the OS, hex-encoded (for `jti`).
pub(crate) fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_secrets_are_fresh_and_redacted() -> Result<(), TokenServiceError> {
        let a = Keys::generate(SigningAlg::Hs256)?;
        let b = Keys::generate(SigningAlg::Hs256)?;
        let VerifyKey::Hs256 { secret_base64url } = &a.verify else {
            panic!("not an HS256 key: {:?}", a.verify);
        };
        assert_eq!(
            secret_base64url.len(),
            43,
            "32 bytes, base64url, no padding"
        );
        assert_ne!(a.verify, b.verify, "two starts, two secrets");
        let shown = format!("{a:?} {:?}", a.verify);
        assert!(!shown.contains(secret_base64url.as_str()), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        Ok(())
    }

    #[test]
    fn random_hex_has_the_asked_length() -> Result<(), String> {
        let a = random_hex(16)?;
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(16)?);
        Ok(())
    }
}

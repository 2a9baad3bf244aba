//! Access tokens (HS256 JWTs bound to a user and a device) and refresh tokens
//! (opaque random strings, stored only as SHA-256 hashes).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_core::{Principal, Role};
use uuid::Uuid;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub dev: Uuid,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<String>,
    /// The login (refresh token family) this token belongs to: revoking the
    /// login revokes the token.
    pub fam: i64,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl Claims {
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.sub,
            role: self.role,
            centre_id: self.centre.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, forged or signed with another algorithm")]
    Invalid,
    #[error("the token has expired; refresh it")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// The signing key, from the secret the store generated on first start.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// Clock leeway for `nbf` and `exp`, for servers whose clocks differ a little.
const LEEWAY_SECS: i64 = 5;

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        // Only HS256 is accepted: `alg: none` and every other algorithm fail.
        let mut validation = Validation::new(Algorithm::HS256);
        // Time claims are checked against the server's injectable clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["exp", "nbf", "iat", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.exp <= now_secs - LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now_secs + LEEWAY_SECS {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// A new refresh token: the text for the client and the hash to store.
pub fn new_refresh_token() -> Result<(String, [u8; 32]), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let text = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&text);
    Ok((text, hash))
}

pub fn refresh_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random secret for signing access tokens.
pub fn new_signing_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    // The OS random source failing at first start is not recoverable.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("no OS randomness for the signing secret: {e}");
    }
    bytes
}

//! Password hashing with argon2id (19 MiB, 2 passes: the crate's defaults),
//! stored as PHC strings. Hashing runs in a [`Workspace`] whose 19 MiB of
//! argon2 memory is allocated once and reused, so a storm of logins neither
//! allocates nor leaves freed blocks behind in the allocator.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

fn err(e: impl std::fmt::Display) -> HashError {
    HashError(e.to_string())
}

/// How costly new password hashes are (`ASA_PASSWORD_COST`). Verifying
/// always uses the cost stored in the hash itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cost {
    /// argon2id, 19 MiB, 2 passes: about 50 ms of CPU per login.
    #[default]
    Standard,
    /// argon2id, 64 KiB, 1 pass: for simulations of tens of thousands of
    /// accounts (`asa-sim`), never for real people's passwords.
    Simulation,
}

static COST: std::sync::OnceLock<Cost> = std::sync::OnceLock::new();

/// Sets the cost of every hash made from now on in this process (once;
/// later calls are ignored).
pub fn use_cost(cost: Cost) {
    let _ = COST.set(cost);
}

fn params() -> Params {
    params_of(COST.get().copied().unwrap_or_default())
}

fn params_of(cost: Cost) -> Params {
    match cost {
        Cost::Standard => Params::DEFAULT,
        Cost::Simulation => {
            Params::new(64, 1, 1, Some(Params::DEFAULT_OUTPUT_LEN)).unwrap_or(Params::DEFAULT)
        }
    }
}

/// Argon2 working memory, reused from one hash to the next.
#[derive(Debug, Default)]
pub struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            blocks: vec![Block::default(); Params::DEFAULT.block_count()],
        }
    }

    fn run(
        &mut self,
        params: Params,
        algorithm: Algorithm,
        version: Version,
        password: &str,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashError> {
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                out,
                &mut self.blocks[..needed],
            )
            .map_err(err)
    }

    /// A PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (at
    /// the standard [`Cost`]).
    pub fn hash(&mut self, password: &str) -> Result<String, HashError> {
        self.hash_with(password, params())
    }

    fn hash_with(&mut self, password: &str, params: Params) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(err)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.run(
            params.clone(),
            Algorithm::Argon2id,
            Version::V0x13,
            password,
            &salt,
            &mut out,
        )?;
        let salt = SaltString::encode_b64(&salt).map_err(err)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: (&params).try_into().map_err(err)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(err)?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `stored`; a malformed stored hash never
    /// matches. The comparison is constant-time (`Output`'s equality).
    pub fn verify(&mut self, password: &str, stored: &str) -> bool {
        self.try_verify(password, stored).unwrap_or(false)
    }

    fn try_verify(&mut self, password: &str, stored: &str) -> Result<bool, HashError> {
        let phc = PasswordHash::new(stored).map_err(err)?;
        let algorithm = Algorithm::try_from(phc.algorithm).map_err(err)?;
        let version = Version::try_from(phc.version.unwrap_or(0x13)).map_err(err)?;
        let params = Params::try_from(&phc).map_err(err)?;
        let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
            return Ok(false);
        };
        let mut salt_buf = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buf).map_err(err)?;
        let mut out = vec![0u8; expected.len()];
        self.run(params, algorithm, version, password, salt, &mut out)?;
        Ok(Output::new(&out).map_err(err)? == expected)
    }
}

/// Hashes on a fresh workspace: for the command line and the first start.
pub fn hash(password: &str) -> Result<String, HashError> {
    Workspace::new().hash(password)
}

/// A valid hash of no one's password, verified against when a username does
/// not exist, so a failed login takes as long either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password nobody has").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let mut workspace = Workspace::new();
        let ours = workspace.hash("รหัสผ่านยาวพอ").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password("รหัสผ่านยาวพอ".as_bytes(), &parsed)
            .is_ok());

        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"another one", &salt)
            .unwrap()
            .to_string();
        assert!(workspace.verify("another one", &theirs));
        assert!(!workspace.verify("another two", &theirs));
        assert!(!workspace.verify("another one", "$argon2id$garbage"));
        assert!(!workspace.verify("another one", ""));
    }

    #[test]
    fn a_simulation_hash_is_cheap_and_verifies_like_any_other() {
        let mut workspace = Workspace::new();
        let cheap = workspace
            .hash_with("simulated volunteer", params_of(Cost::Simulation))
            .unwrap();
        assert!(cheap.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{cheap}");
        assert!(workspace.verify("simulated volunteer", &cheap));
        assert!(!workspace.verify("simulated volunteeR", &cheap));
    }
}

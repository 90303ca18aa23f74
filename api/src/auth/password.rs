//! Password hashing: Argon2id for new hashes; bcrypt hashes imported from the
//! Laravel backend still verify, and are replaced with Argon2id on login.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub fn hash(password: &str, memory_kib: u32) -> Result<String, String> {
    let params = Params::new(memory_kib.max(Params::MIN_M_COST), 2, 1, None).map_err(|e| e.to_string())?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// What checking a password against a stored hash says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The password is the one the hash was made from.
    pub matches: bool,
    /// The hash is of an old kind (Laravel's bcrypt): replace it.
    pub rehash: bool,
}

/// Whether `password` matches `stored`, and whether `stored` should be replaced.
pub fn verify(password: &str, stored: &str) -> Verdict {
    if stored.starts_with("$2") {
        // Laravel writes `$2y$`; the bcrypt crate reads it.
        return Verdict {
            matches: bcrypt::verify(password, stored).unwrap_or(false),
            rehash: true,
        };
    }
    let matches = PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
    Verdict { matches, rehash: false }
}

/// A hash to verify against when the account does not exist, so that a
/// wrong e-mail costs as much time as a wrong password (no enumeration by timing).
pub fn decoy(memory_kib: u32) -> String {
    hash("decoy password that matches nothing", memory_kib).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let stored = hash("correct horse", 1024).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert_eq!(
            verify("correct horse", &stored),
            Verdict {
                matches: true,
                rehash: false
            }
        );
        assert_eq!(
            verify("wrong horse", &stored),
            Verdict {
                matches: false,
                rehash: false
            }
        );
    }

    #[test]
    fn laravel_bcrypt_hashes_verify_and_ask_to_be_rehashed() {
        let laravel = bcrypt::hash("secret123", 4).unwrap().replacen("$2b$", "$2y$", 1);
        assert_eq!(
            verify("secret123", &laravel),
            Verdict {
                matches: true,
                rehash: true
            }
        );
        assert!(!verify("secret124", &laravel).matches);
        assert_eq!(
            verify("x", "garbage"),
            Verdict {
                matches: false,
                rehash: false
            }
        );
    }
}

//! Accounts: emails, passwords, display names, roles and statuses, parsed once at the edge.
use std::fmt;

use super::{bounded_text, Invalid};

/// A syntactically valid email, trimmed and lower-cased (so uniqueness is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, Invalid> {
        let email = raw.trim().to_lowercase();
        let invalid = || Invalid("email is not a valid address".to_owned());
        if email.len() > 254 {
            return Err(Invalid("email must be at most 254 characters".to_owned()));
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Email(email))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of 8 to 128 characters. Never logged, never stored: only its hash is.
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(raw: &str) -> Result<Password, Invalid> {
        let len = raw.chars().count();
        if len < Self::MIN {
            return Err(Invalid(format!(
                "password must be at least {} characters",
                Self::MIN
            )));
        }
        if len > Self::MAX {
            return Err(Invalid(format!(
                "password must be at most {} characters",
                Self::MAX
            )));
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name of 1 to 100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<DisplayName, Invalid> {
        let name = bounded_text(raw, "display name", 1, 100)?;
        if name.chars().any(char::is_control) {
            return Err(Invalid(
                "display name must not contain control characters".to_owned(),
            ));
        }
        Ok(DisplayName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Buyer,
    Provider,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "BUYER",
            Role::Provider => "PROVIDER",
            Role::Admin => "ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "BUYER" => Some(Role::Buyer),
            "PROVIDER" => Some(Role::Provider),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user's roles, kept sorted and free of duplicates; stored as "BUYER,ADMIN".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// Every account can buy; ADMIN comes from ADMIN_EMAILS.
    pub fn for_new_user(admin: bool) -> Roles {
        let mut roles = Roles(vec![Role::Buyer]);
        if admin {
            roles.insert(Role::Admin);
        }
        roles
    }

    /// Reads the stored form. An unknown name is an error, never dropped nor guessed: the
    /// account then fails to load, so authentication fails closed.
    pub fn from_stored(stored: &str) -> Result<Roles, Invalid> {
        let mut roles = Roles::default();
        for name in stored.split(',').filter(|r| !r.trim().is_empty()) {
            let role = Role::parse(name.trim())
                .ok_or_else(|| Invalid(format!("unknown stored role {name:?}")))?;
            roles.insert(role);
        }
        Ok(roles)
    }

    pub fn to_stored(&self) -> String {
        self.names().join(",")
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_owned()).collect()
    }

    pub fn insert(&mut self, role: Role) {
        if let Err(at) = self.0.binary_search(&role) {
            self.0.insert(at, role);
        }
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.binary_search(&role).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
}

/// The stored vocabulary (a SeaORM active enum in the entity crate). A value no variant owns
/// fails to read, so a corrupt row never grants access.
pub use entity::users::UserStatus;

/// Only active accounts may log in, refresh or use a token.
pub fn may_sign_in(status: UserStatus) -> bool {
    status == UserStatus::Active
}

/// The reason an admin gives for a status change: 1 to 500 characters.
pub fn status_reason(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, "reason", 1, 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn plus_addresses_and_subdomains_are_accepted() {
        assert!(Email::parse("a+tag@mail.example.co.uk").is_ok());
    }

    #[test]
    fn an_email_without_at_is_rejected() {
        assert!(Email::parse("ada.example.com").is_err());
    }

    #[test]
    fn an_email_without_a_dotted_domain_is_rejected() {
        assert!(Email::parse("ada@localhost").is_err());
        assert!(Email::parse("ada@example.").is_err());
        assert!(Email::parse("ada@-example.com").is_err());
    }

    #[test]
    fn an_email_with_spaces_or_two_ats_is_rejected() {
        assert!(Email::parse("ada lovelace@example.com").is_err());
        assert!(Email::parse("ada@@example.com").is_err());
        assert!(Email::parse("a@b@example.com").is_err());
    }

    #[test]
    fn an_empty_local_part_or_dots_at_its_edges_are_rejected() {
        assert!(Email::parse("@example.com").is_err());
        assert!(Email::parse(".ada@example.com").is_err());
        assert!(Email::parse("ada.@example.com").is_err());
        assert!(Email::parse("a..da@example.com").is_err());
    }

    #[test]
    fn an_email_longer_than_254_is_rejected() {
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(200));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn a_password_of_seven_characters_is_rejected() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
    }

    #[test]
    fn a_password_of_129_characters_is_rejected() {
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(Password::parse("ééééééé").is_err());
        assert!(Password::parse("éééééééé").is_ok());
    }

    #[test]
    fn a_password_never_prints() {
        let password = Password::parse("supersecret").expect("valid");
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn a_blank_display_name_is_rejected() {
        assert!(DisplayName::parse("   ").is_err());
    }

    #[test]
    fn a_display_name_of_101_characters_is_rejected() {
        assert!(DisplayName::parse(&"n".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
    }

    #[test]
    fn a_display_name_with_a_control_character_is_rejected() {
        assert!(DisplayName::parse("Ada\u{0007}").is_err());
    }

    #[test]
    fn roles_round_trip_sorted_without_duplicates() {
        let mut roles = Roles::from_stored("ADMIN,BUYER,ADMIN").expect("known roles");
        roles.insert(Role::Provider);
        assert_eq!(roles.to_stored(), "BUYER,PROVIDER,ADMIN");
        assert!(roles.contains(Role::Admin));
    }

    #[test]
    fn an_unknown_stored_role_is_an_error_not_dropped() {
        assert!(Roles::from_stored("BUYER,bogus").is_err());
        assert!(Roles::from_stored("")
            .expect("empty is no roles")
            .names()
            .is_empty());
    }

    #[test]
    fn a_new_user_is_a_buyer_and_admin_only_when_listed() {
        assert_eq!(Roles::for_new_user(false).to_stored(), "BUYER");
        assert_eq!(Roles::for_new_user(true).to_stored(), "BUYER,ADMIN");
    }

    #[test]
    fn an_unknown_stored_status_never_signs_in() {
        use sea_orm::ActiveEnum;
        let read = |s: &str| UserStatus::try_from_value(&s.to_owned()).ok();
        assert!(read("ACTIVE").is_some_and(may_sign_in));
        assert!(!read("SUSPENDED").is_some_and(may_sign_in));
        assert!(!read("BANNED").is_some_and(may_sign_in));
        // Unreadable: the row fails to load, so authentication fails closed.
        assert_eq!(read("garbage"), None);
    }

    #[test]
    fn an_empty_reason_is_rejected() {
        assert!(status_reason(" ").is_err());
        assert!(status_reason(&"r".repeat(501)).is_err());
        assert_eq!(status_reason(" spam ").as_deref(), Ok("spam"));
    }
}

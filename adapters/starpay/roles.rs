//! StarPay's users and roles (DIALECTS.md): what each role may do, whose records it
//! sees, and its hourly rate limit. [`Role`] is the one list of roles: the config's
//! fixtures and the admin API check names against it.
//!
//! The provider lists three permission groups per role; paybridge reads them as this
//! table (✓ = allowed, scope for reads):
//!
//! | endpoint | super_admin | admin | merchant, partner | api_user |
//! |---|---|---|---|---|
//! | `GET /balance` | ✓ | — | ✓ | ✓ |
//! | `GET /profile` | ✓ | ✓ | ✓ | ✓ |
//! | `POST /payments` (pay-in) | ✓ | ✓ | ✓ | ✓ |
//! | `GET /payments`, `/payments/:id` | everyone's | the team's | own | own |
//! | `POST /payouts` | ✓ | — | ✓ | ✓ |
//! | `GET /payouts` | everyone's | — | own | own |
//!
//! "The team" and "everyone" are the same records here: every user of a merchant
//! belongs to one team, the merchant's. "Own" means created with that user's key.
//! Managing users is paybridge's admin API (`/admin/v1/merchants/{id}/credentials`,
//! `/admin/v1/credentials/{id}/…`), not an endpoint of this dialect.
//!
//! Hourly limits per user: super_admin and admin 2,000, merchant and partner 500,
//! api_user 100.

use crate::core::{Caller, CoreError, Principal, RateClass};

/// A StarPay role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    SuperAdmin,
    /// Payments, sub-users, team history.
    Admin,
    /// Pay-in, pay-out, api_users, own history.
    Merchant,
    /// As merchant.
    Partner,
    /// Balance, profile, pay-in/pay-out requests, own reports.
    ApiUser,
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `GET /balance`.
    Balance,
    /// `GET /profile`.
    Profile,
    /// `POST /payments`.
    CreatePayment,
    /// `GET /payments`, `GET /payments/:id`.
    ReadPayments,
    /// `POST /payouts`.
    CreatePayout,
    /// `GET /payouts`.
    ReadPayouts,
}

/// Whose records a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every record of the merchant.
    All,
    /// Those the user created.
    Own,
}

impl Role {
    /// Every role, in the document's order.
    pub const ALL: [Role; 5] = [Role::SuperAdmin, Role::Admin, Role::Merchant, Role::Partner, Role::ApiUser];

    /// The role of a stored name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Every role's name, as a sentence lists them: `super_admin, admin, merchant,
    /// partner or api_user`.
    pub fn listed() -> String {
        let names = Role::ALL.map(Role::name);
        let (last, rest) = names.split_last().unwrap_or((&"", &[]));
        format!("{} or {last}", rest.join(", "))
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::Admin => "admin",
            Role::Merchant => "merchant",
            Role::Partner => "partner",
            Role::ApiUser => "api_user",
        }
    }

    /// Requests per hour.
    pub fn hourly_limit(self) -> u32 {
        match self {
            Role::SuperAdmin | Role::Admin => 2000,
            Role::Merchant | Role::Partner => 500,
            Role::ApiUser => 100,
        }
    }

    /// The rate-limit bucket of a user with this role.
    pub fn rate_class(self) -> RateClass {
        RateClass::per_user_hour("starpay.user", self.hourly_limit())
    }

    /// Whether the role may do `action`, and on whose records.
    pub fn allows(self, action: Action) -> Option<Scope> {
        use Action as A;
        match (self, action) {
            (Role::SuperAdmin, _) => Some(Scope::All),
            (_, A::Profile) => Some(Scope::Own),
            (Role::Admin, A::CreatePayment) => Some(Scope::All),
            (Role::Admin, A::ReadPayments) => Some(Scope::All),
            (Role::Admin, A::Balance | A::CreatePayout | A::ReadPayouts) => None,
            (Role::Merchant | Role::Partner | Role::ApiUser, _) => Some(Scope::Own),
        }
    }

    /// The actions the role may take, for the profile.
    pub fn permissions(self) -> Vec<&'static str> {
        [
            (Action::Balance, "balance"),
            (Action::Profile, "profile"),
            (Action::CreatePayment, "payments.create"),
            (Action::ReadPayments, "payments.read"),
            (Action::CreatePayout, "payouts.create"),
            (Action::ReadPayouts, "payouts.read"),
        ]
        .into_iter()
        .filter(|(action, _)| self.allows(*action).is_some())
        .map(|(_, name)| name)
        .collect()
    }
}

/// The caller's role (a StarPay credential without a known role has none and may do
/// nothing).
pub fn role_of(principal: &Caller) -> Option<Role> {
    principal.credential().role.as_deref().and_then(Role::parse)
}

/// Checks that the caller may do `action`: its scope, or `insufficient_permissions`.
pub fn require(principal: &Principal, action: Action) -> Result<Scope, CoreError> {
    role_of(principal).and_then(|role| role.allows(action)).ok_or(CoreError::Forbidden)
}

/// The `created_by` filter a scope puts on reads.
pub fn owner_filter(principal: &Principal, scope: Scope) -> Option<i64> {
    match scope {
        Scope::All => None,
        Scope::Own => Some(principal.credential().id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_in_the_module_docs_holds() {
        use Action::*;
        let row = |role: Role| {
            [Balance, Profile, CreatePayment, ReadPayments, CreatePayout, ReadPayouts].map(|a| role.allows(a))
        };
        let (all, own) = (Some(Scope::All), Some(Scope::Own));
        assert_eq!(row(Role::SuperAdmin), [all; 6]);
        assert_eq!(row(Role::Admin), [None, own, all, all, None, None]);
        for role in [Role::Merchant, Role::Partner, Role::ApiUser] {
            assert_eq!(row(role), [own; 6], "{role:?}");
        }
        assert_eq!(Role::ALL.map(Role::hourly_limit), [2000, 2000, 500, 500, 100]);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::listed(), "super_admin, admin, merchant, partner or api_user");
    }
}

//! Who may do what. Every route names the permission it needs; this table is
//! the only place that says which role holds it, so the role matrix test and
//! the README read from one source.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including admins and settings.
    Owner,
    /// Audiences and campaigns; reads customers.
    Marketing,
    /// Reads customers and orders, adds notes, resends a pay link.
    Support,
    /// Dashboards and lists.
    Readonly,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Marketing, Role::Support, Role::Readonly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Marketing => "marketing",
            Role::Support => "support",
            Role::Readonly => "readonly",
        }
    }

    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Marketing => {
                matches!(
                    p,
                    ReadKpis | ReadCustomers | ReadCampaigns | ManageCampaigns
                )
            }
            Role::Support => matches!(p, ReadKpis | ReadCustomers | ReadOrders | SupportCustomers),
            Role::Readonly => matches!(p, ReadKpis | ReadCustomers | ReadOrders | ReadCampaigns),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: expected owner, marketing, support or readonly")
            })
    }
}

/// What a route needs. Reading one's own session (`/me`, sign-out) needs only
/// a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The dashboard's figures (`/kpis`).
    ReadKpis,
    /// Users, their balances and ledgers.
    ReadCustomers,
    /// Orders and their Heleket statuses.
    ReadOrders,
    /// Add notes to a customer; resend an open order's payment link.
    SupportCustomers,
    /// List, invite, change and remove admins.
    ManageAdmins,
    /// The audit log.
    ReadAudit,
    /// Campaigns, their progress and per-recipient results.
    ReadCampaigns,
    /// Count audiences, upload id lists, create, preview, start, pause, resume and cancel campaigns.
    ManageCampaigns,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_manage_admins() {
        for r in Role::ALL {
            assert_eq!(r.may(Permission::ManageAdmins), r == Role::Owner, "{r}");
        }
    }

    #[test]
    fn only_owners_and_marketing_change_campaigns() {
        for r in Role::ALL {
            let expected = matches!(r, Role::Owner | Role::Marketing);
            assert_eq!(r.may(Permission::ManageCampaigns), expected, "{r}");
        }
        // Support handles customers, not campaigns.
        assert!(!Role::Support.may(Permission::ReadCampaigns));
    }

    #[test]
    fn roles_parse_back_from_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!(
            "admin"
                .parse::<Role>()
                .unwrap_err()
                .contains("unknown role")
        );
    }
}

//! The bot's side of broadcasts: the admin dialog that composes a campaign
//! (content, buttons, audience, schedule, preview, confirm), the admin
//! commands `/stats` and `/campaigns`, and the progress message's buttons.
//! The broadcast service owns campaigns; everything here goes through its
//! gRPC API, and the dialog's state lives in a Redis session.

mod audit;
mod commands;
mod dialog;
pub mod entities;
pub mod parse;
pub mod state;
pub mod texts;

pub use dialog::{LIST_SCOPE, SCOPE};

use tonic::Code;

/// What a failed broadcast call means for the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// The service refused, with a message meant for the admin (a bad
    /// template, an unparsable time, a campaign that can't be paused now).
    Refused(String),
    /// The service is down or slow: try again later, the step is kept.
    TryLater,
}

pub(crate) fn trouble(st: &tonic::Status) -> Trouble {
    match st.code() {
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::NotFound
        | Code::OutOfRange
        | Code::AlreadyExists
            if !st.message().is_empty() =>
        {
            Trouble::Refused(for_admin(st.message()))
        }
        code => {
            tracing::warn!(?code, message = st.message(), "broadcast call failed");
            Trouble::TryLater
        }
    }
}

/// The service's message without the error kind `ServiceError` puts in
/// front of it ("invalid input: ..."), which means nothing to an admin.
fn for_admin(message: &str) -> String {
    const KINDS: [&str; 4] = [
        "invalid input: ",
        "conflict: ",
        "not found: ",
        "forbidden: ",
    ];
    let m = KINDS
        .iter()
        .find_map(|k| message.strip_prefix(k))
        .unwrap_or(message);
    let mut chars = m.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_services_message_and_outages_mean_later() {
        assert_eq!(
            trouble(&tonic::Status::invalid_argument("unknown variable {nmae}")),
            Trouble::Refused("Unknown variable {nmae}".into())
        );
        assert_eq!(
            trouble(&tonic::Status::failed_precondition("campaign is done")),
            Trouble::Refused("Campaign is done".into())
        );
        assert_eq!(
            trouble(&tonic::Status::already_exists(
                "conflict: cannot resume a campaign that is cancelled"
            )),
            Trouble::Refused("Cannot resume a campaign that is cancelled".into())
        );
        assert_eq!(
            trouble(&tonic::Status::not_found("no such campaign")),
            Trouble::Refused("No such campaign".into())
        );
        for st in [
            tonic::Status::unavailable("down"),
            tonic::Status::deadline_exceeded("slow"),
            tonic::Status::unimplemented("not yet"),
            tonic::Status::internal("bug"),
        ] {
            assert_eq!(trouble(&st), Trouble::TryLater, "{st:?}");
        }
    }
}

//! The purchase dialog: pack menu, custom amount, order link, status checks,
//! balance and history. Payments owns prices and orders; the bot only asks.

use crate::dispatch::Dispatcher;
use crate::texts::{self, AmountProblem, Lang, OrderView, Quote};
use proto::payments::{
    BalanceRequest, CheckOrderRequest, CreateOrderRequest, ListOrdersRequest, Order, QuoteRequest,
};
use runtime::ServiceError;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use telegram::SendOptions;
use tonic::Code;

/// The dialog state kept in Redis between two messages of one user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "awaiting", rename_all = "snake_case")]
pub enum Dialog {
    CustomAmount,
}

pub const DIALOG_SCOPE: &str = "dialog";
/// How long "this order's pay link was sent" is remembered: longer than
/// Telegram retries an update.
const LINK_SENT_TTL: Duration = Duration::from_secs(48 * 3600);
/// While a link is being sent; short, so a bot that died mid-send does not
/// keep the link from the buyer for long.
const LINK_SENDING_LEASE: Duration = Duration::from_secs(60);
/// A half-finished dialog is forgotten after this long.
pub const DIALOG_TTL: Duration = Duration::from_secs(600);
/// The pack menu and custom-amount bounds, cached in Redis and read from the
/// replicas: shown on every /buy, changed only by a payments deploy. A stale
/// copy only shows an old price on the menu; the order is priced by payments.
const PRICE_LIST_KEY: &str = "bot:price-list";
const PRICE_LIST_TTL: Duration = Duration::from_secs(60);

/// What [`PRICE_LIST_KEY`] holds.
#[derive(Serialize, Deserialize)]
struct PriceList {
    packs: Vec<Quote>,
    custom_min: i64,
    custom_max: i64,
}

/// Parses a custom amount the user typed.
pub fn parse_amount(text: &str, min: i64, max: i64) -> Result<i64, AmountProblem> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '_')
        .collect();
    let digits = t.strip_prefix('-').unwrap_or(&t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountProblem::NotANumber);
    }
    if t.starts_with('-') {
        return Err(AmountProblem::TooSmall);
    }
    match digits.parse::<i64>() {
        Ok(n) if n < min => Err(AmountProblem::TooSmall),
        Ok(n) if n > max => Err(AmountProblem::TooLarge),
        Ok(n) => Ok(n),
        Err(_) => Err(AmountProblem::TooLarge),
    }
}

fn view(o: &Order) -> OrderView<'_> {
    OrderView {
        id: &o.order_id,
        stars: o.stars,
        amount: &o.amount,
        currency: &o.currency,
        status: &o.status,
        pay_url: &o.pay_url,
    }
}

fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Ru => "ru",
        Lang::En => "en",
    }
}

impl Dispatcher {
    async fn quote(&self, stars: Vec<i64>) -> Result<(Vec<Quote>, i64, i64), tonic::Status> {
        let r = self
            .payments
            .clone()
            .quote(QuoteRequest { stars })
            .await?
            .into_inner();
        let quotes = r
            .prices
            .into_iter()
            .map(|p| Quote {
                stars: p.stars,
                amount: p.amount,
                currency: p.currency,
            })
            .collect();
        Ok((quotes, r.custom_min, r.custom_max))
    }

    /// The packs and custom bounds: from a replica when cached, else from
    /// payments (then cached). Redis trouble only means asking payments.
    async fn price_list(&self) -> Result<(Vec<Quote>, i64, i64), tonic::Status> {
        match self.cache.get_cached(PRICE_LIST_KEY).await {
            Ok(Some(json)) => match serde_json::from_str::<PriceList>(&json) {
                Ok(p) => return Ok((p.packs, p.custom_min, p.custom_max)),
                Err(e) => {
                    tracing::warn!(error = %e, "cached price list unreadable; asking payments")
                }
            },
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "price list cache unavailable"),
        }
        let (packs, custom_min, custom_max) = self.quote(vec![]).await?;
        let list = PriceList {
            packs,
            custom_min,
            custom_max,
        };
        if let Ok(json) = serde_json::to_string(&list)
            && let Err(e) = self
                .cache
                .set_cached(PRICE_LIST_KEY, &json, PRICE_LIST_TTL)
                .await
        {
            tracing::debug!(error = %e, "price list not cached");
        }
        Ok((list.packs, list.custom_min, list.custom_max))
    }

    pub async fn show_packs(&self, chat_id: i64, lang: Lang) -> Result<(), ServiceError> {
        match self.price_list().await {
            Ok((quotes, _, _)) => {
                let opts = SendOptions::html().with_keyboard(texts::packs_menu(lang, &quotes));
                self.send(chat_id, texts::choose_pack(lang), &opts).await
            }
            Err(st) => self.payments_trouble(chat_id, lang, st).await,
        }
    }

    pub async fn ask_custom_amount(
        &self,
        chat_id: i64,
        user_id: i64,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        let (_, min, max) = match self.price_list().await {
            Ok(q) => q,
            Err(st) => return self.payments_trouble(chat_id, lang, st).await,
        };
        self.cache
            .session_set(DIALOG_SCOPE, user_id, &Dialog::CustomAmount, DIALOG_TTL)
            .await?;
        self.send(
            chat_id,
            &texts::ask_custom(lang, min, max),
            &SendOptions::default(),
        )
        .await
    }

    /// A message while the custom-amount dialog is open.
    pub async fn on_custom_amount(
        &self,
        chat_id: i64,
        user_id: i64,
        text: &str,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        let (_, min, max) = match self.price_list().await {
            Ok(q) => q,
            Err(st) => return self.payments_trouble(chat_id, lang, st).await,
        };
        match parse_amount(text, min, max) {
            // Keep the dialog open so the user can simply try again.
            Err(problem) => {
                self.send(
                    chat_id,
                    &texts::bad_amount(lang, problem, min, max),
                    &SendOptions::default(),
                )
                .await
            }
            Ok(stars) => {
                let quote = match self.quote(vec![stars]).await {
                    Ok((mut q, _, _)) if !q.is_empty() => q.remove(0),
                    Ok(_) => return Ok(()),
                    Err(st) => return self.payments_trouble(chat_id, lang, st).await,
                };
                self.cache.session_clear(DIALOG_SCOPE, user_id).await?;
                let (text, kb) = texts::confirm_custom(lang, &quote);
                self.send(chat_id, &text, &SendOptions::html().with_keyboard(kb))
                    .await
            }
        }
    }

    /// A "buy" press. `press_id` (the callback query id) is the order's
    /// idempotency key: however often Telegram delivers this press, payments
    /// opens one order, and the pay link is sent once.
    pub async fn buy(
        &self,
        chat_id: i64,
        user_id: i64,
        stars: i64,
        lang: Lang,
        press_id: &str,
    ) -> Result<(), ServiceError> {
        let req = CreateOrderRequest {
            user_id,
            chat_id,
            stars,
            language: lang_code(lang).into(),
            idempotency_key: format!("tg:cbq:{press_id}"),
        };
        match self.payments.clone().create_order(req).await {
            Ok(o) => {
                let o = o.into_inner();
                // A redelivered press gets the same order back: send its link
                // only if no earlier attempt did.
                let sent_key = format!("order:link:{}", o.order_id);
                if !self.cache.claim(&sent_key, LINK_SENDING_LEASE).await? {
                    tracing::info!(order_id = %o.order_id, "pay link already sent for this press");
                    return Ok(());
                }
                let (text, kb) = texts::order_created(lang, &view(&o));
                let opts = SendOptions::html().with_keyboard(kb);
                match self.send(chat_id, &text, &opts).await {
                    Ok(()) => {
                        if let Err(e) = self.cache.finish(&sent_key, LINK_SENT_TTL).await {
                            tracing::warn!(order_id = %o.order_id, error = %e, "could not record the pay link as sent");
                        }
                        Ok(())
                    }
                    // Failing the update is safe now: the redelivery finds the same
                    // order and sends the link then.
                    Err(e) => {
                        let _ = self.cache.release(&sent_key).await;
                        Err(e)
                    }
                }
            }
            Err(st) if st.code() == Code::InvalidArgument => {
                self.send(chat_id, texts::invalid_order(lang), &SendOptions::default())
                    .await
            }
            Err(st) => self.payments_trouble(chat_id, lang, st).await,
        }
    }

    pub async fn check(
        &self,
        chat_id: i64,
        user_id: i64,
        order_id: &str,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        let req = CheckOrderRequest {
            order_id: order_id.to_string(),
            user_id,
        };
        match self.payments.clone().check_order(req).await {
            Ok(o) => {
                let o = o.into_inner();
                self.send(
                    chat_id,
                    &texts::order_status(lang, &view(&o)),
                    &SendOptions::html(),
                )
                .await
            }
            Err(st) if st.code() == Code::NotFound => {
                self.send(chat_id, texts::order_unknown(lang), &SendOptions::default())
                    .await
            }
            Err(st) => self.payments_trouble(chat_id, lang, st).await,
        }
    }

    pub async fn show_balance(
        &self,
        chat_id: i64,
        user_id: i64,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        match self
            .payments
            .clone()
            .get_balance(BalanceRequest { user_id })
            .await
        {
            Ok(b) => {
                let text = texts::balance(lang, b.into_inner().stars);
                self.send(chat_id, &text, &SendOptions::html()).await
            }
            Err(st) => self.payments_trouble(chat_id, lang, st).await,
        }
    }

    pub async fn show_history(
        &self,
        chat_id: i64,
        user_id: i64,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        match self
            .payments
            .clone()
            .list_orders(ListOrdersRequest { user_id, limit: 10 })
            .await
        {
            Ok(r) => {
                let orders = r.into_inner().orders;
                let views: Vec<OrderView> = orders.iter().map(view).collect();
                self.send(chat_id, &texts::history(lang, &views), &SendOptions::html())
                    .await
            }
            Err(st) => self.payments_trouble(chat_id, lang, st).await,
        }
    }

    /// Payments could not help: say so now instead of failing the update,
    /// which would make Telegram redeliver it (and, for a purchase, retry it).
    async fn payments_trouble(
        &self,
        chat_id: i64,
        lang: Lang,
        st: tonic::Status,
    ) -> Result<(), ServiceError> {
        tracing::warn!(code = ?st.code(), message = st.message(), "payments call failed");
        self.send(
            chat_id,
            texts::payments_unavailable(lang),
            &SendOptions::default(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_amounts_are_whole_numbers_in_range() {
        assert_eq!(parse_amount(" 300 ", 50, 1000), Ok(300));
        assert_eq!(parse_amount("1 000", 50, 1000), Ok(1000));
        assert_eq!(parse_amount("0", 50, 1000), Err(AmountProblem::TooSmall));
        assert_eq!(parse_amount("-5", 50, 1000), Err(AmountProblem::TooSmall));
        assert_eq!(
            parse_amount("abc", 50, 1000),
            Err(AmountProblem::NotANumber)
        );
        assert_eq!(
            parse_amount("1.5", 50, 1000),
            Err(AmountProblem::NotANumber)
        );
        assert_eq!(parse_amount("", 50, 1000), Err(AmountProblem::NotANumber));
        assert_eq!(parse_amount("1001", 50, 1000), Err(AmountProblem::TooLarge));
        assert_eq!(
            parse_amount("99999999999999999999999", 50, 1000),
            Err(AmountProblem::TooLarge)
        );
    }
}

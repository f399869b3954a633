//! Prices: decimal end to end (never floats), from configuration.

use runtime::ServiceError;
use runtime::config::{ConfigError, Env};
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// The packs the menu offers.
pub const PACKS: [i64; 4] = [100, 250, 500, 1000];

#[derive(Debug, Clone)]
pub struct Pricing {
    /// `STAR_PRICE`: price of one star, e.g. "0.015".
    pub price_per_star: Decimal,
    /// `STAR_CURRENCY`: what invoices are priced in, e.g. "USD".
    pub currency: String,
    /// `CUSTOM_STARS_MIN` / `CUSTOM_STARS_MAX`: the range of a custom amount.
    pub custom_min: i64,
    pub custom_max: i64,
}

impl Pricing {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw = env.string_or("STAR_PRICE", "0.015");
        let price_per_star =
            Decimal::from_str(&raw).map_err(|e| ConfigError::malformed("STAR_PRICE", &raw, e))?;
        if price_per_star <= Decimal::ZERO {
            return Err(ConfigError::malformed(
                "STAR_PRICE",
                &raw,
                "must be positive",
            ));
        }
        let currency = env.string_or("STAR_CURRENCY", "USD").to_ascii_uppercase();
        if !(2..=10).contains(&currency.len())
            || !currency.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::malformed(
                "STAR_CURRENCY",
                &currency,
                "expected a currency code such as USD",
            ));
        }
        let custom_min: i64 = env.parse_or("CUSTOM_STARS_MIN", 50)?;
        let custom_max: i64 = env.parse_or("CUSTOM_STARS_MAX", 100_000)?;
        if custom_min < 1 {
            return Err(ConfigError::malformed(
                "CUSTOM_STARS_MIN",
                &custom_min.to_string(),
                "must be at least 1",
            ));
        }
        if custom_max < custom_min {
            return Err(ConfigError::malformed(
                "CUSTOM_STARS_MAX",
                &custom_max.to_string(),
                format!("must be at least CUSTOM_STARS_MIN ({custom_min})"),
            ));
        }
        Ok(Pricing {
            price_per_star,
            currency,
            custom_min,
            custom_max,
        })
    }

    /// The price of `stars`, rounded half away from zero to cents, at least one cent.
    pub fn price(&self, stars: i64) -> Decimal {
        let exact = self.price_per_star * Decimal::from(stars);
        exact
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .max(Decimal::new(1, 2))
    }

    /// A pack, or a custom amount within the configured range.
    pub fn validate(&self, stars: i64) -> Result<(), ServiceError> {
        if PACKS.contains(&stars) || (self.custom_min..=self.custom_max).contains(&stars) {
            Ok(())
        } else {
            Err(ServiceError::InvalidInput(format!(
                "stars must be between {} and {}",
                self.custom_min, self.custom_max
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pricing(price: &str) -> Pricing {
        Pricing::from_env(&Env::from_pairs([("STAR_PRICE", price)])).unwrap()
    }

    #[test]
    fn prices_are_exact_decimals_rounded_to_cents() {
        let p = pricing("0.015");
        assert_eq!(p.price(100).to_string(), "1.50");
        assert_eq!(p.price(250).to_string(), "3.75");
        assert_eq!(p.price(1000).to_string(), "15.00");
        // 0.015 * 333 = 4.995 → 5.00 (half away from zero), no float drift.
        assert_eq!(p.price(333).to_string(), "5.00");
        assert_eq!(pricing("0.0001").price(1).to_string(), "0.01");
    }

    #[test]
    fn custom_amounts_must_be_in_range() {
        let p = pricing("0.015");
        assert!(p.validate(100).is_ok());
        assert!(p.validate(50).is_ok());
        assert!(p.validate(49).is_err());
        assert!(p.validate(0).is_err());
        assert!(p.validate(-5).is_err());
        assert!(p.validate(100_001).is_err());
    }

    #[test]
    fn custom_bounds_accept_their_edges_and_name_the_wrong_one() {
        let bounds = |min: &str, max: &str| {
            Pricing::from_env(&Env::from_pairs([
                ("CUSTOM_STARS_MIN", min),
                ("CUSTOM_STARS_MAX", max),
            ]))
        };
        let one = bounds("1", "1").unwrap();
        assert_eq!((one.custom_min, one.custom_max), (1, 1));
        assert!(one.validate(1).is_ok() && one.validate(2).is_err());
        let err = bounds("0", "10").unwrap_err().to_string();
        assert!(err.contains("CUSTOM_STARS_MIN"), "{err}");
        let err = bounds("500", "499").unwrap_err().to_string();
        assert!(err.contains("CUSTOM_STARS_MAX"), "{err}");
    }

    #[test]
    fn bad_price_settings_are_named() {
        for (k, v) in [
            ("STAR_PRICE", "abc"),
            ("STAR_PRICE", "-1"),
            ("STAR_CURRENCY", "$$"),
            ("CUSTOM_STARS_MIN", "0"),
        ] {
            let err = Pricing::from_env(&Env::from_pairs([(k, v)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(k), "{k}={v}: {err}");
        }
    }
}

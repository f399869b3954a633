//! The admin API's OpenAPI 3 document, generated from the handlers'
//! `#[utoipa::path]` attributes and the types' `ToSchema` derives, served at
//! `/admin/api/v1/openapi.json`; and a docs page rendered from it on the
//! server (`/admin/api/docs`), which needs no internet and no script.
//!
//! Each operation carries `x-roles`, the roles that may call it, computed from
//! the role table; the role-matrix test reads them from here and checks the
//! server answers each role exactly so, so the document cannot drift.

use crate::roles::{Permission, Role};
use crate::routes::{admins, audit, auth, campaigns, customers, kpis, support};
use axum::Json;
use axum::response::Html;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Every error's body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong, for a person; never a secret or an internal detail.
    pub error: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Starshop admin API",
        description = "Operators' API: customers, orders, campaigns, KPIs, admins and the audit log. \
            Sign in with POST /auth/login for a bearer token (the console uses a session cookie and \
            sends X-CSRF-Token with every change). Lists are keyset pages: pass `next` back."
    ),
    servers((url = "/admin/api/v1")),
    paths(
        auth::login, auth::refresh, auth::logout, auth::me,
        admins::list, admins::create, admins::update, admins::remove,
        customers::users, customers::users_csv, customers::user,
        customers::orders, customers::orders_csv,
        support::add_note, support::resend_link,
        kpis::kpis,
        audit::list, audit::export,
        campaigns::count, campaigns::upload_ids, campaigns::upload_media, campaigns::list, campaigns::create,
        campaigns::get, campaigns::act, campaigns::preview, campaigns::events,
        campaigns::recipients_csv,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Access),
    security(("bearer" = []), ("console_cookie" = [])),
    tags(
        (name = "auth", description = "Sign-in, token refresh, sign-out"),
        (name = "dashboard", description = "KPIs"),
        (name = "customers", description = "Users, their balances, ledgers and notes"),
        (name = "orders", description = "Orders and their Heleket statuses"),
        (name = "campaigns", description = "Audiences and broadcasts"),
        (name = "audit", description = "Who did what, when, from where"),
        (name = "admins", description = "The people who operate the shop"),
    )
)]
struct ApiDoc;

/// The two ways in, and each operation's roles.
struct Access;

impl utoipa::Modify for Access {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "console_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.put,
            ];
            for op in ops.into_iter().flatten() {
                let id = op.operation_id.clone().unwrap_or_default();
                let roles: Vec<&str> = match crate::routes::permission(&id) {
                    Some(Some(p)) => roles_with(p),
                    Some(None) => Role::ALL.iter().map(|r| r.as_str()).collect(),
                    None => Vec::new(),
                };
                let mut ext = op.extensions.take().unwrap_or_default();
                ext.insert("x-roles".to_string(), serde_json::json!(roles));
                op.extensions = Some(ext);
            }
        }
    }
}

fn roles_with(p: Permission) -> Vec<&'static str> {
    Role::ALL
        .iter()
        .filter(|r| r.may(p))
        .map(|r| r.as_str())
        .collect()
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /admin/api/v1/openapi.json`.
pub async fn json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// `GET /admin/api/docs`: the document as a page.
pub async fn docs() -> Html<String> {
    let doc = serde_json::to_value(document()).unwrap_or_default();
    Html(crate::console::html::page("Admin API", None, &render(&doc)))
}

fn schema_name(v: &Value) -> String {
    if let Some(r) = v["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!(r##"<a href="#schema-{name}">{name}</a>"##);
    }
    if v["type"] == "array" {
        return format!("array of {}", schema_name(&v["items"]));
    }
    match v["type"].as_str() {
        Some(t) => t.to_string(),
        None => "object".to_string(),
    }
}

fn render(doc: &Value) -> String {
    use crate::console::html::esc;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<p>{}</p><p>Base path <code>/admin/api/v1</code> · the document: <a href="/admin/api/v1/openapi.json">openapi.json</a> (OpenAPI 3)</p>"#,
        esc(doc["info"]["description"].as_str().unwrap_or_default())
    );
    let empty = serde_json::Map::new();
    for (path, item) in doc["paths"].as_object().unwrap_or(&empty) {
        for (method, op) in item.as_object().unwrap_or(&empty) {
            let roles: Vec<String> = op["x-roles"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            let who = if public {
                "anyone".to_string()
            } else {
                roles.join(", ")
            };
            let _ = write!(
                out,
                r#"<section class="card op"><h2><code>{} {}</code></h2><p>{}</p><p><small>Roles: {}</small></p>"#,
                esc(&method.to_uppercase()),
                esc(path),
                esc(op["description"]
                    .as_str()
                    .or(op["summary"].as_str())
                    .unwrap_or_default()),
                esc(&who)
            );
            if let Some(params) = op["parameters"].as_array() {
                out.push_str("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th></th></tr>");
                for p in params {
                    let _ = write!(
                        out,
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(p["name"].as_str().unwrap_or_default()),
                        if p["required"] == true { " *" } else { "" },
                        esc(p["in"].as_str().unwrap_or_default()),
                        schema_name(&p["schema"]),
                        esc(p["description"].as_str().unwrap_or_default())
                    );
                }
                out.push_str("</table>");
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (ctype, c) in content {
                    let _ = write!(
                        out,
                        "<p>Body: <code>{}</code> {}</p>",
                        esc(ctype),
                        schema_name(&c["schema"])
                    );
                }
            }
            out.push_str("<table><tr><th>Answer</th><th></th><th>Body</th></tr>");
            for (status, r) in op["responses"].as_object().unwrap_or(&empty) {
                let body = r["content"]
                    .as_object()
                    .and_then(|c| c.iter().next())
                    .map(|(t, c)| format!("<code>{}</code> {}", esc(t), schema_name(&c["schema"])))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{body}</td></tr>",
                    esc(status),
                    esc(r["description"].as_str().unwrap_or_default())
                );
            }
            out.push_str("</table></section>");
        }
    }
    out.push_str("<h2>Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap_or(&empty) {
        let _ = write!(
            out,
            r#"<section class="card" id="schema-{}"><h3>{}</h3><pre>{}</pre></section>"#,
            esc(name),
            esc(name),
            esc(&serde_json::to_string_pretty(schema).unwrap_or_default())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_has_its_roles() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut ops = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                ops += 1;
                let id = op["operationId"].as_str().unwrap();
                assert!(
                    crate::routes::permission(id).is_some(),
                    "{method} {path} ({id}) is not in routes::PERMISSIONS"
                );
                assert!(op["x-roles"].is_array(), "{id}");
            }
        }
        assert_eq!(
            ops,
            crate::routes::PERMISSIONS.len(),
            "one table row per operation"
        );
        assert_eq!(
            doc["paths"]["/kpis"]["get"]["x-roles"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            doc["paths"]["/admins"]["get"]["x-roles"],
            serde_json::json!(["owner"])
        );
    }

    #[test]
    fn the_docs_page_lists_every_operation_and_schema() {
        let doc = serde_json::to_value(document()).unwrap();
        let page = render(&doc);
        assert!(page.contains("<code>POST /campaigns</code>"));
        assert!(page.contains(r#"id="schema-NewCampaign""#));
        assert!(page.contains("Roles: owner, marketing"));
    }
}

//! The console's HTML: one layout, escaping, tables and bar charts drawn as
//! inline SVG on the server (the dashboard needs no script to show a chart).

use crate::auth::Caller;
use serde_json::Value;
use std::fmt::Write;

/// Text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as a table cell: text escaped, null as a dash.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(true) => "✓".into(),
        Value::Bool(false) => "✗".into(),
        Value::String(s) => esc(s),
        Value::Number(n) => n.to_string(),
        other => esc(&other.to_string()),
    }
}

/// Amounts per currency (`{"USDT": "1.5"}`) on one line.
pub fn money(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(c, a)| format!("{} {}", cell(a), esc(c)))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "—".into(),
    }
}

/// The sections of the console, and who sees each in the menu (the server
/// checks again on every page and call).
const NAV: &[(&str, &str, crate::roles::Permission)] = {
    use crate::roles::Permission::*;
    &[
        ("/admin/", "Dashboard", ReadKpis),
        ("/admin/campaigns", "Campaigns", ReadCampaigns),
        ("/admin/customers", "Customers", ReadCustomers),
        ("/admin/orders", "Orders", ReadOrders),
        ("/admin/audit", "Audit log", ReadAudit),
        ("/admin/admins", "Admins", ManageAdmins),
    ]
};

/// A whole page. `csrf` goes into a meta tag the script sends back with
/// every change; no inline script runs (the CSP forbids it).
pub fn page(title: &str, who: Option<(&Caller, &str)>, body: &str) -> String {
    let mut nav = String::new();
    let mut meta = String::new();
    if let Some((caller, csrf)) = who {
        for (href, label, p) in NAV {
            if caller.role.may(*p) {
                let _ = write!(nav, r#"<a href="{href}">{label}</a>"#);
            }
        }
        let _ = write!(
            nav,
            r#"<span class="who">{} · {}</span><button type="button" id="sign-out">Sign out</button>"#,
            esc(&caller.login),
            caller.role
        );
        meta = format!(r#"<meta name="csrf-token" content="{}">"#, esc(csrf));
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta}
<title>{title} · Starshop admin</title>
<link rel="stylesheet" href="/admin/static/console.css">
<script src="/admin/static/console.js" defer></script>
</head>
<body>
<header><strong>★ Starshop</strong><nav>{nav}</nav></header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = esc(title)
    )
}

/// A table of JSON rows: `columns` are (field, heading); `link` makes the
/// first column a link (`{}` replaced by that row's field value).
pub fn table(rows: &[Value], columns: &[(&str, &str)], link: Option<&str>) -> String {
    if rows.is_empty() {
        return "<p class=\"empty\">Nothing here.</p>".into();
    }
    let mut out = String::from("<div class=\"scroll\"><table><thead><tr>");
    for (_, heading) in columns {
        let _ = write!(out, "<th>{}</th>", esc(heading));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, (field, _)) in columns.iter().enumerate() {
            let v = &row[*field];
            match (i, link) {
                (0, Some(pattern)) => {
                    let raw = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let href = pattern.replace("{}", &esc(&raw));
                    let _ = write!(out, r#"<td><a href="{href}">{}</a></td>"#, cell(v));
                }
                _ => {
                    let _ = write!(out, "<td>{}</td>", cell(v));
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A bar chart of one value per day, labelled with the first and last day.
pub fn bars(title: &str, points: &[(String, f64)]) -> String {
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let (w, h) = (600.0, 120.0);
    let step = w / points.len().max(1) as f64;
    let mut svg = format!(
        r#"<figure class="chart"><figcaption>{}</figcaption><svg viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    for (i, (label, v)) in points.iter().enumerate() {
        let bh = (v / max) * (h - 4.0);
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}: {}</title></rect>"#,
            i as f64 * step + 1.0,
            h - bh,
            (step - 2.0).max(1.0),
            bh,
            esc(label),
            v
        );
    }
    svg.push_str("</svg>");
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            r#"<div class="axis"><span>{}</span><span>max {}</span><span>{}</span></div>"#,
            esc(&first.0),
            max,
            esc(&last.0)
        );
    }
    svg.push_str("</figure>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_from_users_cannot_become_markup() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        let rows = [json!({"id": 1, "first_name": "<img src=x onerror=alert(1)>"})];
        let t = table(
            &rows,
            &[("id", "Id"), ("first_name", "Name")],
            Some("/admin/customers/{}"),
        );
        assert!(!t.contains("<img"), "{t}");
        assert!(t.contains(r#"<a href="/admin/customers/1">1</a>"#), "{t}");
    }

    #[test]
    fn money_and_empty_cells_read_plainly() {
        assert_eq!(
            money(&json!({"USDT": "1.5", "TON": "2"})),
            "2 TON, 1.5 USDT"
        );
        assert_eq!(money(&json!({})), "—");
        assert_eq!(cell(&Value::Null), "—");
    }
}

//! Plain-text rendering of a [`CostChange`]: an aligned table, no colours.

use super::{CostChange, LineChange, LineCost};

/// `$1,234.57`, `-$365.00`; amounts under half a cent show as `$0.00`.
pub fn fmt_usd(x: f64) -> String {
    let cents = (x * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let dollars = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

fn fmt_delta(x: f64) -> String {
    if x.abs() < 0.005 {
        String::new()
    } else if x > 0.0 {
        format!("+{}", fmt_usd(x))
    } else {
        fmt_usd(x)
    }
}

fn side(s: &Option<LineCost>) -> String {
    match s {
        None => "—".into(),
        Some(LineCost {
            monthly_usd: Some(x),
            ..
        }) => fmt_usd(*x),
        Some(LineCost {
            monthly_usd: None, ..
        }) => "no price".into(),
    }
}

fn amounts(l: &LineChange) -> String {
    if l.changes() {
        format!("{} → {}", side(&l.before), side(&l.after))
    } else {
        side(&l.after)
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

/// Each priced resource (before → after where it changes), the total, the
/// delta, the budget and the notes.
pub fn render_text(change: &CostChange) -> String {
    let rows: Vec<[String; 5]> = change
        .lines
        .iter()
        .map(|l| {
            let detail = l
                .after
                .as_ref()
                .or(l.before.as_ref())
                .map(|s| s.detail.clone())
                .unwrap_or_default();
            let delta = if l.changes() {
                l.delta_monthly_usd.map(fmt_delta).unwrap_or_default()
            } else {
                String::new()
            };
            [l.address.clone(), l.kind.clone(), amounts(l), delta, detail]
        })
        .collect();
    let total_changes = (change.delta_monthly_usd).abs() >= 0.005;
    let total_amounts = if total_changes {
        format!(
            "{} → {}",
            fmt_usd(change.before_monthly_usd),
            fmt_usd(change.after_monthly_usd)
        )
    } else {
        fmt_usd(change.after_monthly_usd)
    };
    let total_delta = if total_changes {
        fmt_delta(change.delta_monthly_usd)
    } else {
        "no change".into()
    };
    let unpriced: Vec<&str> = change
        .lines
        .iter()
        .filter(|l| l.after.as_ref().is_some_and(|a| a.monthly_usd.is_none()))
        .map(|l| l.address.as_str())
        .collect();
    let total_tail = if unpriced.is_empty() {
        String::new()
    } else {
        format!("excludes {} (no price)", unpriced.join(", "))
    };
    let total = [
        "Total".to_string(),
        String::new(),
        total_amounts,
        total_delta,
        total_tail,
    ];

    let mut w = [0usize; 4];
    for r in rows.iter().chain(std::iter::once(&total)) {
        for (i, c) in r.iter().take(4).enumerate() {
            w[i] = w[i].max(width(c));
        }
    }
    let line = |r: &[String; 5]| -> String {
        let s = format!(
            "  {}  {}  {}  {}  {}",
            pad(&r[0], w[0]),
            pad(&r[1], w[1]),
            pad_left(&r[2], w[2]),
            pad_left(&r[3], w[3]),
            r[4]
        );
        s.trim_end().to_string()
    };

    let mut out = String::from("Monthly cost (on-demand, 730 h/month)\n");
    if rows.is_empty() {
        out.push_str("  nothing priced\n");
    }
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out.push_str(&line(&total));
    out.push('\n');
    match (change.budget_monthly_usd, change.over_budget_by_usd) {
        (Some(b), Some(over)) => out.push_str(&format!(
            "  Budget {}/month: OVER BUDGET by {}\n",
            fmt_usd(b),
            fmt_usd(over)
        )),
        (Some(b), None) => out.push_str(&format!(
            "  Budget {}/month: within budget ({} left)\n",
            fmt_usd(b),
            fmt_usd(b - change.after_monthly_usd)
        )),
        _ => {}
    }
    if !change.notes.is_empty() {
        out.push_str("Notes:\n");
        for n in &change.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}

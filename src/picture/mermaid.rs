//! The picture as a Mermaid flowchart: one `subgraph` per tier, nodes `n0`,
//! `n1`, … (addresses have dots, which Mermaid ids cannot) labelled with the
//! address, and with a plan a `classDef` per action and a legend subgraph.

use std::collections::HashSet;
use std::fmt::Write;

use super::{Action, action_counts, group, tier_title};

/// Text for a `["…"]` label: Mermaid's entity codes for what would end the
/// string or be read as markup.
fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn class_def(a: Action) -> String {
    format!(
        "  classDef {} fill:{},stroke:{},color:#000",
        a.class(),
        a.fill(),
        a.stroke()
    )
}

/// Mermaid flowchart text.
pub fn mermaid(p: &crate::picture::Picture) -> String {
    let g = group(p);
    let mut out = String::from("flowchart LR\n");
    let mut names = HashSet::new();
    for (tier, range) in &g.tiers {
        let mut name = format!(
            "tier_{}",
            tier.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        while !names.insert(name.clone()) {
            name.push('_');
        }
        let _ = writeln!(
            out,
            "  subgraph {name}[{}]",
            label(&format!("{} ({})", tier_title(tier), range.len()))
        );
        for i in range.clone() {
            let _ = writeln!(out, "    n{i}[{}]", label(&g.nodes[i].address));
        }
        out.push_str("  end\n");
    }
    for &(a, b) in &g.edges {
        let _ = writeln!(out, "  n{a} --> n{b}");
    }
    if g.planned {
        out.push_str("  subgraph legend[\"Plan\"]\n");
        for (a, count) in action_counts(&g) {
            let _ = writeln!(
                out,
                "    legend_{}[{}]",
                a.class(),
                label(&format!("{} {} ({count})", a.sign(), a.label()))
            );
        }
        out.push_str("  end\n");
        for a in Action::ALL {
            out.push_str(&class_def(a));
            out.push('\n');
            let mut members: Vec<String> = g
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.action == Some(a))
                .map(|(i, _)| format!("n{i}"))
                .collect();
            members.push(format!("legend_{}", a.class()));
            let _ = writeln!(out, "  class {} {}", members.join(","), a.class());
        }
    }
    out
}

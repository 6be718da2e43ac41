//! The picture as Graphviz DOT: one `cluster_<tier>` subgraph per tier, node
//! ids are the quoted addresses, labels `address\nkind`, and with a plan each
//! node filled by its action plus a legend cluster.

use std::collections::HashSet;
use std::fmt::Write;

use super::{PLAIN_FILL, PLAIN_STROKE, action_counts, group, tier_title};

/// A DOT double-quoted string's contents.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `[A-Za-z0-9_]` only, for the `cluster_` subgraph names.
fn ident(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Graphviz DOT text.
pub fn dot(p: &crate::picture::Picture) -> String {
    let g = group(p);
    let mut out = String::from("digraph infra {\n");
    out.push_str("  rankdir=LR;\n");
    let _ = writeln!(
        out,
        r#"  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10, fillcolor="{PLAIN_FILL}", color="{PLAIN_STROKE}"];"#
    );
    out.push_str("  edge [color=\"#9aa3ad\", arrowsize=0.6];\n");
    let mut names = HashSet::new();
    for (tier, range) in &g.tiers {
        let mut name = format!("cluster_{}", ident(tier));
        while !names.insert(name.clone()) {
            name.push('_');
        }
        let _ = writeln!(out, "  subgraph {name} {{");
        let _ = writeln!(
            out,
            "    label={};",
            quote(&format!("{} ({})", tier_title(tier), range.len()))
        );
        out.push_str("    style=\"rounded,filled\";\n    fillcolor=\"#f4f6f9\";\n    color=\"#c9d1db\";\n    fontname=\"monospace\";\n");
        for n in &g.nodes[range.clone()] {
            let mut attrs = format!("label={}", quote(&format!("{}\n{}", n.address, n.kind)));
            if let Some(a) = n.action {
                let _ = write!(
                    attrs,
                    ", fillcolor=\"{}\", color=\"{}\", tooltip={}",
                    a.fill(),
                    a.stroke(),
                    quote(a.label())
                );
                if a == super::Action::Delete {
                    attrs.push_str(", style=\"rounded,filled,dashed\"");
                }
            }
            let _ = writeln!(out, "    {} [{attrs}];", quote(&n.address));
        }
        out.push_str("  }\n");
    }
    for &(a, b) in &g.edges {
        let _ = writeln!(
            out,
            "  {} -> {};",
            quote(&g.nodes[a].address),
            quote(&g.nodes[b].address)
        );
    }
    if g.planned {
        // Ids without a dot cannot be addresses (an address is `kind.name`).
        out.push_str("  subgraph cluster_legend {\n    label=\"Plan\";\n    style=\"rounded\";\n    color=\"#c9d1db\";\n    fontname=\"monospace\";\n");
        for (a, count) in action_counts(&g) {
            let _ = writeln!(
                out,
                "    legend_{} [label={}, fillcolor=\"{}\", color=\"{}\"];",
                a.class(),
                quote(&format!("{} {} ({count})", a.sign(), a.label())),
                a.fill(),
                a.stroke()
            );
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

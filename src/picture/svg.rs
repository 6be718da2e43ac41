//! The picture as a standalone SVG document.
//!
//! Drawn back to front: background, legend, tier bands, edges (light grey,
//! under the boxes), nodes. Each node is a `<g class="node">` with one
//! `<rect>` and two `<text>`s; each edge a `<path class="edge">` from the
//! dependent to the dependency, ending in an arrowhead.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::layout::{self, Layout, Rect};
use super::{Action, Grouped, PLAIN_FILL, PLAIN_STROKE, group, kind_line, xml_escape as esc};

const EDGE_COLOR: &str = "#b4bcc6";
const TEXT_COLOR: &str = "#1f2933";
const KIND_COLOR: &str = "#52606d";

/// A band's fill and border, a light tint per tier.
fn band_colors(tier: &str) -> (&'static str, &'static str) {
    match tier {
        "network" => ("#eef4fb", "#c5d5e8"),
        "cluster" => ("#eef7ef", "#c3dec6"),
        "database" => ("#fbf4ec", "#e6d2bc"),
        "identity" => ("#f5f0fa", "#d8cbe6"),
        "dns" => ("#ecf7f7", "#bfdede"),
        "kms" => ("#fbf8e9", "#e4dcb0"),
        _ => ("#f3f4f6", "#d3d7dc"),
    }
}

/// The SVG picture: bands per tier, nodes layered by dependency depth.
pub fn svg(p: &crate::picture::Picture) -> String {
    let g = group(p);
    let l = layout::layout(&g);
    let mut out = String::new();
    let (w, h) = (l.width, l.height);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="monospace">"#
    );
    let _ = writeln!(
        out,
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" fill="{EDGE_COLOR}"/></marker></defs>"#
    );
    let _ = writeln!(
        out,
        r##"<rect class="background" x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##
    );
    if g.nodes.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="{}" fill="{KIND_COLOR}">{}</text>"#,
            layout::MARGIN,
            layout::MARGIN + 26,
            layout::TITLE_FONT,
            layout::EMPTY_TEXT
        );
    }
    legend(&mut out, &l);
    bands(&mut out, &g, &l);
    edges(&mut out, &g, &l);
    nodes(&mut out, &g, &l);
    out.push_str("</svg>\n");
    out
}

fn legend(out: &mut String, l: &Layout) {
    let Some((top, items)) = &l.legend else {
        return;
    };
    out.push_str("<g class=\"legend\">\n");
    for item in items {
        let a = item.action;
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="{s}" height="{s}" rx="3" fill="{}" stroke="{}"{}/><text x="{}" y="{}" font-size="{}" fill="{TEXT_COLOR}">{}</text>"#,
            item.x,
            top + 5,
            a.fill(),
            a.stroke(),
            dash(a),
            item.x + layout::LEGEND_SWATCH + 6,
            top + 17,
            layout::LEGEND_FONT,
            esc(&item.text),
            s = layout::LEGEND_SWATCH,
        );
    }
    out.push_str("</g>\n");
}

fn dash(a: Action) -> &'static str {
    if a == Action::Delete {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    }
}

fn bands(out: &mut String, g: &Grouped, l: &Layout) {
    for band in &l.bands {
        let tier = g.tiers[band.tier].0;
        let (fill, stroke) = band_colors(tier);
        let r = band.rect;
        let _ = writeln!(
            out,
            r#"<g class="band" data-tier="{}"><rect x="{}" y="{}" width="{}" height="{}" rx="10" fill="{fill}" stroke="{stroke}"/><text x="{}" y="{}" font-size="{}" font-weight="bold" fill="{TEXT_COLOR}">{}</text></g>"#,
            esc(tier),
            r.x,
            r.y,
            r.w,
            r.h,
            r.x + layout::BAND_PAD,
            r.y + 22,
            layout::TITLE_FONT,
            esc(&band.title)
        );
    }
}

/// Which side of a box an edge leaves or enters by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    Top,
    Bottom,
}

/// One edge end on a box side: the x of the edge's other end (the sort key),
/// the edge's index, and which end (0 dependent, 1 dependency).
type Port = (i64, usize, usize);

/// Where each edge meets its two boxes: up to a box above by its top, down
/// to a box below by its bottom, and between boxes side by side over the
/// tops. The ends on one side of a box are spread over most of its width, ordered by
/// where the other end is, so edges to a popular node do not all meet in one
/// point and cross less.
fn edges(out: &mut String, g: &Grouped, l: &Layout) {
    let sides: Vec<(Side, Side)> = g
        .edges
        .iter()
        .map(|&(a, b)| {
            let (ra, rb) = (l.boxes[a], l.boxes[b]);
            if rb.bottom() <= ra.y {
                (Side::Top, Side::Bottom)
            } else if rb.y >= ra.bottom() {
                (Side::Bottom, Side::Top)
            } else {
                (Side::Top, Side::Top)
            }
        })
        .collect();
    // Per (node, side): (x of the other end, edge index, which end).
    let mut ports: BTreeMap<(usize, Side), Vec<Port>> = BTreeMap::new();
    for (e, (&(a, b), &(sa, sb))) in g.edges.iter().zip(&sides).enumerate() {
        ports
            .entry((a, sa))
            .or_default()
            .push((l.boxes[b].cx(), e, 0));
        ports
            .entry((b, sb))
            .or_default()
            .push((l.boxes[a].cx(), e, 1));
    }
    let mut ends = vec![[0i64; 2]; g.edges.len()];
    for ((node, _), mut list) in ports {
        list.sort();
        let r = l.boxes[node];
        let span = r.w * 4 / 5;
        let m = list.len() as i64;
        for (k, (_, e, end)) in list.into_iter().enumerate() {
            ends[e][end] = r.x + (r.w - span) / 2 + span * (k as i64 + 1) / (m + 1);
        }
    }
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    for (e, &(a, b)) in g.edges.iter().enumerate() {
        let (ra, rb) = (l.boxes[a], l.boxes[b]);
        let [x1, x2] = ends[e];
        let d = match sides[e] {
            (Side::Top, Side::Bottom) => s_curve(x1, ra.y, x2, rb.bottom()),
            (Side::Bottom, Side::Top) => s_curve(x1, ra.bottom(), x2, rb.y),
            _ => {
                let top = ra.y.min(rb.y) - 24;
                format!("M{x1} {} C{x1} {top} {x2} {top} {x2} {}", ra.y, rb.y)
            }
        };
        let _ = writeln!(
            out,
            r#"<path class="edge" data-from="{}" data-to="{}" d="{d}" stroke="{EDGE_COLOR}" stroke-width="1" marker-end="url(#arrow)"/>"#,
            esc(&g.nodes[a].address),
            esc(&g.nodes[b].address)
        );
    }
    out.push_str("</g>\n");
}

/// A vertical S from (x1, y1) to (x2, y2), leaving and arriving vertically.
fn s_curve(x1: i64, y1: i64, x2: i64, y2: i64) -> String {
    let bend = ((y2 - y1).abs() / 2).max(12) * (y2 - y1).signum();
    format!(
        "M{x1} {y1} C{x1} {} {x2} {} {x2} {y2}",
        y1 + bend,
        y2 - bend
    )
}

fn nodes(out: &mut String, g: &Grouped, l: &Layout) {
    out.push_str("<g class=\"nodes\">\n");
    for (i, n) in g.nodes.iter().enumerate() {
        let Rect { x, y, w, h } = l.boxes[i];
        let (fill, stroke, extra) = match n.action {
            Some(a) => (a.fill(), a.stroke(), dash(a)),
            None => (PLAIN_FILL, PLAIN_STROKE, ""),
        };
        let action = n
            .action
            .map(|a| format!(r#" data-action="{}""#, a.class()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            r#"<g class="node" data-address="{}" data-kind="{}"{action}><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="5" fill="{fill}" stroke="{stroke}"{extra}/><text x="{tx}" y="{}" font-size="{}" fill="{TEXT_COLOR}">{}</text><text x="{tx}" y="{}" font-size="{}" fill="{KIND_COLOR}">{}</text></g>"#,
            esc(&n.address),
            esc(&n.kind),
            y + layout::ADDRESS_BASELINE,
            layout::ADDRESS_FONT,
            esc(&n.address),
            y + layout::KIND_BASELINE,
            layout::KIND_FONT,
            esc(&kind_line(n)),
            tx = x + layout::NODE_PAD,
        );
    }
    out.push_str("</g>\n");
}

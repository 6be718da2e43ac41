//! Where everything goes in the SVG.
//!
//! The picture is a stack of bands, one per tier, all as wide as the widest.
//! Inside a band, nodes are layered by their dependency depth within the band
//! (a node with no dependency in its band is in layer 0, otherwise one below
//! its deepest in-band dependency), so in-band edges point up. A layer is one
//! row, or several rows of about equal width when it would be wider than the
//! picture's bound. Within a layer, nodes are ordered by the mean x of their
//! neighbours placed already (bands and layers are placed top-down), then by
//! kind and address, which keeps a node near what it depends on. Rows are
//! centred in the band.
//!
//! Coordinates are whole pixels. Text width is estimated for a monospace font
//! at [`CHAR_EM`] of the font size per character, a little above the 0.6 of
//! common monospace fonts, and every box is sized from that estimate.

use super::{Action, Grouped, kind_line, tier_title};

/// Width of one monospace character, as a fraction of the font size.
pub(super) const CHAR_EM: f64 = 0.62;
pub(super) const ADDRESS_FONT: i64 = 12;
pub(super) const KIND_FONT: i64 = 10;
pub(super) const TITLE_FONT: i64 = 14;
pub(super) const LEGEND_FONT: i64 = 12;

/// The width the picture keeps within, unless one box alone is wider.
pub(super) const MAX_WIDTH: i64 = 2400;
pub(super) const MARGIN: i64 = 20;
pub(super) const BAND_PAD: i64 = 16;
/// From a band's top to its first row (the title sits in it).
const BAND_TITLE_H: i64 = 34;
const BAND_GAP: i64 = 20;
pub(super) const NODE_H: i64 = 42;
/// Left and right padding of text in a node box.
pub(super) const NODE_PAD: i64 = 10;
/// Baselines of the address and kind lines, from a box's top.
pub(super) const ADDRESS_BASELINE: i64 = 18;
pub(super) const KIND_BASELINE: i64 = 33;
const H_GAP: i64 = 20;
/// Between the rows of one wrapped layer.
const ROW_GAP: i64 = 16;
/// Between layers, where most edges run.
const LAYER_GAP: i64 = 44;
const LEGEND_H: i64 = 24;
pub(super) const LEGEND_SWATCH: i64 = 14;
const LEGEND_ITEM_GAP: i64 = 24;
pub(super) const EMPTY_TEXT: &str = "(no resources)";

/// The estimated width of `text` at `font` px in a monospace font.
pub(super) fn text_width(text: &str, font: i64) -> i64 {
    (text.chars().count() as f64 * font as f64 * CHAR_EM).ceil() as i64
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

impl Rect {
    pub fn cx(&self) -> i64 {
        self.x + self.w / 2
    }
    pub fn bottom(&self) -> i64 {
        self.y + self.h
    }
}

pub(super) struct Band {
    /// Index into [`Grouped::tiers`].
    pub tier: usize,
    pub title: String,
    pub rect: Rect,
}

pub(super) struct LegendItem {
    pub action: Action,
    pub text: String,
    /// The swatch's left edge; the text starts after it.
    pub x: i64,
}

pub(super) struct Layout {
    pub width: i64,
    pub height: i64,
    pub bands: Vec<Band>,
    /// One per node of [`Grouped::nodes`].
    pub boxes: Vec<Rect>,
    /// The legend's top and items, for a planned picture.
    pub legend: Option<(i64, Vec<LegendItem>)>,
}

fn box_width(g: &Grouped, i: usize) -> i64 {
    let n = g.nodes[i];
    text_width(&n.address, ADDRESS_FONT).max(text_width(&kind_line(n), KIND_FONT)) + 2 * NODE_PAD
}

/// Longest path to an in-band dependency, per node of the band; edges that
/// close a cycle are ignored.
fn depths(band: &std::ops::Range<usize>, deps: &[Vec<usize>]) -> Vec<usize> {
    fn visit(
        i: usize,
        band: &std::ops::Range<usize>,
        deps: &[Vec<usize>],
        depth: &mut [Option<usize>],
        open: &mut [bool],
    ) -> usize {
        if let Some(d) = depth[i - band.start] {
            return d;
        }
        open[i - band.start] = true;
        let mut d = 0;
        for &j in &deps[i] {
            if band.contains(&j) && !open[j - band.start] {
                d = d.max(visit(j, band, deps, depth, open) + 1);
            }
        }
        open[i - band.start] = false;
        depth[i - band.start] = Some(d);
        d
    }
    let mut depth = vec![None; band.len()];
    let mut open = vec![false; band.len()];
    band.clone()
        .map(|i| visit(i, band, deps, &mut depth, &mut open))
        .collect()
}

/// Splits `items` (widths, in order) into contiguous rows no wider than
/// `limit` (a lone item may be wider).
fn pack(widths: &[i64], limit: i64) -> Vec<std::ops::Range<usize>> {
    let mut rows: Vec<std::ops::Range<usize>> = Vec::new();
    let mut used = 0;
    for (i, w) in widths.iter().enumerate() {
        match rows.last_mut() {
            Some(row) if used + H_GAP + w <= limit => {
                row.end = i + 1;
                used += H_GAP + w;
            }
            _ => {
                rows.push(i..i + 1);
                used = *w;
            }
        }
    }
    rows
}

fn row_width(widths: &[i64]) -> i64 {
    widths.iter().sum::<i64>() + H_GAP * (widths.len() as i64 - 1).max(0)
}

/// Rows for one layer: as few as fit within `limit`, evened out so the last
/// one is not a straggler.
fn rows_for(widths: &[i64], limit: i64) -> Vec<std::ops::Range<usize>> {
    let widest = widths.iter().copied().max().unwrap_or(0);
    let limit = limit.max(widest);
    let greedy = pack(widths, limit);
    if greedy.len() <= 1 {
        return greedy;
    }
    let mut even = widest.max(row_width(widths) / greedy.len() as i64);
    loop {
        let rows = pack(widths, even);
        if rows.len() <= greedy.len() {
            return rows;
        }
        even += 8;
    }
}

fn legend_items(g: &Grouped) -> Vec<LegendItem> {
    let mut x = MARGIN;
    let mut items = Vec::new();
    for (action, count) in super::action_counts(g) {
        let text = format!("{} {} ({count})", action.sign(), action.label());
        let w = LEGEND_SWATCH + 6 + text_width(&text, LEGEND_FONT);
        items.push(LegendItem { action, text, x });
        x += w + LEGEND_ITEM_GAP;
    }
    items
}

pub(super) fn layout(g: &Grouped) -> Layout {
    let n = g.nodes.len();
    let mut deps = vec![Vec::new(); n];
    let mut neighbours = vec![Vec::new(); n];
    for &(a, b) in &g.edges {
        deps[a].push(b);
        neighbours[a].push(b);
        neighbours[b].push(a);
    }
    let widths: Vec<i64> = (0..n).map(|i| box_width(g, i)).collect();
    let max_inner = MAX_WIDTH - 2 * MARGIN - 2 * BAND_PAD;

    // Layers per band, as node indices.
    let layers: Vec<Vec<Vec<usize>>> = g
        .tiers
        .iter()
        .map(|(_, range)| {
            let depth = depths(range, &deps);
            let mut layers = vec![Vec::new(); depth.iter().max().map_or(0, |d| d + 1)];
            for (k, d) in depth.iter().enumerate() {
                layers[*d].push(range.start + k);
            }
            layers
        })
        .collect();
    let titles: Vec<String> = g
        .tiers
        .iter()
        .map(|(tier, range)| format!("{} ({})", tier_title(tier), range.len()))
        .collect();
    let legend = g.planned.then(|| legend_items(g));

    // The bands' inner width: the widest layer or title, capped at the bound
    // unless one box alone is wider. Known before ordering, so rows can be
    // centred as they are placed.
    let mut inner = text_width(EMPTY_TEXT, TITLE_FONT);
    for (band, title) in layers.iter().zip(&titles) {
        inner = inner.max(text_width(title, TITLE_FONT));
        for layer in band {
            let w: Vec<i64> = layer.iter().map(|&i| widths[i]).collect();
            let widest = w.iter().copied().max().unwrap_or(0);
            inner = inner.max(row_width(&w).min(max_inner.max(widest)));
        }
    }
    if let Some(items) = &legend {
        let last = items.last().expect("five actions");
        let right = last.x + LEGEND_SWATCH + 6 + text_width(&last.text, LEGEND_FONT);
        inner = inner.max(right - MARGIN - 2 * BAND_PAD);
    }

    let mut boxes: Vec<Option<Rect>> = vec![None; n];
    let mut bands = Vec::new();
    let mut y = MARGIN;
    let legend = legend.map(|items| {
        let top = y;
        y += LEGEND_H + BAND_GAP;
        (top, items)
    });
    let left = MARGIN + BAND_PAD;
    for (t, band_layers) in layers.iter().enumerate() {
        let top = y;
        y += BAND_TITLE_H;
        for (l, layer) in band_layers.iter().enumerate() {
            if l > 0 {
                y += LAYER_GAP - ROW_GAP;
            }
            let key = |i: usize| -> Option<f64> {
                let xs: Vec<i64> = neighbours[i]
                    .iter()
                    .filter_map(|&j| boxes[j].map(|b| b.cx()))
                    .collect();
                (!xs.is_empty()).then(|| xs.iter().sum::<i64>() as f64 / xs.len() as f64)
            };
            let mut order: Vec<(Option<f64>, usize)> = layer.iter().map(|&i| (key(i), i)).collect();
            order.sort_by(|(ka, a), (kb, b)| {
                let by_key = match (ka, kb) {
                    (Some(x), Some(y)) => x.total_cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                };
                by_key.then_with(|| {
                    (&g.nodes[*a].kind, &g.nodes[*a].address)
                        .cmp(&(&g.nodes[*b].kind, &g.nodes[*b].address))
                })
            });
            let order: Vec<usize> = order.into_iter().map(|(_, i)| i).collect();
            let w: Vec<i64> = order.iter().map(|&i| widths[i]).collect();
            for row in rows_for(&w, max_inner) {
                let mut x = left + (inner - row_width(&w[row.clone()])) / 2;
                for k in row {
                    boxes[order[k]] = Some(Rect {
                        x,
                        y,
                        w: w[k],
                        h: NODE_H,
                    });
                    x += w[k] + H_GAP;
                }
                y += NODE_H + ROW_GAP;
            }
        }
        y += BAND_PAD - ROW_GAP;
        bands.push(Band {
            tier: t,
            title: titles[t].clone(),
            rect: Rect {
                x: MARGIN,
                y: top,
                w: inner + 2 * BAND_PAD,
                h: y - top,
            },
        });
        y += BAND_GAP;
    }
    let height = if bands.is_empty() && legend.is_none() {
        2 * MARGIN + NODE_H
    } else {
        y - BAND_GAP + MARGIN
    };
    Layout {
        width: inner + 2 * BAND_PAD + 2 * MARGIN,
        height,
        bands,
        boxes: boxes
            .into_iter()
            .map(|b| b.expect("every node is in a band"))
            .collect(),
        legend,
    }
}

//! Pictures where people would rather look than read: a blast radius as a graph, a score
//! trend as a chart. Graphs are written as DOT, laid out by `layout-rs` and rasterised by
//! `resvg` with the font shipped in `assets/fonts` (no external binary, no system font), so a
//! picture looks the same everywhere. Large graphs are cut, and say so.

use std::sync::{Arc, OnceLock};

use anyhow::{Context as _, Result, anyhow};
use resvg::{tiny_skia, usvg};

use crate::catalog::graph::Hop;
use crate::catalog::{Id, Snapshot};

/// DejaVu Sans (its licence is beside it).
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The most entities a graph shows besides its root; the rest are counted in its title.
pub const GRAPH_MAX_NODES: usize = 200;

/// The widest picture made, in pixels (a graph wider than this is scaled down).
const MAX_WIDTH: f32 = 2400.0;

/// The fonts pictures are drawn with: the shipped one, for every family.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        for set in [
            usvg::fontdb::Database::set_serif_family,
            usvg::fontdb::Database::set_sans_serif_family,
            usvg::fontdb::Database::set_monospace_family,
        ] {
            set(&mut db, "DejaVu Sans");
        }
        Arc::new(db)
    })
    .clone()
}

/// A DOT identifier, quoted.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The blast radius of `root` as DOT: each dependent with an edge to what it depends on
/// (along the path the walk found), the nearest first; cut at `GRAPH_MAX_NODES`, the cut said
/// in the label. Says whether it was cut.
pub fn blast_radius_dot(snap: &Snapshot, root: Id, hops: &[Hop], beyond: usize) -> (String, bool) {
    let name = |id: Id| snap.entity(id).name.to_string();
    let shown: Vec<&Hop> = hops.iter().take(GRAPH_MAX_NODES).collect();
    let cut = hops.len() > shown.len() || beyond > 0;
    let more = hops.len() - shown.len() + beyond;
    let mut dot = String::from("digraph blast_radius {\n");
    let title = if cut {
        format!(
            "What depends on {} ({} shown, {more} more not drawn)",
            name(root),
            shown.len()
        )
    } else {
        format!("What depends on {}", name(root))
    };
    dot.push_str(&format!("  label={};\n", quoted(&title)));
    dot.push_str(&format!(
        "  {} [shape=box, style=filled, fillcolor=\"#f4b6b6\"];\n",
        quoted(&name(root))
    ));
    let mut edges: Vec<(String, String)> = Vec::new();
    for h in &shown {
        dot.push_str(&format!("  {} [shape=box];\n", quoted(&name(h.id))));
        // The hop depends on the one before it on its path.
        if let [.., before, last] = h.path.as_slice() {
            let e = (name(*last), name(*before));
            if !edges.contains(&e) {
                edges.push(e);
            }
        }
    }
    for (from, to) in &edges {
        dot.push_str(&format!("  {} -> {};\n", quoted(from), quoted(to)));
    }
    if cut {
        dot.push_str(&format!(
            "  {} [shape=box, style=dashed];\n",
            quoted(&format!("… {more} more, not drawn"))
        ));
    }
    dot.push_str("}\n");
    (dot, cut)
}

/// DOT laid out and drawn as a PNG.
pub fn render_dot(dot: &str) -> Result<Vec<u8>> {
    let dot = dot.to_string();
    // layout-rs panics on some inputs: a picture that cannot be drawn is an error, not a crash.
    let svg = std::panic::catch_unwind(move || {
        let mut parser = layout::gv::DotParser::new(&dot);
        let graph = parser
            .process()
            .map_err(|e| anyhow!("the graph cannot be read: {e}"))?;
        let mut builder = layout::gv::GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut svg = layout::backends::svg::SVGWriter::new();
        visual.do_it(false, false, false, &mut svg);
        Ok::<_, anyhow::Error>(svg.finalize())
    })
    .map_err(|_| anyhow!("the graph could not be laid out"))??;
    svg_png(&svg)
}

/// An SVG drawn as a PNG with the shipped font.
pub fn svg_png(svg: &str) -> Result<Vec<u8>> {
    let options = usvg::Options {
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).context("the picture's SVG cannot be read")?;
    let size = tree.size();
    let scale = (MAX_WIDTH / size.width()).min(1.0);
    let (w, h) = (
        (size.width() * scale).ceil().max(1.0) as u32,
        (size.height() * scale).ceil().max(1.0) as u32,
    );
    let mut pixmap = tiny_skia::Pixmap::new(w, h).context("the picture is too large")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().context("encoding the picture")
}

/// A chart of weekly scores (0–100), one line per series, as a PNG.
pub fn trend_png(title: &str, series: &[(String, Vec<(String, u32)>)]) -> Result<Vec<u8>> {
    const W: f32 = 640.0;
    const H: f32 = 320.0;
    const LEFT: f32 = 48.0;
    const RIGHT: f32 = 160.0;
    const TOP: f32 = 40.0;
    const BOTTOM: f32 = 40.0;
    const COLOURS: [&str; 6] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
    ];
    let mut weeks: Vec<&str> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(w, _)| w.as_str()))
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    let x = |week: &str| {
        let i = weeks.iter().position(|w| *w == week).unwrap_or(0) as f32;
        let span = (weeks.len().max(2) - 1) as f32;
        LEFT + i * (W - LEFT - RIGHT) / span
    };
    let y = |score: u32| TOP + (100.0 - score.min(100) as f32) * (H - TOP - BOTTOM) / 100.0;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         font-family=\"sans-serif\" font-size=\"12\">\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"15\">{}</text>",
        esc(title)
    );
    for score in [0, 50, 100] {
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>\
             <text x=\"8\" y=\"{}\">{score}%</text>",
            W - RIGHT,
            y(score) + 4.0,
            y = y(score)
        ));
    }
    for w in &weeks {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(w),
            H - 16.0,
            esc(w.rsplit('-').next().unwrap_or(w))
        ));
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(w, s)| format!("{:.1},{:.1}", x(w), y(*s)))
            .collect();
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\" points=\"{}\"/>",
            path.join(" ")
        ));
        for (w, s) in points {
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"/>",
                x(w),
                y(*s)
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            W - RIGHT + 12.0,
            TOP + 18.0 * i as f32,
            esc(name)
        ));
    }
    svg.push_str("</svg>");
    svg_png(&svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_png(bytes: &[u8]) -> bool {
        bytes.starts_with(b"\x89PNG\r\n\x1a\n")
    }

    #[test]
    fn dot_renders_to_a_png_with_text_and_odd_input_is_an_error_not_a_crash() {
        let png = render_dot("digraph { \"a b\" -> c; c -> d; }").unwrap();
        assert!(is_png(&png));
        assert!(render_dot("digraph { a -> ").is_err());
        let chart = trend_png(
            "Basics",
            &[(
                "basics".into(),
                vec![("2026-W48".into(), 40), ("2026-W49".into(), 70)],
            )],
        )
        .unwrap();
        assert!(is_png(&chart));
        // Text is drawn with the shipped font: the same chart with and without a title differs.
        let untitled = trend_png(
            "",
            &[(
                "basics".into(),
                vec![("2026-W48".into(), 40), ("2026-W49".into(), 70)],
            )],
        )
        .unwrap();
        assert_ne!(chart, untitled, "the title was not drawn");
    }
}
